"""Start-up cost of the `mcbridge` command line (issue 11), measured side by side in one run.

Run from the repository root:

    .venv/bin/python benchmarks/bench_cli.py            # 1,000 inputs x 30 samples, 3 rounds
    .venv/bin/python benchmarks/bench_cli.py --quick    # 1 round

Each figure is the median wall time of fresh processes, interleaved:

- `mcbridge --help`, `mcbridge predict --help` and a usage error (goal < 0.5 s:
  they import no TensorFlow);
- `python -c "import tensorflow"`, `import keras`, Keras imported as the
  command line imports it (without its optional scikit-learn, pandas and
  matplotlib imports), and one process that loads the model and times its
  second (warm) `mc_predict` call;
- `mcbridge predict MODEL --input X.npy --output OUT.npz` on the same model
  and inputs (goal: at most 1 s beyond `import tensorflow` plus the warm call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and TF log level)

ROOT = _common.ROOT
CLI = [sys.executable, "-m", "mcbridge"]

WARM = """
import sys, time
import numpy as np
import mcbridge
model = mcbridge.load_model(sys.argv[1])
x = np.load(sys.argv[2])
mcbridge.mc_predict(model, x, n_samples=int(sys.argv[3]), seed=1)
t = time.perf_counter()
mcbridge.mc_predict(model, x, n_samples=int(sys.argv[3]), seed=1)
print(time.perf_counter() - t)
"""


def wall(cmd: list[str], ok=(0,)) -> float:
    """Seconds a fresh process running `cmd` takes; raises if its exit status is not in `ok`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return seconds


def warm_call(model: Path, x: Path, n_samples: int) -> float:
    """Seconds of the second in-process `mc_predict` (read from a fresh process)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", WARM, str(model), str(x), str(n_samples)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="inputs (default: 1000)")
    parser.add_argument("--n-samples", type=int, default=30, help="MC samples (default: 30)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default: 3)")
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    import numpy as np

    import mcbridge

    print(f"machine: {_common.machine()}")
    print(f"CPU: {_common.cpu_extensions()}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"work: {args.n} inputs x {args.n_samples} samples, median of {repeats} interleaved round(s)\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path, x_path, out_path = tmp / "model.keras", tmp / "x.npy", tmp / "out.npz"
        mcbridge.build_cnn(seed=0).save(model_path)
        np.save(x_path, np.random.default_rng(0).random((args.n, 28, 28, 1), dtype=np.float32))
        predict = [*CLI, "predict", str(model_path), "--input", str(x_path), "--output", str(out_path),
                   "--n-samples", str(args.n_samples), "--seed", "1", "--quiet"]
        methods = {
            "mcbridge --help": lambda: wall([*CLI, "--help"]),
            "mcbridge predict --help": lambda: wall([*CLI, "predict", "--help"]),
            "usage error (predict, no --output)": lambda: wall([*CLI, "predict", str(model_path)], ok=(2,)),
            "python -c 'import tensorflow'": lambda: wall([sys.executable, "-c", "import tensorflow"]),
            "python -c 'import keras'": lambda: wall([sys.executable, "-c", "import keras"]),
            "import keras as the command line does": lambda: wall(
                [sys.executable, "-c", "from mcbridge.cli import _import_keras_lean; _import_keras_lean()"]),
            "warm in-process mc_predict": lambda: warm_call(model_path, x_path, args.n_samples),
            "mcbridge predict (whole command)": lambda: wall(predict),
        }
        times = {label: [] for label in methods}
        for _ in range(repeats):
            for label, fn in methods.items():
                times[label].append(fn())
    med = {label: statistics.median(ts) for label, ts in times.items()}
    for label, seconds in med.items():
        print(f"   {label:<38} {seconds:6.2f} s")
    fast = max(med["mcbridge --help"], med["mcbridge predict --help"], med["usage error (predict, no --output)"])
    print(f"\n   help and usage errors: at most {fast:.2f} s  (goal < 0.5 s)  {'PASS' if fast < 0.5 else 'FAIL'}")
    extra = med["mcbridge predict (whole command)"] - med["python -c 'import tensorflow'"] - med[
        "warm in-process mc_predict"]
    print(f"   mcbridge predict beyond import tensorflow + warm call: {extra:.2f} s  (goal <= 1 s)  "
          f"{'PASS' if extra <= 1 else 'FAIL'}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
