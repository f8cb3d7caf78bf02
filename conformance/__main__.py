"""``python -m conformance``: the same as ``refund-conformance``."""

import sys

from mock_server.entry import refund_conformance

sys.exit(refund_conformance())
