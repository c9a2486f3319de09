"""Deploy bundles: ``python -m tools.bundles`` (``make bundles``) stages ``build/<function>/``."""
