"""``python -m mock_server``: the same as ``refund-mock``."""

import sys

from mock_server.entry import refund_mock

sys.exit(refund_mock())
