"""Type stub of wsfast._aiohttp_c, the Cython build of wsfast/_aiohttp_py.py.

Same source, same API: the names are re-exported from the source module.
"""

from wsfast._aiohttp_py import WebSocketReader as WebSocketReader
from wsfast._aiohttp_py import bind as bind
from wsfast._aiohttp_py import write_websocket_frame as write_websocket_frame

__all__ = ["WebSocketReader", "bind", "write_websocket_frame"]
