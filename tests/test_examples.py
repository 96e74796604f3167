"""The Python examples run end to end (on a small slice of the digits data)."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_custom_training_loop_example():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_training_loop.py"), "--dataset", "digits",
         "--limit", "300", "--epochs", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "first item: class" in proc.stdout
    assert "two MC passes differ: True" in proc.stdout


def test_active_learning_example_on_a_slice():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "active_learning.py"), "--dataset", "digits", "--pool", "400",
         "--test", "200", "--initial", "40", "--k", "20", "--rounds", "2", "--epochs", "2",
         "--n-samples", "4"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].split() == ["labelled", "BALD", "top-k", "random"]
    assert [int(line.split()[0]) for line in lines[2:5]] == [40, 60, 80]
    assert "mean accuracy gain of BALD over random" in lines[5]
