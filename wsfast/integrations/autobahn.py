"""Patches for autobahn's WebSocket protocol (``autobahn.websocket.protocol``).

- ``create_xor_masker`` and ``XorMaskerNull``: the maskers that unmask every
  received frame and mask every sent one (``process``, ``pointer``, ``reset``).
- ``Utf8Validator``: the incremental validator of text messages and close
  reasons; ``validate(chunk)`` keeps autobahn's quad result. A failure is
  sticky, as in autobahn's pure-Python validator.
- ``WebSocketProtocol.processData``: a complete, unfragmented text or binary
  frame already in the receive buffer is parsed, unmasked and (text)
  validated in one pass each, the protocol's fields and traffic counters are
  set as autobahn's frame loop leaves them, and the message goes to
  ``_onMessage``. Everything else runs autobahn's own loop on the untouched
  buffer: a partial frame, a fragment, a control frame, any header autobahn
  refuses, a frame over a size limit, invalid UTF-8, permessage-deflate,
  ``logFrames``, ``trackTimings``, ``message`` listeners (``on("message")``),
  a connection that is not open or already failed, and a protocol whose
  frame or message hooks (``onFrameBegin`` ... ``onMessageEnd``,
  ``_onMessageBegin`` ..., ``fire``) are not autobahn's own, on its class or
  instance. With no ``message`` listener, autobahn's ``fire`` returns a
  finished future whose callback does nothing; that step is skipped. Two
  internals that autobahn resets before the next frame reads them are left
  alone: the previous frame's masker and the validator's running count
  (unless ``onMessage`` raises: then the protocol is left mid-frame, as
  autobahn's loop leaves it).
- ``WebSocketProtocol.sendMessage`` and ``sendFrame``: a frame is built by
  one wsfast call (header and payload, masked in the same pass when it must
  be, key from ``random.getrandbits`` as autobahn) and handed to
  ``sendData`` with the same counters. Compression, fragmentation, ``sync``,
  ``trackTimings``, ``logFrames``, a size limit exceeded, an explicit mask or
  ``payload_len`` and an overridden ``sendFrame`` run autobahn's own.
- ``WebSocketProtocol.sendData``: when the logger's ``debug`` is txaio's
  no-op (debug logging off), autobahn's write without first formatting the
  arguments of the debug line it would drop.

Only the names bound in ``autobahn.websocket.protocol`` are replaced (that is
where the protocol looks them up); ``autobahn.websocket.xormasker`` and
``utf8validator`` keep autobahn's own classes for code that imports them
directly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from .._adapters import NullMasker, PointerUtf8Validator, create_xor_masker
from .._backend import impl
from ..constants import MAX_FRAME_HEADER, NO_LIMIT
from . import Patch

__all__ = ["after_uninstall", "patches"]

_frame_parse = impl._frame_parse
_frame_unmask = impl._frame_unmask
_frame_build = impl._frame_build
_validate_utf8 = impl.validate_utf8

# Frame and message hooks of WebSocketProtocol that the receive fast path
# stands in for (it calls none of them): a class or instance that defines its
# own gets autobahn's frame loop.
_PROTOCOL_HOOKS = (
    "onFrameBegin", "onFrameData", "onFrameEnd", "onMessageBegin", "onMessageFrameBegin",
    "onMessageFrameData", "onMessageFrameEnd", "onMessageFrame", "onMessageEnd", "fire",
)
# The networking adapters' pass-throughs to them (asyncio's and Twisted's).
_ADAPTER_HOOKS = (
    "_onMessageBegin", "_onMessageFrameBegin", "_onMessageFrameData", "_onMessageFrameEnd",
    "_onMessageFrame", "_onMessageEnd",
)
_ADAPTERS = ("autobahn.asyncio.websocket", "autobahn.twisted.websocket")
_RECEIVE_HOOKS = set(_PROTOCOL_HOOKS + _ADAPTER_HOOKS)
_SEND_HOOKS = {"sendFrame"}

# Protocol class -> whether its hooks are autobahn's own (receive, send).
_classes: dict[type, tuple[bool, bool]] = {}
# txaio's no-op log methods seen so far (one per networking framework).
_no_ops: set[Any] = set()


def after_uninstall() -> None:
    """Forget what was learnt about protocol classes while installed."""
    _classes.clear()


def _is_no_op(method: Any) -> bool:
    """Whether ``method`` is txaio's stand-in for a disabled log level."""
    if method in _no_ops:
        return True
    if getattr(method, "__name__", None) == "_no_op" and getattr(
        method, "__module__", None
    ) in ("txaio.aio", "txaio.tx"):
        _no_ops.add(method)
        return True
    return False


