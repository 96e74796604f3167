"""The vignettes run: every ```python / ```r block, in order, in one scratch directory.

Python blocks run as `__main__` in the test process (`runpy`), each as a
script of its own; R blocks in Rscript.
"""

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VIGNETTES = Path(__file__).resolve().parent.parent / "vignettes"
BLOCK = re.compile(r"^```(python|r)\n(.*?)^```", re.S | re.M)


def _child_env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MCBRIDGE_PYTHON=sys.executable)
    return env


@pytest.mark.parametrize("path", sorted(VIGNETTES.glob("*.md")), ids=lambda p: p.name)
def test_vignette_runs(path, tmp_path, monkeypatch):
    blocks = BLOCK.findall(path.read_text())
    assert blocks, f"{path.name} has no code blocks"
    if any(lang == "r" for lang, _ in blocks) and shutil.which("Rscript") is None:
        if os.environ.get("MCBRIDGE_TESTS_REQUIRE_R") == "true":
            pytest.fail("Rscript not found but MCBRIDGE_TESTS_REQUIRE_R=true")
        pytest.skip("R is not installed")
    for i, (lang, code) in enumerate(blocks, 1):
        script = tmp_path / f"block{i}.{'py' if lang == 'python' else 'R'}"
        script.write_text(code)
        if lang == "python":  # as `python blockN.py` in the scratch directory, without a new TensorFlow start
            monkeypatch.chdir(tmp_path)
            monkeypatch.setattr(sys, "argv", [str(script)])
            runpy.run_path(str(script), run_name="__main__")
            continue
        proc = subprocess.run(["Rscript", str(script)], cwd=tmp_path, env=_child_env(), capture_output=True,
                              text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, f"block {i} ({lang}) failed:\n{proc.stdout}\n{proc.stderr}"
