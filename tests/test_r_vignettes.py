"""The R package's R Markdown vignettes knit (Rscript + rmarkdown + pandoc, installed R package)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VIGNETTES = Path(__file__).resolve().parents[1] / "r-package" / "vignettes"
REQUIRE_R = os.environ.get("MCBRIDGE_TESTS_REQUIRE_R", "").lower() == "true"


def _missing():
    if shutil.which("Rscript") is None:
        return "Rscript not found (run scripts/setup_r.sh)"
    probe = subprocess.run(
        ["Rscript", "-e", 'ok <- all(vapply(c("mcbridge", "knitr", "rmarkdown"), requireNamespace, '
         'NA, quietly = TRUE)) && rmarkdown::pandoc_available(); quit(status = !ok)'],
        capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        return "R packages mcbridge/knitr/rmarkdown or pandoc missing (run scripts/setup_r.sh)"
    return None


@pytest.mark.parametrize("path", sorted(VIGNETTES.glob("*.Rmd")), ids=lambda p: p.name)
def test_r_vignette_knits(path, tmp_path):
    reason = _missing()
    if reason:
        if REQUIRE_R:
            pytest.fail(reason)
        pytest.skip(reason)
    env = dict(os.environ, MCBRIDGE_PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONHOME", None)
    env.pop("RETICULATE_PYTHON", None)
    code = (f'rmarkdown::render("{path}", output_dir = "{tmp_path}", '
            f'intermediates_dir = "{tmp_path}", knit_root_dir = "{tmp_path}", quiet = TRUE)')  # fmt: skip
    proc = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, env=env, timeout=600,
                          cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    html = (tmp_path / (path.stem + ".html")).read_text()
    assert "engine was not found" not in html  # the code really ran
    assert "#&gt; Error" not in html and "Traceback" not in html  # (chunk errors stop knitting anyway)
