"""``python -m conformance.changes``: the same as ``refund-contract``."""

import sys

from conformance.changes.cli import main

sys.exit(main())
