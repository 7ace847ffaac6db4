"""Source mutants for tests/mutation/run.py: each must make its tests fail.

A mutant replaces one snippet (which must occur exactly once in its file) with
a wrong version of it. ``tests`` are the pytest arguments that must catch it,
kept small so the run is quick: the tests stop at the first failure (-x).
Python mutants run against the pure-Python backend (nothing to rebuild);
``backend="c"`` mutants are in csrc/ and are rebuilt, then run against every
compiled kernel.

When a snippet stops matching after a change to the code, the run fails and
names the mutant: update the snippet, keep the idea.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]
    backend: str = "python"  # "python": pure backend; "c": rebuild, compiled backend
    id: str = field(default="", compare=False)


FRAMES = ("tests/test_frames.py",)
# Without the tests that declare 4 GiB payloads with no limit: slow and
# memory-hungry on the pure backend, and no mutant here is about them.
MESSAGES = ("tests/test_messages.py", "-k", "not without_a_limit and not allocates")
UTF8 = ("tests/test_utf8.py",)
MASK = ("tests/test_mask.py",)
DEFLATE = ("tests/test_deflate_codec.py", "tests/test_deflate_negotiation.py",
           "tests/test_deflate_interop.py", "-k", "codec or autobahn or negotiat or accept or offer")
# The compiled cases of one kernel only: what the C mutant changes.
C_FRAMES = ("tests/test_frames.py", "-k", "scalar and (header_rules or non_minimal or top_bit)")
C_MASK = ("tests/test_mask.py", "-k", "scalar")

MUTANTS = [
    # ---- frame header parser (wsfast/_py.py) ------------------------------------------
    Mutant("wsfast/_py.py",
           "    if (first >> 4) & 0x7 & ~allowed_rsv:",
           "    if (first >> 4) & 0x3 & ~allowed_rsv:",
           "RSV rule removed for RSV1", FRAMES),
    Mutant("wsfast/_py.py",
           "    if (RESERVED_OPCODES >> opcode) & 1:",
           "    if (RESERVED_OPCODES >> opcode) & 1 and opcode < 8:",
           "reserved control opcodes (11-15) accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "    if control and not first & 0x80:",
           "    if control and not first & 0x80 and opcode != 9:",
           "fragmented ping accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "    if is_masked != bool(masked):",
           "    if is_masked and not masked:",
           "masking rule: a server accepts unmasked frames", FRAMES),
    Mutant("wsfast/_py.py",
           "        return (FRAME_E_MASKED if is_masked else FRAME_E_UNMASKED, 0, 0, 0)",
           "        return (FRAME_E_UNMASKED if is_masked else FRAME_E_MASKED, 0, 0, 0)",
           "masked/unmasked errors swapped", FRAMES),
    Mutant("wsfast/_py.py",
           "    if control and length > MAX_CONTROL_PAYLOAD:",
           "    if control and length > MAX_CONTROL_PAYLOAD + 1:",
           "off by one: a 126-byte control frame accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "        if length < 126:\n            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)",
           "        if length < 125:\n            return (FRAME_E_NOT_MINIMAL, 0, 0, 0)",
           "off by one: 125 in the 16-bit form accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "        if length <= 0xFFFF:",
           "        if length < 0xFFFF:",
           "off by one: 65535 in the 64-bit form accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "        if length >> 63:",
           "        if length >> 64:",
           "64-bit length with the top bit set accepted", FRAMES),
    Mutant("wsfast/_py.py",
           "    if length > max_length:",
           "    if length > max_length + 1:",
           "off by one in the frame size limit", FRAMES),
    Mutant("wsfast/_py.py",
           "    if length > max_length:",
           "    if False:",
           "frame size limit check dropped", FRAMES),
    Mutant("wsfast/_py.py",
           '        key = int.from_bytes(data[pos + size : pos + size + 4], "little")',
           '        key = int.from_bytes(data[pos + size : pos + size + 4], "big")',
           "masking key read in the wrong byte order", FRAMES),
    Mutant("wsfast/_py.py",
           "    if pos < 0 or n < 0 or n > len(data) - pos:",
           "    if pos < 0 or n < 0 or n > len(data) - pos + 1:",
           "off by one in the payload range check", FRAMES),
    # ---- frame header writer ------------------------------------------------------------
    Mutant("wsfast/_py.py",
           "    mask_bit = 0 if key is None else 0x80\n    if length < 126:",
           "    mask_bit = 0 if key is None else 0x80\n    if length <= 126:",
           "off by one: a 126-byte payload written in the 7-bit form", FRAMES + MESSAGES),
    Mutant("wsfast/_py.py",
           "    elif length <= 0xFFFF:\n        header = _HEADER16",
           "    elif length < 0xFFFF:\n        header = _HEADER16",
           "off by one: 65535 written in the 64-bit form", FRAMES),
    Mutant("wsfast/_py.py",
           "    mask_bit = 0 if key is None else 0x80\n",
           "    mask_bit = 0x80 if key is None else 0\n",
           "mask bit flipped in the header writer", FRAMES),
    # ---- masking -------------------------------------------------------------------------
    Mutant("wsfast/_py.py",
           "    return key[offset:] + key[:offset]",
           "    return key[:offset] + key[offset:]",
           "wrong key phase (the key is never rotated)", MASK),
    Mutant("wsfast/_py.py",
           "    phase = operator.index(offset) % 4",
           "    phase = operator.index(offset) % 2",
           "wrong key phase in mask_inplace for offsets 2 and 3", MASK),
    Mutant("wsfast/_py.py",
           "        return (phase + len(buffer)) % 4",
           "        return len(buffer) % 4",
           "mask_inplace returns the wrong next offset (long buffers)", MASK),
    Mutant("wsfast/_py.py",
           "        self._offset = (self._offset + len(view)) % 4",
           "        self._offset = len(view) % 4",
           "Masker does not carry the key phase across calls", MASK),
    # ---- UTF-8 ---------------------------------------------------------------------------
    Mutant("wsfast/_py.py",
           "    rules[0xED] = (2, 0x80, 0x9F)",
           "    rules[0xED] = (2, 0x80, 0xBF)",
           "surrogates accepted by the incremental validator", UTF8),
    Mutant("wsfast/_py.py",
           "    rules[0xF4] = (3, 0x80, 0x8F)",
           "    rules[0xF4] = (3, 0x80, 0x90)",
           "off by one: code points from U+110000 accepted incrementally", UTF8),
    Mutant("wsfast/_py.py",
           "    rules[0xE0] = (2, 0xA0, 0xBF)",
           "    rules[0xE0] = (2, 0x9F, 0xBF)",
           "overlong 3-byte form accepted incrementally", UTF8),
    Mutant("wsfast/_py.py",
           "        if self._error is None and not self._pending:",
           "        if self._error is None:",
           "UTF-8 state not carried across feeds (Utf8Validator)", UTF8),
    Mutant("wsfast/_py.py",
           "        if state:\n            validator._pending",
           "        if False:\n            validator._pending",
           "UTF-8 state not carried across frames and feeds (codec)", MESSAGES),
    # ---- messages (wsfast/_codec_py.py) ----------------------------------------------
    Mutant("wsfast/_codec_py.py",
           "        self._mask = not _is_server(role)",
           "        self._mask = _is_server(role)",
           "masking rule flipped in the Encoder", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        if not self._compressed and length > self._max_message - self._message_size:",
           "        if not self._compressed and length > self._max_message:",
           "message limit not counted across fragments", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        max_frame = max(max_message, MAX_CONTROL_PAYLOAD)",
           "        max_frame = max_message",
           "control frames counted against max_message_size", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "            if first & RSV1:\n                raise _protocol_error(ERR_RSV1)",
           "            if first & RSV1 and opcode & CONTROL:\n                raise _protocol_error(ERR_RSV1)",
           "RSV1 accepted on continuation frames", DEFLATE),
    Mutant("wsfast/_codec_py.py",
           "            if opcode == OP_CONTINUATION and not self._message_opcode:",
           "            if opcode == OP_CONTINUATION and self._message_opcode is None:",
           "continuation without a message accepted", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        elif self._message_opcode:\n            raise _protocol_error(ERR_EXPECTED_CONTINUATION)",
           "        elif False:\n            raise _protocol_error(ERR_EXPECTED_CONTINUATION)",
           "a new message inside a fragmented one accepted", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        if n == 1:\n            raise _protocol_error(ERR_CLOSE_ONE_BYTE)",
           "        if n == 0:\n            raise _protocol_error(ERR_CLOSE_ONE_BYTE)",
           "1-byte close payload accepted", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           '                reason = payload[2:].decode("utf-8")',
           '                reason = payload[2:].decode("utf-8", "replace")',
           "invalid UTF-8 in a close reason accepted", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           '                    text = payload.decode("utf-8")',
           '                    text = payload.decode("utf-8", "replace")',
           "invalid UTF-8 in a one-frame text message accepted", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        self._closed = True\n",
           "        self._closed = False\n",
           "frames after a close frame still decoded", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           "        if len(encoded) > MAX_CLOSE_REASON:",
           "        if len(encoded) >= MAX_CLOSE_REASON:",
           "off by one: a 123-byte close reason refused", MESSAGES),
    Mutant("wsfast/_codec_py.py",
           '        view = byte_view(data, "data")\n        if view.nbytes > MAX_CONTROL_PAYLOAD:',
           '        view = byte_view(data, "data")\n        if view.nbytes > MAX_CONTROL_PAYLOAD + 1:',
           "off by one: a 126-byte ping encoded", MESSAGES),
    # ---- constants ---------------------------------------------------------------------
    Mutant("wsfast/constants.py",
           "    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999",
           "    return 1000 <= code <= 1003 or 1004 <= code <= 1014 or 3000 <= code <= 4999",
           "close-code range widened to 1004-1006", MESSAGES),
    Mutant("wsfast/constants.py",
           "    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999",
           "    return 1000 <= code <= 1003 or 1007 <= code <= 1015 or 3000 <= code <= 5000",
           "close-code range widened to 1015 and 5000", MESSAGES),
    Mutant("wsfast/constants.py",
           "DEFAULT_MAX_FRAME_SIZE = 16 * 2**20\n",
           "DEFAULT_MAX_FRAME_SIZE = 16 * 2**20 + 1\n",
           "off by one in the default frame limit", MESSAGES),
    Mutant("wsfast/constants.py",
           "DEFAULT_MAX_MESSAGE_SIZE = 16 * 2**20\n",
           "DEFAULT_MAX_MESSAGE_SIZE = 32 * 2**20\n",
           "default message limit raised", MESSAGES),
    # ---- permessage-deflate (wsfast/_deflate_stream.py, deflate.py) -------------------
    Mutant("wsfast/_deflate_stream.py",
           "        self._flush = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH",
           "        self._flush = zlib.Z_SYNC_FLUSH",
           "deflate context not reset under no_context_takeover", DEFLATE),
    Mutant("wsfast/_deflate_stream.py",
           "        return payload[:-4]\n",
           "        return payload\n",
           "00 00 ff ff tail not removed (RFC 7692 §7.2.1)", DEFLATE),
    Mutant("wsfast/deflate.py",
           "            server_bits = min(\n",
           "            server_bits = max(\n",
           "server window bits: the larger of offered and preferred", DEFLATE),
    # ---- C kernels and header parser (rebuilt) --------------------------------------
    Mutant("csrc/frame_header.c",
           "    if (((first >> 4) & 0x7u) & ~rules->allowed_rsv) {",
           "    if (((first >> 4) & 0x3u) & ~rules->allowed_rsv) {",
           "C: RSV rule removed for RSV1", C_FRAMES, backend="c"),
    Mutant("csrc/frame_header.c",
           "    if (masked != (rules->masked != 0)) {",
           "    if (masked && !rules->masked) {",
           "C: a server accepts unmasked frames", C_FRAMES, backend="c"),
    Mutant("csrc/mask_scalar.c",
           "        wsfast_store64(dst + i + 8, b ^ key64);",
           "        wsfast_store64(dst + i + 8, b ^ (key64 >> 8));",
           "C: wrong key phase in the scalar kernel", C_MASK, backend="c"),
]

for _number, _mutant in enumerate(MUTANTS, 1):
    object.__setattr__(_mutant, "id", f"m{_number:02d}")
