"""Protocol constants shared by both backends and the tests (RFC 6455, RFC 7692)."""

from __future__ import annotations

import enum

__all__ = [
    "Opcode",
    "CloseCode",
    "MAX_CONTROL_PAYLOAD",
    "MAX_CLOSE_REASON",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "GIL_RELEASE_THRESHOLD",
    "WEBSOCKET_GUID",
    "is_valid_close_code",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2, §11.8)."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 §7.4.1, §11.7)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


# RFC 6455 §5.5: control frames carry at most 125 payload bytes; a close
# payload spends 2 of them on the status code (§5.5.1).
MAX_CONTROL_PAYLOAD = 125
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

DEFAULT_MAX_FRAME_SIZE = 16 * 2**20
DEFAULT_MAX_MESSAGE_SIZE = 16 * 2**20

# Kernels release the GIL for buffers at least this large: below it the
# release/acquire pair costs more than it lets other threads gain.
GIL_RELEASE_THRESHOLD = 64 * 1024

# RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire (RFC 6455 §7.4).

    1005, 1006 and 1015 are reserved for local use and 1004 is reserved
    without meaning; 1000-2999 beyond the defined codes are unassigned.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


# ---- Frame and message codec (RFC 6455 §5, §7) --------------------------------
# The codec's internals, shared by both backends (not in __all__).
# Results of the frame header parser: csrc/wsfast.h WSFAST_FRAME_* and its twin
# wsfast._py._frame_parse. Positive results are header sizes.
FRAME_NEED_MORE = 0
FRAME_E_RSV = -1
FRAME_E_OPCODE = -2
FRAME_E_CONTROL_FRAGMENTED = -3
FRAME_E_MASKED = -4
FRAME_E_UNMASKED = -5
FRAME_E_CONTROL_TOO_LONG = -6
FRAME_E_NOT_MINIMAL = -7
FRAME_E_LENGTH_TOP_BIT = -8
FRAME_E_TOO_BIG = -9

# Reserved opcodes (3-7, 11-15) as a bit set: bit n set means opcode n is reserved.
RESERVED_OPCODES = 0xF8F8

# The longest header: 2 bytes, a 64-bit extended length, a masking key.
MAX_FRAME_HEADER = 14

# Close code and reason of each header error, indexed by -status.
FRAME_ERRORS: tuple[tuple[int, str], ...] = (
    (0, ""),
    (1002, "reserved bit set without a negotiated extension"),
    (1002, "reserved opcode"),
    (1002, "fragmented control frame"),
    (1002, "masked frame from the server"),
    (1002, "unmasked frame from the client"),
    (1002, "control frame payload over 125 bytes"),
    (1002, "payload length not in its shortest encoding"),
    (1002, "64-bit payload length with its top bit set"),
    (1009, "frame too big"),
)

# Message-level errors (RFC 6455 §5.4, §5.5.1, §7.4, §8.1; RFC 7692 §6).
ERR_CONTINUATION = (1002, "continuation frame without a message to continue")
ERR_EXPECTED_CONTINUATION = (1002, "new data frame before the fragmented message ended")
ERR_CLOSE_ONE_BYTE = (1002, "close frame payload of 1 byte")
ERR_CLOSE_CODE = (1002, "invalid close code")
ERR_CLOSE_REASON = (1007, "invalid UTF-8 in close reason")
ERR_TEXT = (1007, "invalid UTF-8 in text message")
ERR_RSV1 = (1002, "RSV1 set on a control or continuation frame")
ERR_MESSAGE_TOO_BIG = (1009, "message too big")
# An allocation failed while buffering or inflating what the peer sent.
ERR_OUT_OF_MEMORY = (1009, "message too big for the memory available")

# UTF-8 validation states shared by both backends (csrc/wsfast.h).
UTF8_ACCEPT = 0
UTF8_REJECT = 1

# "No limit" for the header parser: a 64-bit length can never exceed it.
NO_LIMIT = 2**64 - 1
