"""What users read is true: README.md and docs/ run as written and link to what exists.

- Every ```python block of README.md and of each docs/*.md page runs, in
  order, in one fresh interpreter per page (a failing block fails the test).
- Every relative link (and #anchor) in those files resolves.
- Every name in ``wsfast.__all__`` has its own heading in docs/api.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wsfast

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API = ROOT / "docs" / "api.md"
ENV = dict(os.environ, PYTHONPATH=str(Path(wsfast.__file__).resolve().parent.parent))

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def python_blocks(path: Path) -> list[str]:
    return [code for lang, code in FENCE.findall(path.read_text()) if lang == "python"]


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", path.read_text())  # a "# comment" in a code block is no heading
    found = set()
    for title in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", title.replace("`", "").lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_docs_exist() -> None:
    assert API.is_file()
    assert "docs/api.md" in (ROOT / "README.md").read_text()


WITH_CODE = [p for p in DOCS if python_blocks(p)]
WITH_LINKS = [p for p in DOCS if LINK.search(FENCE.sub("", p.read_text()))]


def test_main_pages_have_code_and_links() -> None:
    # The pages below are parametrised by what they hold; these two must hold both.
    for name in ("README.md", "api.md"):
        assert name in [p.name for p in WITH_CODE], f"{name} has no python block"
        assert name in [p.name for p in WITH_LINKS], f"{name} has no relative link"


@pytest.mark.parametrize("path", WITH_CODE, ids=[p.name for p in WITH_CODE])
def test_python_blocks_run(path: Path, tmp_path: Path) -> None:
    blocks = python_blocks(path)
    script = "\n\n".join(blocks)
    result = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True,
        env=ENV, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, f"{path.name}:\n{result.stderr}"


@pytest.mark.parametrize("path", WITH_LINKS, ids=[p.name for p in WITH_LINKS])
def test_relative_links_resolve(path: Path) -> None:
    text = FENCE.sub("", path.read_text())
    checked = 0
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{path.name}: link to {target} (no such file)"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{path.name}: link to {target} (no such heading)"
        checked += 1
    assert checked, f"{path.name}: every link is absolute"


def test_every_public_name_is_documented() -> None:
    headings = HEADING.findall(FENCE.sub("", API.read_text()))
    titled = {m.removesuffix("()") for title in headings for m in re.findall(r"`([^`]+)`", title)}
    missing = [name for name in wsfast.__all__ if name not in titled]
    assert not missing, f"docs/api.md has no heading for {missing}"


def test_link_checker_catches_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nowhere) [gone](missing.md)\n")
    assert anchors(page) == {"title"}
    assert LINK.findall(page.read_text()) == ["#title", "#nowhere", "missing.md"]
