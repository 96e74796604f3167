"""`import mcbridge`: light (no TensorFlow, matplotlib, pyspark), every documented submodule reachable."""

import subprocess
import sys

import pytest

import mcbridge

HEAVY = ("tensorflow", "keras", "matplotlib", "pyspark", "pandas", "tqdm", "IPython")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_is_light_and_submodules_load_on_first_use():
    out = _run(
        "import sys, mcbridge\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "for name in ('plots', 'report', 'spark', 'stream', 'evaluation'):\n"
        "    assert getattr(mcbridge, name).__name__ == 'mcbridge.' + name\n"
        "assert callable(mcbridge.spark.mc_predict_spark) and callable(mcbridge.plots.reliability_diagram)\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    first, after = out.splitlines()
    assert first == "[]", f"`import mcbridge` imported {first}"
    assert after == "[]", f"reaching mcbridge.plots/report/spark imported {after}"


@pytest.mark.parametrize("name", ["plots", "report", "spark", "stream", "evaluation", "ensemble"])
def test_documented_submodules_are_attributes(name):
    assert name in dir(mcbridge) and name in mcbridge.__all__
    assert getattr(mcbridge, name).__name__ == f"mcbridge.{name}"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'sparkle'"):
        mcbridge.sparkle  # noqa: B018
