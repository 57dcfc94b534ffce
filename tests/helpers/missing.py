"""What a test does when a program it needs (FerretDB, Redis, nginx, Chromium, node) is missing:
skip with the reason on a developer's machine; fail in CI (`CI` set), which must run them all."""

import os

import pytest


def skip_unless_ci(reason):
    """Skip the test for `reason`, or fail it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but: {reason}", pytrace=False)
    pytest.skip(reason)
