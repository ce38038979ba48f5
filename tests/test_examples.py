"""The example scripts run as documented."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_recorder_loop_finds_the_flipped_labels():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "recorder_loop.py")], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {m[0]: (float(m[1]), float(m[2])) for m in re.findall(r"^(\w+)\s+\d+\s+([\d.]+)\s+([\d.]+)", result.stdout, re.M)}
    assert set(rows) >= {"classwise_loss", "aum", "small_loss", "confidence", "forgetting"}
    precision, recall = rows["classwise_loss"]
    assert precision > 0.7 and recall > 0.9  # 30% of the labels are flipped


def test_datasets_example_scores_every_sample_and_flags_the_planted_errors():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "datasets_digits.py")], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    found = re.search(r"torch dataset: (\d+) samples scored, \d+ flagged, precision ([\d.]+) recall ([\d.]+)",
                      result.stdout)
    assert found and int(found[1]) == 1500  # the whole dataset: the test split was given
    assert float(found[2]) > 0.7 and float(found[3]) > 0.9  # 20% of the labels are flipped
    accuracies = [float(a) for a in re.findall(r"hf dataset: \w+ validation-selected test accuracy ([\d.]+)",
                                               result.stdout)]
    assert len(accuracies) == 2 and min(accuracies) > 0.6  # clean test labels, 10 classes
    assert "dataframe: 1797 rows, 64 features, 10 classes" in result.stdout
