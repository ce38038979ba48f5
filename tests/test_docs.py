"""The docs site builds cleanly and the README stays a short front door with working links."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 200

FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)


def test_mkdocs_build_strict(tmp_path):
    """`mkdocs build --strict` fails on broken links, missing nav pages and unresolved `:::` API
    references; a missing mkdocs is a failure too (it is in the dev extra), not a skip."""
    for module, package in (("mkdocs", "mkdocs"), ("material", "mkdocs-material"),
                            ("mkdocstrings_handlers", "mkdocstrings-python")):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"{package} is not installed; install the docs extra: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed (exit {result.returncode}):\n{output}"
    assert (tmp_path / "site" / "index.html").is_file(), f"no index.html was built:\n{output}"
    assert (tmp_path / "site" / "api" / "detection" / "index.html").is_file(), f"no API page was built:\n{output}"


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it at most {README_MAX_LINES} and move reference material "
        "into docs/"
    )


def relative_links(markdown: str) -> list[str]:
    """Targets of the inline, image and reference links outside code, without external URLs or
    pure in-page anchors."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    targets = INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)
    return [t for t in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t) and not t.startswith("#")]


def test_relative_links_helper():
    text = ("[a](docs/a.md) ![b](img/b.png \"title\") [c](https://x.org) [d](#anchor) [e](mailto:x@y)\n"
            "`[f](not/a/link.md)`\n```\n[g](in/code.md)\n```\n[h]: docs/h.md#part\n")
    assert relative_links(text) == ["docs/a.md", "img/b.png", "docs/h.md#part"]


def test_readme_relative_links_exist():
    links = relative_links(README.read_text(encoding="utf-8"))
    assert links, "README.md should link into docs/"
    missing = [link for link in links if not (README.parent / link.split("#")[0].split("?")[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
