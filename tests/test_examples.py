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
