"""Messages (RFC 6455 §5.4-§5.6, §7): :class:`Message`, :class:`Close`,
:class:`Decoder`, :class:`Encoder`.

The classes come from the codec of the backend in use (:mod:`wsfast._backend`).
"""

from __future__ import annotations

from ._backend import codec

Close = codec.Close
Decoder = codec.Decoder
Encoder = codec.Encoder
Message = codec.Message

__all__ = ["Close", "Decoder", "Encoder", "Message"]
