#!/usr/bin/env python3
"""Read a cxr store with pyarrow, polars and DuckDB and check it against its _meta.json.

Usage: python3 scripts/read_store.py <STORE>
Checks, for every reader: the hive `dataset` column appears, the row count per dataset equals
`_meta.json`, the label columns are Int8, and every non-null image has height*width bytes.
Prints one line per reader and exits non-zero on any disagreement. A reader whose package is
not installed is reported as missing (exit code 3), so callers can tell "absent" from "wrong".
Tested with pyarrow 26.0.1, polars 2.1.0, duckdb 2.0.1.
"""

import json
import sys
from pathlib import Path


def main() -> int:
    store = Path(sys.argv[1])
    meta = json.loads((store / "_meta.json").read_text())
    want = {d: v["rows"] for d, v in meta["datasets"].items()}
    failures, missing = [], []

    try:
        import pyarrow.dataset as ds
        import pyarrow.compute as pc

        t = ds.dataset(store, format="parquet", partitioning="hive").to_table()
        got = {d: int((pc.equal(t["dataset"], d)).to_numpy().sum()) for d in want}
        ok = got == want and str(t.schema.field("atelectasis").type) == "int8"
        lens = [len(b) if b is not None else None for b in t["image"].to_pylist()]
        hw = [(h * w if h is not None else None) for h, w in zip(t["height"].to_pylist(), t["width"].to_pylist())]
        ok = ok and lens == hw
        print(f"pyarrow {'OK' if ok else 'MISMATCH'}: {t.num_rows} rows {got}")
        if not ok:
            failures.append("pyarrow")
    except ImportError:
        missing.append("pyarrow")

    try:
        import polars as pl

        df = pl.scan_parquet(str(store / "**" / "*.parquet"), hive_partitioning=True).select(
            ["dataset", "atelectasis", "height", "width", pl.col("image").bin.size().alias("n")]
        ).collect()
        got = {d: df.filter(pl.col("dataset") == d).height for d in want}
        bad_len = df.filter(pl.col("n").is_not_null() & (pl.col("n") != pl.col("height").cast(pl.Int64) * pl.col("width").cast(pl.Int64))).height
        ok = got == want and df.schema["atelectasis"] == pl.Int8 and bad_len == 0
        print(f"polars  {'OK' if ok else 'MISMATCH'}: {df.height} rows {got}")
        if not ok:
            failures.append("polars")
    except ImportError:
        missing.append("polars")

    try:
        import duckdb

        rows = duckdb.sql(
            f"select dataset, count(*), sum(case when image is not null and octet_length(image) != height*width then 1 else 0 end) "
            f"from read_parquet('{store}/*/*.parquet', hive_partitioning = 1) group by dataset"
        ).fetchall()
        got = {d: n for d, n, _ in rows}
        ok = got == want and all(b == 0 for _, _, b in rows)
        print(f"duckdb  {'OK' if ok else 'MISMATCH'}: {got}")
        if not ok:
            failures.append("duckdb")
    except ImportError:
        missing.append("duckdb")

    if failures:
        return 1
    if missing:
        print("missing readers:", ", ".join(missing))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
