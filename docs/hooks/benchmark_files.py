"""MkDocs hook: publish the committed benchmark results with the docs.

The pages link to ``../benchmarks/CLAIMS.md``, ``../benchmarks/results/<name>/results.md`` and
the figures beside them, which is right on GitHub (the files live outside ``docs/``). This hook
adds those files to the build under the same relative paths, so the links resolve in the site too
(and ``mkdocs build --strict`` checks them), and writes them to ``<site>/benchmarks/...``.
"""
from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, InclusionLevel

PATTERNS = ("CLAIMS.md", "results/*/results.md", "results/*/*.png")


def on_files(files, config):
    root = Path(config["config_file_path"]).resolve().parent
    for pattern in PATTERNS:
        for path in sorted((root / "benchmarks").glob(pattern)):
            rel = path.relative_to(root).as_posix()
            # CLAIMS.md is in the nav; the results tables are reached through links only.
            inclusion = InclusionLevel.INCLUDED if rel == "benchmarks/CLAIMS.md" else InclusionLevel.NOT_IN_NAV
            file = File.generated(config, f"../{rel}", abs_src_path=str(path), inclusion=inclusion)
            if path.suffix == ".md":  # a page: benchmarks/x/results/index.html
                stem = rel[:-len(".md")]
                file.dest_uri = f"{stem}/index.html" if config["use_directory_urls"] else f"{stem}.html"
            else:
                file.dest_uri = rel
            files.append(file)
    return files
