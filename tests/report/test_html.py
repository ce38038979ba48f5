"""`noisylabels report`: the HTML page and its PNG files, for a run folder and a bench folder, checked
down to a headless Chromium rendering the page with every figure decoded."""
import base64
import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from noisylabels import Config, NoisyLabelsError, Trainer
from noisylabels.cli import main
from noisylabels.report import write_report
from noisylabels.report.page import markdown_to_html

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_FIGURES = {"accuracy.png", "loss_histograms.png", "transition.png", "suspicious.png"}
IMG_SRC = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def write_images(n, seed):
    """Tiny 1x8x8 images, 3 classes: a bright row band whose position is the class, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    for c in range(3):
        x[y == c, 0, 2 * c + 1:2 * c + 3, :] += 2.0
    return x, y


@pytest.fixture(scope="module")
def image_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "images.npz"
    x, y = write_images(150, seed=0)
    x_test, y_test = write_images(60, seed=1)
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    return path


def train_run(out, npz, method):
    """A 2-epoch run on the image arrays, reloadable from its config.yaml (the data come from a file)."""
    config = Config.from_dict({
        "data": {"name": "arrays", "path": str(npz)},
        "noise": {"type": "symmetric", "rate": 0.3},
        "model": {"name": "mlp", "options": {"hidden_sizes": [32]}},
        "method": {"name": method},
        "optim": {"epochs": 2, "batch_size": 32, "lr": 0.1},
        "run": {"out": str(out), "progress": False, "device": "cpu", "plots": False, "checkpoint": False},
    })
    Trainer(config).fit()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, image_npz):
    root = tmp_path_factory.mktemp("runs")
    return {method: train_run(root / method, image_npz, method) for method in ("ce", "rsl")}


def copy_run(run, tmp_path, name="run"):
    """A private copy, so reports written by one test never show up in another's folder."""
    return shutil.copytree(run, tmp_path / name)


@pytest.fixture(scope="module")
def run_page(runs, tmp_path_factory):
    return write_report(copy_run(runs["rsl"], tmp_path_factory.mktemp("run_report")))


@pytest.fixture(scope="module")
def bench_page(runs, tmp_path_factory):
    return write_report(make_bench(tmp_path_factory.mktemp("bench_report"), runs))


def make_bench(tmp_path, runs):
    bench = tmp_path / "bench"
    rows = [
        {"cell": "sym0.3-ce-s0", "method": "ce", "best_acc": "0.50", "run": runs["ce"]},
        {"cell": "sym0.3-rsl-s0", "method": "rsl", "best_acc": "0.90", "run": runs["rsl"]},
        {"cell": "sym0.3-rsl-s1", "method": "rsl", "best_acc": "", "run": None, "status": "failed", "seed": 1},
    ]
    bench.mkdir()
    with open(bench / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["cell", "dataset", "noise", "noise_rate", "method", "seed", "status", "best_acc",
                                    "last_acc", "run_dir"])
        writer.writeheader()
        for row in rows:
            if row["run"] is not None:
                shutil.copytree(row["run"], bench / "cells" / row["cell"])
            writer.writerow({"cell": row["cell"], "dataset": "arrays", "noise": "symmetric", "noise_rate": "0.3",
                             "method": row["method"], "seed": row.get("seed", 0),
                             "status": row.get("status", "complete"), "best_acc": row["best_acc"],
                             "last_acc": row["best_acc"], "run_dir": f"cells/{row['cell']}"})
    (bench / "results.md").write_text("# bench\n\nMean best test accuracy.\n\n| method | symmetric 0.3 |\n"
                                      "|---|---:|\n| `ce` | 0.50 |\n| `rsl` | **0.90** |\n")
    return bench


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert min(image.size) > 100


def assert_page_inlines(page, figures, names):
    """Exactly one <img> per PNG file, each a data: URI holding that file's bytes."""
    assert {p.name for p in figures.iterdir()} == names
    for path in figures.iterdir():
        assert_png(path)
    inlined = [base64.b64decode(data) for data in IMG_SRC.findall(page.read_text())]
    assert page.read_text().count("<img") == len(inlined) == len(names)
    assert sorted(inlined) == sorted(p.read_bytes() for p in figures.iterdir())


def test_run_report(run_page):
    run = run_page.parent
    assert run_page == run / "report.html"
    # rsl selects, so its precision/recall curves are there too.
    assert_page_inlines(run_page, run / "report", RUN_FIGURES | {"selection.png"})
    text = run_page.read_text()
    assert "<td>rsl</td>" in text and "<td>symmetric 0.3</td>" in text
    # Selected (default noisy validation split) and last lead; the oracle is labelled.
    heads = [bare(text).index(f"<th>{h}</th>") for h in ("selected test acc", "last test acc", "oracle best (test)")]
    assert heads == sorted(heads)
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"<td>{metrics['selected_test_acc']:.4f} (epoch {metrics['selected_epoch']})</td>" in bare(text)


def test_cli_report_without_selection_and_with_out(runs, tmp_path, capsys):
    run = copy_run(runs["ce"], tmp_path)
    out = tmp_path / "pages" / "ce.html"
    (tmp_path / "pages" / "ce").mkdir(parents=True)
    (tmp_path / "pages" / "ce" / "old.png").write_bytes(PNG_MAGIC)  # an earlier report's figure goes
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert_page_inlines(out, tmp_path / "pages" / "ce", RUN_FIGURES)  # ce reports no selection
    assert not (run / "report.html").exists()


