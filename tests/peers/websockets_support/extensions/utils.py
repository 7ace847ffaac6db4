"""Stand-in for websockets' ``tests/extensions/utils.py`` (not in its sdist).

Only what the shipped ``test_protocol.py`` uses: an extension that claims RSV2.
"""

import dataclasses

from websockets.extensions.base import Extension


class Rsv2Extension(Extension):
    """Sets RSV2 on every frame sent and clears it on every frame received."""

    name = "x-rsv2"

    def decode(self, frame, *, max_size=None):
        assert frame.rsv2
        return dataclasses.replace(frame, rsv2=False)

    def encode(self, frame):
        assert not frame.rsv2
        return dataclasses.replace(frame, rsv2=True)

    def __eq__(self, other):
        return isinstance(other, Rsv2Extension)
