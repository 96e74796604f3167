"""The Python examples run end to end (on a small slice of the digits data).

Each runs as its own `__main__` in the test process (`runpy`), as
`python examples/NAME.py ARGS` would, without starting TensorFlow again.
"""

import runpy
import sys
import types
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, *args, monkeypatch, capsys):
    """Runs `examples/NAME ARGS`; returns what it printed (stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=0, stdout=out.out, stderr=out.err)


def test_custom_training_loop_example(monkeypatch, capsys):
    proc = run_example("custom_training_loop.py", "--dataset", "digits", "--limit", "300", "--epochs", "1",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    assert "first item: class" in proc.stdout
    assert "two MC passes differ: True" in proc.stdout


def test_active_learning_example_on_a_slice(monkeypatch, capsys):
    proc = run_example("active_learning.py", "--dataset", "digits", "--pool", "400", "--test", "200",
                       "--initial", "40", "--k", "20", "--rounds", "2", "--epochs", "2", "--n-samples", "4",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # Start at the table's header: Keras or TensorFlow may print lines before it.
    head = next(i for i, line in enumerate(lines) if line.split() == ["labelled", "BALD", "top-k", "random"])
    assert [int(line.split()[0]) for line in lines[head + 1 : head + 4]] == [40, 60, 80], proc.stdout
    assert "mean accuracy gain of BALD over random" in lines[head + 4], proc.stdout