def test_run_without_reloadable_images(tiny_config, tiny_splits, tmp_path):
    # Trained from in-memory arrays: config.yaml cannot rebuild the data, so no image grid, but a note.
    config = tiny_config.replace(noise={"type": "symmetric", "rate": 0.3}, run={"checkpoint": False})
    Trainer(config, tiny_splits).fit()
    run = tmp_path / "run"
    page = write_report(run)
    assert_page_inlines(page, run / "report", RUN_FIGURES - {"suspicious.png"})
    assert "Most suspicious samples: not drawn" in page.read_text()


def test_bench_report(bench_page):
    bench = bench_page.parent
    prefix = "01-symmetric_0.3-"  # rundir.slug of the setting
    assert_page_inlines(bench_page, bench / "report",
                        {"accuracy.png", "selection.png"} | {prefix + name for name in RUN_FIGURES - {"accuracy.png"}})
    text = bench_page.read_text()
    assert "symmetric 0.3: rsl, seed 0 (sym0.3-rsl-s0)" in text  # best mean last_acc (no selected_acc), first seed
    # An older results.csv without selected_acc still loads: its selected column shows "-".
    assert "<th>mean selected test acc</th><th>mean last test acc</th><th>mean oracle best (test)</th>" in bare(text)
    assert "<td>symmetric 0.3</td><td>ce</td><td>1</td><td>-</td><td>0.5000</td><td>0.5000</td>" in bare(text)
    assert "1 of 3 cells are not complete" in text
    assert "<th>method</th><th>symmetric 0.3</th>" in bare(text) and "<td><strong>0.90</strong></td>" in bare(text)


@pytest.mark.parametrize("name, files, message", [
    ("missing", None, "is not a folder"),
    ("empty", [], "neither metrics.json nor results.csv"),
    ("no_cells", ["results.csv"], "neither metrics.json nor results.csv"),
])
def test_wrong_folder(tmp_path, name, files, message):
    folder = tmp_path / name
    if files is not None:
        folder.mkdir()
        for file in files:
            (folder / file).write_text("cell,method\n")
    with pytest.raises(NoisyLabelsError, match=message):
        write_report(folder)
    assert not (folder / "report.html").exists()


def test_bench_without_complete_cells(tmp_path):
    (tmp_path / "cells").mkdir()
    (tmp_path / "results.csv").write_text("cell,noise,noise_rate,method,seed,status,best_acc,run_dir\n"
                                          "a,symmetric,0.3,ce,0,failed,,cells/a\n")
    with pytest.raises(NoisyLabelsError, match="no complete cell"):
        write_report(tmp_path)
    (tmp_path / "results.csv").write_text("cell,method\na,ce\n")
    with pytest.raises(NoisyLabelsError, match="lacks the columns noise, noise_rate"):
        write_report(tmp_path)


def test_cli_wrong_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.json" in capsys.readouterr().err


def bare(html: str) -> str:
    """``html`` without attributes and without whitespace between tags, so assertions read its structure."""
    return re.sub(r">\s+<", "><", re.sub(r"<(\w+)[^>]*>", r"<\1>", html))


def test_markdown_to_html():
    html = bare(markdown_to_html("## Title\n\nsome `code`\ntext\n\n| a | b |\n|:--|--:|\n| 1 | <2> |\n\n"
                                 "```\nx | y\n```\n\n<b>raw</b>\n"))
    assert "<h4>Title</h4>" in html and "<p>some <code>code</code>\ntext</p>" in html
    assert "<tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>&lt;2&gt;</td></tr>" in html
    assert "<pre><code>x | y\n</code></pre>" in html
    assert "<p>&lt;b&gt;raw&lt;/b&gt;</p>" in html  # raw HTML in a results file stays text


# ---------------------------------------------------------------------- in a real browser
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("headless Chromium is needed to check the report renders: apt-get install chromium")
    return path


def browse(page, tmp_path, *args):
    # A private profile folder: nothing is read from or written to the user's Chromium profile.
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
               *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def figure_counts(page, tmp_path) -> tuple[int, int]:
    """(data-figures-loaded, data-figures-total) that the page's script set after load."""
    dom = browse(page, tmp_path, "--virtual-time-budget=5000", "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    loaded = re.search(r'data-figures-loaded="(\d+)"', body)
    total = re.search(r'data-figures-total="(\d+)"', body)
    assert loaded and total, f"the page's check script did not run: {body}"
    return int(loaded.group(1)), int(total.group(1))


def assert_renders(page, tmp_path):
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,3000")
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[:2] == (3000, 1200)
    not_white = (pixels < 240).any(axis=2).mean()
    assert not_white > 0.05, f"only {not_white:.1%} of the screenshot is not white"
    loaded, total = figure_counts(page, tmp_path)
    assert total == len(IMG_SRC.findall(page.read_text())) > 0
    assert loaded == total


def test_run_report_renders_in_chromium(run_page, tmp_path):
    assert_renders(run_page, tmp_path)


def test_bench_report_renders_in_chromium(bench_page, tmp_path):
    assert_renders(bench_page, tmp_path)


def test_browser_check_catches_a_broken_figure(run_page, tmp_path):
    # The check itself: a figure whose PNG does not decode is counted in total but not in loaded.
    text = run_page.read_text()
    data = IMG_SRC.search(text).group(1)
    broken = tmp_path / "broken.html"
    broken.write_text(text.replace(data, base64.b64encode(b"not a png").decode(), 1))
    loaded, total = figure_counts(broken, tmp_path)
    assert loaded == total - 1
