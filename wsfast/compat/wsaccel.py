"""wsaccel's module API on wsfast's kernels, for code that imports wsaccel by name.

``from wsfast.compat import wsaccel`` gives ``XorMaskerSimple``,
``XorMaskerNull``, ``createXorMasker`` (wsaccel.xormask) and
``Utf8Validator`` (wsaccel.utf8validator), with the same methods and results.
Differences: a masking key of the wrong length raises wsfast's ``ValueError``
message, and ``Utf8Validator`` offers ``validate()`` and ``reset()`` but not
wsaccel's byte-at-a-time ``decode()``.
"""

from __future__ import annotations

from ..integrations._shims import NullMasker as XorMaskerNull
from ..integrations._shims import PointerMasker as XorMaskerSimple
from ..integrations._shims import PointerUtf8Validator as Utf8Validator
from ..integrations._shims import create_xor_masker as createXorMasker

__all__ = ["Utf8Validator", "XorMaskerNull", "XorMaskerSimple", "createXorMasker"]
