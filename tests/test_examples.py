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