def _patches(protocol: Any) -> Iterator[Patch]:
    ws = protocol.WebSocketProtocol
    own = {name: getattr(ws, name) for name in _PROTOCOL_HOOKS}
    original_process = vars(ws)["processData"]
    original_send_message = vars(ws)["sendMessage"]
    original_send_frame = vars(ws)["sendFrame"]
    original_send_data = vars(ws)["sendData"]
    state_open = ws.STATE_OPEN
    state_connecting = (ws.STATE_CONNECTING, ws.STATE_PROXY_CONNECTING)

    def own_hooks(cls: type) -> tuple[bool, bool]:
        known = _classes.get(cls)
        if known is None:
            receive = all(getattr(cls, name, None) is own[name] for name in _PROTOCOL_HOOKS)
            for name in _ADAPTER_HOOKS:
                hook = getattr(cls, name, None)
                receive = receive and (
                    getattr(hook, "__module__", None) in _ADAPTERS
                    and getattr(hook, "__qualname__", None) == "WebSocketAdapterProtocol." + name
                )
            known = _classes[cls] = (receive, getattr(cls, "sendFrame", None) is send_frame)
        return known

    def simple_frame(self: Any) -> tuple[bytes, int, int, int, bool, bytes, bool] | None:
        """The complete, unfragmented data frame at the start of the buffer
        that autobahn's loop would deliver as it is, or None. Only reads."""
        data = self.data
        if (
            self.current_frame is not None
            or self.state != state_open
            or type(data) is not bytes
            or len(data) < 2
            or self.inside_message
            or self.failedByMe
            or self._perMessageCompress is not None
            or self.logFrames
            or self.trackedTimings
            or self._listeners is not None
            or self.websocket_version == 0
            or not (_classes.get(type(self)) or own_hooks(type(self)))[0]
            or self.__dict__.keys() & _RECEIVE_HOOKS
        ):
            return None
        masked = data[1] >= 0x80  # the MASK bit
        if self.factory.isServer:
            if not masked and self.requireMaskedClientFrames:
                return None
        elif masked and not self.acceptMaskedServerFrames:
            return None
        if masked and not self.applyMask:
            return None
        # No RSV bit allowed, the frame's own MASK bit expected (checked above).
        size, first, length, key = _frame_parse(data, 0, MAX_FRAME_HEADER, 0, masked, NO_LIMIT)
        if (
            size <= 0
            or (first != 0x81 and first != 0x82)  # FIN, text or binary
            or len(data) < size + length
            or 0 < self.maxMessagePayloadSize < length
            or 0 < self.maxFramePayloadSize < length
        ):
            return None
        payload: bytes = _frame_unmask(data, size, length, key)
        validate = first == 0x81 and bool(self.utf8validateIncoming)
        if validate and not _validate_utf8(payload):
            return None
        return data, size, first, length, masked, payload, validate

    def process_data(self: Any) -> Any:
        try:
            frame = simple_frame(self)
        except (AttributeError, TypeError):  # a protocol not set up as autobahn's: its errors
            frame = None
        if frame is None:
            return original_process(self)
        data, size, first, length, masked, payload, validate = frame
        end = size + length
        # What onFrameBegin ... onMessageEnd leave behind for this frame.
        binary = first == 0x82
        self.data = data[end:]
        self._isMessageCompressed = False
        self.utf8validateIncomingCurrentMessage = validate
        if validate:
            self.utf8validateLast = (True, True, length, length)
        self.message_is_binary = binary
        self.message_data_total_length = length
        self.frame_length = length
        self.frame_data = None
        self.message_data = None
        stats = self.trafficStats
        stats.incomingOctetsWebSocketLevel += length
        stats.incomingOctetsAppLevel += length
        stats.incomingWebSocketFrames += 1
        if self.autoPingTimeoutCall and self.autoPingRestartOnAnyTraffic:
            self._cancelAutoPingTimeoutCall()
        stats.incomingWebSocketMessages += 1
        # onMessageEnd also fires the "message" event: with no listener that
        # is a finished future with a callback that does nothing.
        try:
            self._onMessage(payload, binary)
        except BaseException:
            # autobahn's loop is still inside the frame when onMessage raises.
            self.current_frame = protocol.FrameHeader(
                first & 0x0F, True, 0, length, data[size - 4 : size] if masked else None
            )
            masker = protocol.XorMaskerNull()  # only its pointer() is read from here on
            masker.process(payload)
            self.current_frame_masker = masker
            self.inside_message = True
            self.message_data = [payload]
            if validate:  # the validator has seen the message
                self.utf8validator.reset()
                self.utf8validator.validate(payload)
            raise
        return len(self.data) > 0

    def build(self: Any, first: int, payload: bytes) -> bytes | None:
        """The frame ``sendFrame`` would build (``mask=None``), or None to
        leave it to autobahn (a key to use while ``applyMask`` is off)."""
        if self.maskServerFrames if self.factory.isServer else self.maskClientFrames:
            if payload and not self.applyMask:
                return None
            key = protocol.random.getrandbits(32).to_bytes(4, "big")
            frame: bytes = _frame_build(first, payload, key)
        else:
            frame = _frame_build(first, payload, None)
        return frame

    def message_frame(self: Any, payload: Any, binary: Any, fragment_size: Any, sync: Any,
                      no_compress: Any) -> bytes | None:
        """The one frame ``sendMessage`` would send, or None. Only reads
        (and, for a masked frame, takes autobahn's key)."""
        if (
            type(payload) is not bytes
            or (binary is not True and binary is not False)
            or fragment_size is not None
            or sync is not False
            or (no_compress is not True and no_compress is not False)
            or self.state != state_open
            or self.trackedTimings
            or self._perMessageCompress is not None
            or self.logFrames
            or not (_classes.get(type(self)) or own_hooks(type(self)))[1]
            or self.__dict__.keys() & _SEND_HOOKS
        ):
            return None
        n = len(payload)
        limit = self.maxMessagePayloadSize
        fragment = self.autoFragmentSize
        if type(limit) is not int or 0 < limit < n or type(fragment) is not int or 0 < fragment < n:
            return None
        return build(self, 0x82 if binary else 0x81, payload)

    def send_message(
        self: Any,
        payload: Any,
        isBinary: Any = False,  # noqa: N803 (autobahn's names)
        fragmentSize: Any = None,  # noqa: N803
        sync: Any = False,
        doNotCompress: Any = False,  # noqa: N803
    ) -> Any:
        try:
            frame = message_frame(self, payload, isBinary, fragmentSize, sync, doNotCompress)
        except AttributeError:  # a protocol not set up as autobahn's: its errors
            frame = None
        if frame is None:
            return original_send_message(self, payload, isBinary, fragmentSize, sync,
                                         doNotCompress)
        n = len(payload)
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingOctetsAppLevel += n
        stats.outgoingOctetsWebSocketLevel += n
        stats.outgoingWebSocketFrames += 1
        self.sendData(frame, False, None)
        return None

    def send_frame(
        self: Any,
        opcode: Any,
        payload: Any = b"",
        fin: Any = True,
        rsv: Any = 0,
        mask: Any = None,
        payload_len: Any = None,
        chopsize: Any = None,
        sync: Any = False,
    ) -> Any:
        frame = None
        if (
            type(payload) is bytes
            and type(opcode) is int
            and type(rsv) is int
            and not mask
            and payload_len is None
        ):
            try:
                if not self.logFrames:
                    first = (0x80 if fin else 0) | (rsv % 8) << 4 | opcode % 128
                    frame = build(self, first, payload)
            except AttributeError:
                pass
        if frame is None:
            return original_send_frame(self, opcode, payload, fin, rsv, mask, payload_len,
                                       chopsize, sync)
        if opcode in (0, 1, 2):
            self.trafficStats.outgoingWebSocketFrames += 1
        self.sendData(frame, sync, chopsize)
        return None

    def send_data(self: Any, data: Any, sync: Any = False, chopsize: Any = None) -> Any:
        if chopsize or sync or self.send_queue or not _is_no_op(self.log.debug):
            return original_send_data(self, data, sync, chopsize)
        self.transport.write(data)
        state = self.state
        if state == state_open:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        elif state in state_connecting:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)
        if self.logOctets:
            self.logTxOctets(data, False)
        return None

    # Named as autobahn's (functools.wraps): its debug lines name the method
    # (``hltype(self.sendData)``) and read the same.
    for function, original in (
        (process_data, original_process),
        (send_message, original_send_message),
        (send_frame, original_send_frame),
        (send_data, original_send_data),
    ):
        functools.update_wrapper(function, original)
    yield (ws, "processData", process_data)
    yield (ws, "sendMessage", send_message)
    yield (ws, "sendFrame", send_frame)
    yield (ws, "sendData", send_data)


def patches() -> Iterator[Patch]:
    """What ``install("autobahn")`` replaces."""
    from autobahn.websocket import protocol

    yield (protocol, "create_xor_masker", create_xor_masker)
    yield (protocol, "XorMaskerNull", NullMasker)
    yield (protocol, "Utf8Validator", PointerUtf8Validator)
    _classes.clear()
    yield from _patches(protocol)
