"""Benchmarks: each prints figures against a baseline measured in the same run; never asserted.

The figures are the output: keep the code under test quiet unless the caller asks otherwise.
"""

import os

os.environ.setdefault("LOG_LEVEL", "WARNING")
