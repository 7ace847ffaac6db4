# Augmenting declarations for wsfast/_aiohttp_py.py compiled as
# wsfast._aiohttp_c (as for the codec: docs/build.md). Every name declared
# here must exist in _aiohttp_py.py with the same meaning.

cimport cython
from libc.stdint cimport uint32_t, uint64_t

from wsfast._c cimport _frame_build, _frame_header, _frame_parse, _frame_unmask, _tuple3

cdef tuple _NO_ERROR
cdef object _fallback
cdef object _aiohttp_write_frame
cdef object _ClientConnectionResetError
cdef Py_ssize_t _MSG_SIZE
cdef object _WSMessage, _WSMessageTextBytes, _TEXT, _BINARY, _PING, _PONG


@cython.final
cdef class WebSocketReader:
    cdef readonly object queue
    cdef tuple _args
    cdef uint64_t _max_length
    cdef Py_ssize_t _limit
    cdef bint _decode_text
    cdef readonly object _inner
    cdef bytearray _buffer
    cdef Py_ssize_t _need
    cdef bint _fast
    cdef object __weakref__

    cdef tuple _hand_over(self, bytes data)

    @cython.locals(raw=bytes, n=uint64_t, size=int, first="unsigned int", length=uint64_t,
                   key=uint32_t, queued=Py_ssize_t, payload=bytes, text=str)
    cpdef tuple feed_data(self, object data)

    @cython.locals(raw=bytes, buffer=bytearray, limit=Py_ssize_t, pos=Py_ssize_t, n=Py_ssize_t,
                   end=Py_ssize_t, size=int, first="unsigned int", length=uint64_t, key=uint32_t,
                   room=uint64_t, opcode=int, queued=Py_ssize_t, payload=bytes,
                   text=str)
    cdef tuple _feed(self, object data)


@cython.locals(n=Py_ssize_t)
cpdef write_websocket_frame(object self, object message, object opcode, object rsv)
