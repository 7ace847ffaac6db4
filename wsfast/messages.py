"""Messages (RFC 6455 §5.4-§5.6, §7): :class:`Message`, :class:`Close`,
:class:`Decoder`, :class:`Encoder`.

The classes come from the codec module of the backend in use
(:data:`wsfast.BACKEND`): ``wsfast._codec_c``, the compiled build of
``wsfast/_codec_py.py``, or that source itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._backend import BACKEND

if TYPE_CHECKING or BACKEND != "c":
    from ._codec_py import Close, Decoder, Encoder, Message
else:
    from ._codec_c import Close, Decoder, Encoder, Message

__all__ = ["Close", "Decoder", "Encoder", "Message"]
