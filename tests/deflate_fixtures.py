"""The fixtures of the permessage-deflate tests, a plugin that test_deflate_*.py require.

Not imported by the tests themselves (pytest loads it through their
``pytest_plugins``), so that pytest can rewrite its asserts.
"""

from __future__ import annotations

import pytest
from deflate_util import ZLIBS, MiB, bomb


@pytest.fixture(params=ZLIBS)
def zlib_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    payload = bomb(2**30)
    assert len(payload) < 2 * MiB  # about 1000:1
    return payload
