"""The benchmark registry: one list of operations and contenders.

``bench/bench_*.py`` (pytest-benchmark) and ``wsfast bench`` (in-process, on an
installed wheel) both read this registry, so an operation, a peer or a size is
declared once. Each operation family lives in one module of this package
(``mask.py``, ``utf8.py``, ``frames.py``, ``deflate.py``), which
:func:`operations` imports.

Registering an operation and its contenders (in ``wsfast/_bench/<family>.py``)::

    from wsfast._bench import Call, Case, Operation

    VALIDATE = Operation(
        "validate_utf8",                        # unique name: groups are "<name> <size>"
        family="utf8",
        sizes=(16, 4096, 2**20),
        quick_sizes=(16, 4096),                 # what `wsfast bench --quick` runs
        make_case=lambda size: Case(size, data=("é" * size).encode()[:size]),
        reference=lambda case: True,            # expected output of every contender
    )

    @VALIDATE.contender("wsfast", kind="wsfast")
    def _wsfast():                              # runs once, lazily; an ImportError or
        import wsfast                           # AttributeError here skips the contender
        validate = wsfast.validate_utf8         # with the error as the reason
        return lambda case: Call(validate, (case.data,))

    @VALIDATE.contender("wsaccel", dist="wsaccel")   # dist: the distribution whose version is shown
    def _wsaccel():
        from wsaccel.utf8validator import Utf8Validator
        return lambda case: Call(lambda d: Utf8Validator().validate(d)[0], (case.data,))

Rules that keep the comparison honest:

* ``setup(case)`` builds everything outside the timed call (objects, copies of
  in-place buffers) and returns a :class:`Call`; only ``call.func(*call.args)``
  is timed. For in-place functions pass ``output=`` so the check reads the
  buffer instead of the return value.
* Every contender's output is compared with ``reference(case)`` on a fresh
  ``setup(case)`` before it is timed; a wrong answer is reported as
  "incorrect" and never timed (a wrong *wsfast* answer fails the run).
  ``variants=`` adds inputs that only wsfast's contenders are checked on
  (invalid UTF-8, other key phases): an answer that is always "valid", or
  a phase that is ignored, cannot pass the check.
* ``kind="wsfast"`` rows are ours (the first available one is the row the
  ratios are taken against); ``kind="peer"`` rows are other libraries, which
  ``--check`` compares with; ``kind="baseline"`` rows (``bytes`` copy,
  ``bytes.decode``) are limits shown for scale, never "beaten".
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "FAMILIES",
    "Call",
    "Case",
    "Contender",
    "Item",
    "Operation",
    "items",
    "load",
    "operations",
]

FAMILIES = ("mask", "utf8", "frames", "deflate")
"""Operation families, in report order; each is a module of this package."""

KINDS = ("wsfast", "peer", "baseline")


class Case:
    """The input of one operation at one size; extra fields are free-form.

    Attributes:
        size: the size named in the group ("mask 4096").
        nbytes: bytes processed per call, for throughput (defaults to size).
    """

    def __init__(self, size: int, nbytes: int | None = None, **fields: Any) -> None:
        self.size = size
        self.nbytes = size if nbytes is None else nbytes
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:  # for type checkers: fields are dynamic
        raise AttributeError(name)


@dataclasses.dataclass(frozen=True)
class Call:
    """What is timed: ``func(*args)``.

    Attributes:
        func: the function under test.
        args: its arguments, prepared by ``setup``.
        output: maps the return value to the output to check (for in-place
            functions, return the mutated buffer); None means the return value.
    """

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    output: Callable[[Any], Any] | None = None

    def run(self) -> Any:
        """Call once and return the output to check against the reference."""
        returned = self.func(*self.args)
        return returned if self.output is None else self.output(returned)


Setup = Callable[[Case], Call]


@dataclasses.dataclass
class Contender:
    """One implementation of an operation.

    Attributes:
        name: row label, e.g. "wsfast (c)", "aiohttp".
        kind: "wsfast", "peer" or "baseline".
        dist: distribution whose version is reported (None: no version).
        loader: returns ``setup``; called once, on first use.
    """

    name: str
    kind: str
    dist: str | None
    loader: Callable[[], Setup]
    _setup: Setup | None = dataclasses.field(default=None, repr=False)
    _reason: str | None = dataclasses.field(default=None, repr=False)
    _loaded: bool = dataclasses.field(default=False, repr=False)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            self._setup = self.loader()
        except (ImportError, AttributeError, OSError) as exc:
            self._reason = _describe(exc, self.dist)

    @property
    def setup(self) -> Setup:
        """The setup function; raises RuntimeError when skipped."""
        self._load()
        if self._setup is None:
            raise RuntimeError(f"{self.name} is not available: {self._reason}")
        return self._setup

    @property
    def skip_reason(self) -> str | None:
        """Why this contender cannot run here, or None when it can."""
        self._load()
        return self._reason

    @property
    def version(self) -> str | None:
        """Installed version of ``dist``, or None."""
        return dist_version(self.dist) if self.dist else None


class Operation:
    """One operation benchmarked at several sizes by several contenders."""

    def __init__(
        self,
        name: str,
        *,
        family: str,
        sizes: Sequence[int],
        make_case: Callable[[int], Case],
        reference: Callable[[Case], Any],
        quick_sizes: Sequence[int] | None = None,
        equal: Callable[[Any, Any], bool] | None = None,
        unit: str = "B",
        batch: dict[int, int] | None = None,
        description: str = "",
        variants: Callable[[Case], Sequence[Case]] | None = None,
    ) -> None:
        self.name = name
        self.family = family
        self.sizes = tuple(sizes)
        self.quick_sizes = tuple(quick_sizes) if quick_sizes is not None else self.sizes
        self.make_case = make_case
        self.reference = reference
        self.equal = equal if equal is not None else _equal
        self.unit = unit  # what one call handles `batch[size]` of: "frame", "message"
        self.batch = dict(batch or {})
        self.description = description
        # More inputs for the check only (invalid ones, other key phases):
        # wsfast's contenders must get them right too; peers are not held to
        # them (a baseline such as bytes.decode raises on invalid input).
        self.variants = variants
        self.contenders: list[Contender] = []
        self._cached: tuple[Case, Any] | None = None
        _REGISTERED.setdefault(family, []).append(self)

    def contender(
        self, name: str, *, kind: str = "peer", dist: str | None = None
    ) -> Callable[[Callable[[], Setup]], Callable[[], Setup]]:
        """Decorator registering ``loader`` (see the module docstring)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if any(c.name == name for c in self.contenders):
            raise ValueError(f"{self.name}: contender {name!r} registered twice")

        def register(loader: Callable[[], Setup]) -> Callable[[], Setup]:
            self.contenders.append(Contender(name, kind, dist, loader))
            return loader

        return register

    @property
    def primary(self) -> Contender | None:
        """The first available wsfast contender: the row ratios refer to."""
        for contender in self.contenders:
            if contender.kind == "wsfast" and contender.skip_reason is None:
                return contender
        return None

    @property
    def skip_reason(self) -> str | None:
        """Why the whole operation is skipped (no wsfast contender runs), or None."""
        if self.primary is not None:
            return None
        reasons = [c.skip_reason for c in self.contenders if c.kind == "wsfast"]
        return "; ".join(r for r in reasons if r) or "no wsfast contender registered"

    def case(self, size: int) -> tuple[Case, Any]:
        """The input at ``size`` and its expected output, kept while the size repeats.

        Contenders of one size share one input, so building a 16 MiB case and
        its reference happens once per size, not once per contender.
        """
        if self._cached is None or self._cached[0].size != size:
            self._cached = None  # free the previous size first
            case = self.make_case(size)
            self._cached = (case, self.reference(case))
        return self._cached

    def check(self, contender: Contender, case: Case) -> str | None:
        """Run ``contender`` once on a fresh setup; None if correct, else why not."""
        expected = (
            self._cached[1] if self._cached and self._cached[0] is case else self.reference(case)
        )
        problem = self._check_one(contender, case, expected)
        if problem is None and contender.kind == "wsfast" and self.variants is not None:
            for variant in self.variants(case):
                problem = self._check_one(contender, variant, self.reference(variant))
                if problem is not None:
                    return f"{problem} for {variant.label}"
        return problem

    def _check_one(self, contender: Contender, case: Case, expected: Any) -> str | None:
        try:
            got = contender.setup(case).run()
        except Exception as exc:  # noqa: BLE001 - a peer raising is reported, not fatal
            return f"raised {type(exc).__name__}: {exc}"
        if not self.equal(expected, got):
            return f"wrong output ({_preview(got)} instead of {_preview(expected)})"
        return None

    def per_call(self, size: int) -> int:
        """How many frames or messages one timed call handles at ``size`` (1: one buffer)."""
        return self.batch.get(size, 1)

    def __repr__(self) -> str:
        return f"<Operation {self.name} ({self.family})>"


