"""Evaluation harness for the Bouncer: personas, a runner and a judge (see evals/runner.py)."""
