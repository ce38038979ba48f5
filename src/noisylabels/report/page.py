"""The HTML page itself: fragments in order, figures inlined as base64 ``data:`` URIs, tables, the
rendered Markdown of a bench's results file, and the number formatting every page shares."""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

# The page's own h1/h2 stay on top: a Markdown "#" becomes <h3>.
HEADING_SHIFT = 2

_STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 1em auto; padding: 0 1em; color: #222; }
img { max-width: 100%; height: auto; }
figure { margin: 1em 0; }
figcaption, .note { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
"""

# Lets a browser (and the tests, through headless Chromium) check that every figure decoded:
# after load, data-figures-loaded must equal data-figures-total.
_CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.figuresLoaded = loaded.length;
  document.body.dataset.figuresTotal = images.length;
});
</script>
"""


class Page:
    """The page's HTML fragments in order; figures are read back from their PNG files and inlined."""

    def __init__(self, title: str, figures: Path):
        self.title = title
        self.figures = figures  # folder of the PNG files
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')

    def raw(self, fragment: str) -> None:
        self.parts.append(fragment)

    def figure(self, path: Path, caption: str) -> None:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        link = f"{self.figures.name}/{path.name}"
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
            f'<figcaption>{html.escape(caption)} (<a href="{html.escape(link)}">{html.escape(path.name)}</a>)'
            "</figcaption></figure>")

    def render(self) -> str:
        # A handful of fixed lines: an f-string reads as well as a template would, without a dependency.
        body = "\n".join(self.parts)
        return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
                f"<h1>{html.escape(self.title)}</h1>\n{body}\n{_CHECK_SCRIPT}</body>\n</html>\n")


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are plain text (escaped here)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------- markdown (results.md)
class _ShiftHeadings(Treeprocessor):
    def run(self, root) -> None:
        for element in root.iter():
            if len(element.tag) == 2 and element.tag[0] == "h" and element.tag[1] in "123456":
                element.tag = f"h{min(6, int(element.tag[1]) + HEADING_SHIFT)}"


class _PageMarkdown(Extension):
    """Headings below the page's own, and raw HTML shown as text: a results file may quote cell
    names or error messages, which must never become markup in the page."""

    def extendMarkdown(self, md) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 0)


def markdown_to_html(text: str) -> str:
    """A Markdown file (e.g. a bench's results.md: headings, pipe tables, code) as an HTML fragment."""
    return markdown.markdown(text, extensions=["tables", "fenced_code", _PageMarkdown()])


# ---------------------------------------------------------------------- numbers and labels
def to_float(value) -> float:
    """``value`` as a float, NaN when it is empty or not a number (CSV cells are strings)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value, digits: int = 4) -> str:
    value = to_float(value)
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def mean(values) -> float:
    """The mean of the values that are numbers; NaN when none is."""
    values = [v for v in map(to_float, values) if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def noise_label(noise, rate) -> str:
    if noise in (None, "", "none"):
        return "clean"
    rate = to_float(rate)
    return f"{noise} {rate:g}" if not math.isnan(rate) else str(noise)
