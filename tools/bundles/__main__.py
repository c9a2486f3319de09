"""``python -m tools.bundles``: stage the deploy bundles (``make bundles``)."""

from tools.bundles.build import main

raise SystemExit(main())
