# Augmenting declarations for wsfast/_codec_py.py compiled as wsfast._codec_c
# (how the build works: docs/build.md). Every name declared here must
# exist in _codec_py.py with the same meaning.

cimport cython
from libc.stdint cimport uint32_t, uint64_t

from wsfast._c cimport (
    _frame_build, _frame_header, _frame_parse, _frame_unmask, _new_buffer, _new_payload, _Payload,
    _utf8_feed,
)

cdef int FIN, RSV1, RSV2, RSV3, OPCODE_MASK, CONTROL
cdef int OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG
cdef tuple OPCODES
cdef frozenset MESSAGE_OPCODES
cdef uint64_t MAX_BUFFER
# Imported from wsfast.constants; typed so the hot path compares C integers.
cdef uint32_t UTF8_ACCEPT, UTF8_REJECT
cdef uint64_t NO_LIMIT
cdef int FRAME_E_TOO_BIG
cdef Py_ssize_t MAX_FRAME_HEADER, MAX_CONTROL_PAYLOAD, MAX_CLOSE_REASON


@cython.final
@cython.freelist(256)
cdef class Frame:
    cdef readonly unsigned int _first
    cdef readonly bytes _payload


@cython.locals(frame=Frame)
cdef Frame _new_frame(unsigned int first, bytes payload)


@cython.final
@cython.freelist(256)
cdef class Message:
    cdef readonly object _opcode
    cdef readonly object _data


@cython.locals(message=Message)
cdef Message _new_message(object opcode, object data)


@cython.final
cdef class Close:
    cdef readonly object _code
    cdef readonly str _reason


cdef class _Reader:
    cdef bint _masked
    cdef uint64_t _max_length
    cdef unsigned int _allowed_rsv
    cdef bytes _tail
    cdef _Payload _partial
    cdef unsigned int _first
    cdef uint32_t _key
    cdef uint64_t _remaining
    cdef bint _closed
    cdef tuple _error
    cdef list _events
    cdef list _gate  # see _Reader.feed: one feed() at a time

    cdef void _init_reader(self, object role, uint64_t max_length, unsigned int allowed_rsv) except *
    cdef void _fail(self, int code, str reason) except *

    @cython.locals(end=Py_ssize_t, pos=Py_ssize_t, status=int, first="unsigned int",
                   length=uint64_t, available=uint64_t, key=uint32_t, header_size=Py_ssize_t, tail=bytes,
                   head=bytes, payload=bytes)
    cdef void _consume(self, bytes data) except *

    @cython.locals(payload=_Payload, n=uint64_t)
    cdef Py_ssize_t _fill_payload(self, bytes data, Py_ssize_t pos, Py_ssize_t end) except -1

    cdef void _drop(self) except *
    cdef void _on_first_byte(self, unsigned int first) except *
    cdef void _on_header(self, unsigned int first, uint64_t length) except *
    cdef void _on_chunk(self, _Payload payload) except *
    cdef void _on_frame(self, unsigned int first, bytes payload, bint whole) except *


cdef class FrameDecoder(_Reader):
    cdef void _on_frame(self, unsigned int first, bytes payload, bint whole) except *


cdef class Decoder(_Reader):
    cdef bint _decode_text
    cdef uint64_t _max_message
    cdef int _message_opcode
    cdef bint _compressed
    cdef uint64_t _message_size
    cdef uint32_t _utf8_state
    cdef _Payload _buffer
    cdef object _inflater

    @cython.locals(opcode=int)
    cdef void _on_first_byte(self, unsigned int first) except *
    @cython.locals(opcode=int)
    cdef void _on_header(self, unsigned int first, uint64_t length) except *
    cdef void _on_chunk(self, _Payload payload) except *
    @cython.locals(opcode=int)
    cdef void _on_frame(self, unsigned int first, bytes payload, bint whole) except *
    @cython.final
    @cython.locals(opcode=int, text=str)
    cdef void _whole(self, bytes payload, bint unchecked) except *
    @cython.locals(fin=bint, opcode=int, buffer=_Payload, size=uint64_t, limit=object,
                   output=bytes, data=bytes)
    cdef void _fragment(self, unsigned int first, bytes payload, bint whole) except *
    cdef void _drop(self) except *
    @cython.locals(n=Py_ssize_t, reason=str, close=Close)
    cdef void _close(self, bytes payload) except *


@cython.final
cdef class Encoder:
    cdef bint _mask
    cdef object _deflater

    # C-level calls from text()/binary()/ping()/pong()/close(): no Python
    # method call per message.
    cdef object _key(self)
    cdef bytes _control(self, int opcode, object data)
    @cython.locals(rsv=int, n=Py_ssize_t)
    cdef bytes _encode(self, int opcode, object payload, object fragment_size)
    @cython.locals(n=Py_ssize_t, first=int, parts=list)
    cdef list _parts(self, int opcode, object payload, object fragment_size)


cdef bytes _text_payload(object s)
cdef object _fragment_limit(object fragment_size)
