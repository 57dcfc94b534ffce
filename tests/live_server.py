"""Moved to tests/helpers/live_server.py: this alias keeps branches written before the move working.

Delete it once every branch imports tests.helpers.live_server.
"""

from tests.helpers.live_server import *  # noqa: F401,F403
from tests.helpers.live_server import ROOT, TEST_SECRET, LiveServer, free_port  # noqa: F401