@dataclasses.dataclass(frozen=True)
class Item:
    """One benchmark: an operation, a size and a contender (a pytest parameter)."""

    operation: Operation
    size: int
    contender: Contender

    @property
    def group(self) -> str:
        return f"{self.operation.name} {format_size(self.size)}"

    def __str__(self) -> str:
        return f"{self.operation.name}-{self.size}-{self.contender.name}".replace(" ", "")


_REGISTERED: dict[str, list[Operation]] = {}


def operations(families: Sequence[str] = FAMILIES) -> list[Operation]:
    """Every registered operation of ``families``, importing their modules once."""
    for family in families:
        importlib.import_module(f"{__name__}.{family}")  # registers its operations
    return [operation for family in families for operation in _REGISTERED.get(family, [])]


def items(families: Sequence[str] = FAMILIES, *, quick: bool = False) -> Iterator[Item]:
    """Every (operation, size, contender), skipped ones included."""
    for operation in operations(families):
        sizes = operation.quick_sizes if quick else operation.sizes
        for size, contender in itertools.product(sizes, operation.contenders):
            yield Item(operation, size, contender)


def load(module: str, name: str) -> Any:
    """``module.name`` of a peer library, imported by name.

    Peers are optional and untyped, so they are reached through importlib
    rather than import statements that a type checker would follow.

    Raises:
        ImportError: the module is missing (AttributeError: the name is).
    """
    return getattr(importlib.import_module(module), name)


def dist_version(dist: str) -> str | None:
    """Installed version of a distribution, or None."""
    if dist == "wsfast":
        try:
            import wsfast

            return str(wsfast.__version__)
        except (ImportError, AttributeError):
            pass
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def format_size(size: int) -> str:
    """2 -> "2 B", 4096 -> "4 KiB", 2**20 -> "1 MiB"."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def _equal(expected: Any, got: Any) -> bool:
    if isinstance(expected, (bytes, bytearray, memoryview)) and isinstance(
        got, (bytes, bytearray, memoryview)
    ):
        return bytes(expected) == bytes(got)
    return bool(expected == got)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(exc: BaseException, dist: str | None) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if dist and dist_version(dist) is None:
            return f"{dist} is not installed"
        return f"no module {exc.name}" if top != exc.name else f"{top} is not installed"
    if isinstance(exc, ImportError):  # raised on purpose by a loader, with a reason
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
