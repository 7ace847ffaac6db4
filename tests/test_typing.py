"""Typing: the stubs of the compiled modules cannot drift from the code.

wsfast/_c.pyi must list exactly the names wsfast._c defines, with the
parameters the built functions report (Cython's binding signatures) and the
annotations of their twins in wsfast/_py.py. The installed package must ship
py.typed and the stubs (PEP 561), or type checkers ignore them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from typing import Any

import pytest

import wsfast

PACKAGE = os.path.dirname(wsfast.__file__)


def parse(name: str) -> ast.Module:
    with open(os.path.join(PACKAGE, name), encoding="utf-8") as f:
        return ast.parse(f.read())


def top_level(tree: ast.Module) -> dict[str, ast.AST]:
    """The names a module or stub defines at top level, with their nodes."""
    names: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            names.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update((a.asname or a.name, node) for a in node.names)
    return names


def members(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef)}


def is_property(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def parameters(node: ast.FunctionDef) -> list[tuple[str, str | None]]:
    """(name, default source) of each positional-or-keyword parameter."""
    args = node.args.args
    defaults: list[ast.expr | None] = [None] * (len(args) - len(node.args.defaults))
    defaults += node.args.defaults
    return [
        (arg.arg, None if default is None else ast.unparse(default))
        for arg, default in zip(args, defaults)
    ]


def annotations(node: ast.FunctionDef) -> list[str | None]:
    """The annotations of the parameters and the return, as source text."""
    return [
        None if a.annotation is None else ast.unparse(a.annotation) for a in node.args.args
    ] + [None if node.returns is None else ast.unparse(node.returns)]


def runtime_parameters(obj: Any) -> list[tuple[str, str | None]]:
    return [
        (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
        for p in inspect.signature(obj).parameters.values()
    ]


def defined_names(module: Any) -> set[str]:
    """Names the module itself defines: its functions and classes, and its
    public data; not what it imported (helpers of wsfast._buffers etc.)."""
    names = set()
    for name, obj in vars(module).items():
        if name.startswith("__"):
            continue
        if inspect.isclass(obj) or callable(obj):
            if getattr(obj, "__module__", None) == module.__name__:
                names.add(name)
        elif not name.startswith("_"):
            names.add(name)
    return names


@pytest.mark.c_extension
def test_c_stub_lists_exactly_the_extension_names() -> None:
    c = importlib.import_module("wsfast._c")
    stub = top_level(parse("_c.pyi"))
    assert set(stub) == defined_names(c)


@pytest.mark.c_extension
def test_c_stub_signatures_match_the_extension() -> None:
    c = importlib.import_module("wsfast._c")
    for name, node in top_level(parse("_c.pyi")).items():
        obj = getattr(c, name)
        if isinstance(node, ast.FunctionDef):
            assert parameters(node) == runtime_parameters(obj), name
        elif isinstance(node, ast.ClassDef):
            runtime = {m for m in vars(obj) if not m.startswith("__")}
            stubbed = members(node)
            assert set(stubbed) - {"__init__"} == runtime, name
            for method, function in stubbed.items():
                if method == "__init__":
                    continue  # extension types report no signature for it
                descriptor = vars(obj)[method]
                if is_property(function):
                    assert inspect.isgetsetdescriptor(descriptor), (name, method)
                else:
                    assert parameters(function) == runtime_parameters(descriptor), (name, method)


def test_c_stub_annotations_match_the_python_twin() -> None:
    """Every name _c.pyi shares with _py.py is annotated the same way."""
    stub = top_level(parse("_c.pyi"))
    twin = top_level(parse("_py.py"))
    shared = set(stub) & set(twin)
    assert {"mask", "mask_inplace", "Masker", "validate_utf8", "Utf8Validator"} <= shared
    for name in shared:
        node, reference = stub[name], twin[name]
        assert type(node) is type(reference) or isinstance(reference, ast.Assign), name
        if isinstance(node, ast.FunctionDef):
            assert isinstance(reference, ast.FunctionDef)
            assert parameters(node) == parameters(reference), name
            assert annotations(node) == annotations(reference), name
        elif isinstance(node, ast.ClassDef):
            assert isinstance(reference, ast.ClassDef)
            methods = {m: f for m, f in members(reference).items() if not m.startswith("_")}
            methods["__init__"] = members(reference)["__init__"]
            assert set(members(node)) == set(methods), name
            for method, function in members(node).items():
                assert annotations(function) == annotations(methods[method]), (name, method)
                assert parameters(function) == parameters(methods[method]), (name, method)


# Modules written once in Python and compiled as NAME_c (setup.py's COMPILED_SOURCES).
COMPILED_SOURCES = ["_codec", "_aiohttp"]


@pytest.mark.parametrize("stem", COMPILED_SOURCES)
def test_codec_stub_reexports_the_source_api(stem: str) -> None:
    source = importlib.import_module(f"wsfast.{stem}_py")
    stub = top_level(parse(f"{stem}_c.pyi"))
    assert set(stub) - {"__all__"} == set(source.__all__)


@pytest.mark.c_extension
@pytest.mark.parametrize("stem", COMPILED_SOURCES)
def test_codec_stub_names_exist_in_the_extension(stem: str) -> None:
    # __all__ is copied from the source when Cython compiles it; what matters
    # is that the built module defines every name the stub promises, as the
    # same kind of object (class or function).
    source = importlib.import_module(f"wsfast.{stem}_py")
    codec = importlib.import_module(f"wsfast.{stem}_c")
    for name in set(top_level(parse(f"{stem}_c.pyi"))) - {"__all__"}:
        assert hasattr(codec, name), name
        assert isinstance(getattr(codec, name), type) == isinstance(getattr(source, name), type), name


def test_package_ships_type_information() -> None:
    """PEP 561: the installed package carries py.typed and the stubs."""
    for name in ("py.typed", "_c.pyi", *(f"{stem}_c.pyi" for stem in COMPILED_SOURCES)):
        assert os.path.isfile(os.path.join(PACKAGE, name)), name
