"""Type stub of wsfast._codec_c, the Cython build of wsfast/_codec_py.py.

Same source, same API: the names are re-exported from the source module, so
this stub cannot drift from it (tests/test_typing.py checks the list).
"""

from wsfast._codec_py import Close as Close
from wsfast._codec_py import Decoder as Decoder
from wsfast._codec_py import Encoder as Encoder
from wsfast._codec_py import Frame as Frame
from wsfast._codec_py import FrameDecoder as FrameDecoder
from wsfast._codec_py import Message as Message
from wsfast._codec_py import encode_frame as encode_frame

__all__ = ["Close", "Decoder", "Encoder", "Frame", "FrameDecoder", "Message", "encode_frame"]
