"""``python -m tools.localstack``: start the local stack (``make run``)."""

import sys

from tools.localstack.runner import main

sys.exit(main())
