"""Spark `local[N]` (`mcbridge.spark.mc_predict_spark`) against in-process `mc_predict`.

Run from the repository root (needs `mcbridge[spark]` and Java 17):

    .venv/bin/python benchmarks/bench_spark.py            # 4,000 inputs x 30 samples
    .venv/bin/python benchmarks/bench_spark.py --quick    # 1,000 inputs

Measured side by side in this one run, on the seed CNN (`mcbridge.build_cnn()`):

* Spark's fixed costs: session start; a first job on a few rows (Python
  workers start, import TensorFlow and load the model: once per worker);
* throughput of a warm job over `n` rows (Parquet in memory as a DataFrame of
  `array<float>`, summaries collected with a count), against `mc_predict`
  plus the same summaries in this process on the same inputs.

On a 2-core machine `local[2]` cannot beat one process that already uses both
cores: the ratio measures Spark's overhead (Arrow transfer, one TensorFlow
per worker), not a speed-up. docs/SCALING.md says how it scales on a cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 inputs")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv)
    n = 1_000 if args.quick else 4_000
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import numpy as np

    import mcbridge
    from mcbridge.spark import mc_predict_spark

    print(f"machine: {_common.machine()}")
    print(f"seed CNN, {n:,} inputs x {args.samples} samples, Spark master {args.master}\n")
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cnn.keras"
        model = mcbridge.build_cnn(seed=0)
        model.save(path)

        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        spark = (SparkSession.builder.master(args.master).config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 .config("spark.executorEnv.PYTHONPATH", os.environ.get("PYTHONPATH", "")).getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        t_session = time.perf_counter() - t0
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": pa.array(np.arange(n), pa.int64()),
                          "features": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 784)
                          .cast(pa.list_(pa.float32()))})
        pq.write_table(table, Path(tmp) / "x.parquet")
        df = spark.read.parquet(str(Path(tmp) / "x.parquet")).cache()
        df.count()
        parts = df.rdd.getNumPartitions()

        def spark_job(frame):
            out = mc_predict_spark(frame, path, input_col="features", key_col="id", n_samples=args.samples, seed=1)
            return out.count()

        t0 = time.perf_counter()
        spark_job(df.limit(4).repartition(spark.sparkContext.defaultParallelism))
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        spark_job(df)
        t_spark = time.perf_counter() - t0

        def local():
            r = mcbridge.mc_predict(model, x, n_samples=args.samples, seed=1, progress=False)
            return r.mutual_information()

        local()  # warm
        t_local = _common.timed(local)
        spark.stop()
    work = n * args.samples
    print(f"   session start                         {t_session:6.1f} s")
    print(f"   first job, 4 rows (workers start, import TF, load the model once each) {t_first:6.1f} s")
    print(f"   Spark {args.master} over {parts} partitions  {work / t_spark:9,.0f} image-samples/s  ({t_spark:.1f} s)")
    print(f"   in process (mc_predict + summaries)   {work / t_local:9,.0f} image-samples/s  ({t_local:.1f} s)")
    print(f"   ratio Spark / in process: {t_local / t_spark:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
