"""wsaccel's module API on wsfast's kernels, for code that imports wsaccel by name.

``from wsfast.compat import wsaccel`` gives ``XorMaskerSimple``,
``XorMaskerNull``, ``createXorMasker`` (wsaccel.xormask) and
``Utf8Validator`` (wsaccel.utf8validator), with the same methods and results.
Differences: a masking key of the wrong length raises wsfast's ``ValueError``
message, and ``Utf8Validator`` offers ``validate()`` and ``reset()`` but not
wsaccel's byte-at-a-time ``decode()``.
"""

from __future__ import annotations

from .._adapters import NullMasker as XorMaskerNull
from .._adapters import PointerMasker as XorMaskerSimple
from .._adapters import PointerUtf8Validator as Utf8Validator
from .._adapters import create_xor_masker as createXorMasker

__all__ = ["Utf8Validator", "XorMaskerNull", "XorMaskerSimple", "createXorMasker"]
