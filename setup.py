"""Extension logic only; all metadata lives in pyproject.toml.

The C kernels (csrc/) are built as a static library with strict warnings,
then linked into the Cython extension ``wsfast._c``. A failed compile gives
a pure-Python install with a banner, unless WSFAST_REQUIRE_EXTENSIONS is set.
"""

import glob
import os
import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib
from setuptools.command.build_ext import build_ext

ENV = {}
with open(os.path.join("wsfast", "_env.py")) as f:
    exec(f.read(), ENV)  # the runtime's own parser: build and import agree
FLAGS = ENV["read_flags"](strict=True)
REQUIRE = FLAGS["WSFAST_REQUIRE_EXTENSIONS"]


def banner(message):
    line = "=" * 74
    print(f"\n{line}\nWARNING: {message}\nwsfast is installed as pure Python (slower).\n{line}\n",
          file=sys.stderr)


class BuildFailed(Exception):
    pass


class OptionalBuild:
    """Turn a compile failure into a banner and a pure install, unless REQUIRE."""

    def run(self):
        if getattr(self.distribution, "wsfast_build_failed", False):
            return
        try:
            super().run()
        except Exception as exc:  # compiler missing or failing: any error type
            if REQUIRE:
                raise
            self.distribution.wsfast_build_failed = True
            self.distribution.ext_modules = []
            banner(f"compiling the wsfast extension failed ({exc})")


class optional_build_clib(OptionalBuild, build_clib):
    pass


class optional_build_ext(OptionalBuild, build_ext):
    def build_extensions(self):
        # `build_ext --inplace` alone does not build the kernel library.
        self.run_command("build_clib")
        if not getattr(self.distribution, "wsfast_build_failed", False):
            super().build_extensions()


# Modules written once in Python and also compiled: wsfast/NAME_py.py -> wsfast.NAME_c.
COMPILED_SOURCES = ("_codec", "_aiohttp")


def codec_extensions(cythonize, directives, compile_args, link_args):
    """wsfast._codec_c: wsfast/_codec_py.py compiled by Cython (how and why:
    docs/build.md); wsfast._aiohttp_c from wsfast/_aiohttp_py.py likewise.

    The build-time copies wsfast/NAME_c.py (mtime kept, so unchanged sources
    are not recompiled) are removed once translated, so no package can ship
    one as an uncompiled wsfast.NAME_c.
    """
    import shutil

    copies = [os.path.join("wsfast", f"{name}_c.py") for name in COMPILED_SOURCES]
    for name, copy in zip(COMPILED_SOURCES, copies):
        shutil.copy2(os.path.join("wsfast", f"{name}_py.py"), copy)
    try:
        return cythonize(
            [Extension(f"wsfast.{name}_c", [copy], include_dirs=["csrc"],
                       depends=sorted(glob.glob("csrc/*.h")),
                       extra_compile_args=compile_args, extra_link_args=link_args)
             for name, copy in zip(COMPILED_SOURCES, copies)],
            # The pxd alone gives the C types: the source's annotations are for mypy.
            compiler_directives=dict(directives, annotation_typing=False),
            annotate=FLAGS["WSFAST_CYTHON_ANNOTATE"])
    finally:
        for copy in copies:
            os.remove(copy)


def compiled_setup():
    from Cython.Build import cythonize

    debug, sanitize = FLAGS["WSFAST_DEBUG_BUILD"], FLAGS["WSFAST_SANITIZE"]
    if sys.platform == "win32":  # MSVC ignores gcc-style flags (D9002) and has no UBSan
        opt = ["/Od", "/Zi"] if debug else ["/O2"]
        # No /WX: MSVC's warning set is not checked anywhere before release.
        san, warnings, werror, std = [], ["/W3"], [], []
    else:
        opt = ["-O0", "-g3", "-UNDEBUG"] if debug else ["-O3"]
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"] if sanitize else []
        warnings = ["-Wall", "-Wextra", "-Wsign-compare", "-Wconversion"]
        werror, std = ["-Werror"] if REQUIRE else [], ["-std=c11"]
    kernel_flags = [*std, *opt, *warnings, *san, *werror]
    kernels = ("wsfast_kernels", {
        "sources": sorted(glob.glob("csrc/*.c")),
        "include_dirs": ["csrc"],
        "obj_deps": {"": sorted(glob.glob("csrc/*.h"))},
        "cflags": kernel_flags,
        "macros": [("WSFAST_CFLAGS", '"%s"' % " ".join(kernel_flags))],
    })
    extensions = [
        Extension("wsfast._c", ["wsfast/_c.pyx"], include_dirs=["csrc"],
                  depends=sorted(glob.glob("csrc/*.h")),
                  extra_compile_args=[*opt, *san], extra_link_args=san),
    ]
    # freethreading_compatible: the modules keep the GIL off on free-threaded
    # builds. Shared state audited: module globals are set at import (the
    # aiohttp module's by bind(), when install() patches aiohttp); Masker
    # and Utf8Validator hold only C scalars, indexes masked into range; the
    # decoders' feed and the deflate Encoder are gated by list.pop(); the
    # encoders only read their fields after __init__; the aiohttp reader is
    # fed by its connection's event loop only, as aiohttp's own reader is.
    directives = {"language_level": "3", "boundscheck": False, "wraparound": False,
                  "cdivision": True, "embedsignature": True, "freethreading_compatible": True}
    extensions += codec_extensions(cythonize, directives, [*opt, *san], san)
    setup(
        libraries=[kernels],
        ext_modules=cythonize(extensions, compiler_directives=directives,
                              annotate=FLAGS["WSFAST_CYTHON_ANNOTATE"]),
        cmdclass={"build_clib": optional_build_clib, "build_ext": optional_build_ext},
    )


if FLAGS["WSFAST_NO_EXTENSIONS"] or platform.python_implementation() != "CPython":
    print("wsfast: pure Python build (WSFAST_NO_EXTENSIONS or not CPython)", file=sys.stderr)
    setup()
else:
    try:
        import Cython.Build  # noqa: F401  (only to know whether the build can run)
    except ImportError:
        if REQUIRE:
            raise
        banner("Cython is not available")
        setup()
    else:
        compiled_setup()
