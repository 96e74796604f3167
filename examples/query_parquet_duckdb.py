"""Query mcbridge's Parquet output with DuckDB: the most uncertain inputs per predicted class.

    mcbridge predict model.keras --input x.npy --output preds.parquet --n-samples 50 --seed 1
    python examples/query_parquet_duckdb.py preds.parquet --per-class 100

`mcbridge.predict_to_file` (and `mcbridge predict ... --output X.parquet`)
writes one row per input; DuckDB reads the file directly, without loading it
into Python first (`pip install duckdb`).
"""

from __future__ import annotations

import argparse

QUERY = """
SELECT prediction, rank, "index", mutual_information, mean[prediction + 1] AS confidence
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY prediction ORDER BY mutual_information DESC, "index"
    ) AS rank
    FROM read_parquet(?)
)
WHERE rank <= ?
ORDER BY prediction, rank
"""


def top_uncertain(path, per_class: int = 100) -> list[tuple]:
    """`(prediction, rank, index, mutual_information, confidence)` rows: the `per_class` inputs
    with the highest mutual information (BALD) for each predicted class."""
    import duckdb

    with duckdb.connect() as con:
        return con.execute(QUERY, [str(path), per_class]).fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="a Parquet file written by mcbridge.predict_to_file")
    parser.add_argument("--per-class", type=int, default=100)
    args = parser.parse_args()
    print("class  rank   index  mutual_information  confidence")
    for pred, rank, index, mi, conf in top_uncertain(args.path, args.per_class):
        print(f"{pred:5d}  {rank:4d}  {index:6d}  {mi:18.4f}  {conf:10.4f}")


if __name__ == "__main__":
    main()
