"""Read an mlprov Parquet export with DuckDB and polars; print row counts per table as JSON.

Usage: parquet_readers.py EXPORT_DIR EXPECTED_JSON
EXPECTED_JSON maps file names to row counts; both engines must agree with it, and the
documented columns must be there with the documented types.
"""
import json
import sys
from pathlib import Path

import duckdb
import polars as pl

export = Path(sys.argv[1])
expected = json.loads(sys.argv[2])
columns = {
    "artifacts.parquet": {"record_id": pl.Utf8, "artifact_id": pl.Utf8, "kind": pl.Utf8, "size_bytes": pl.UInt64},
    "runs.parquet": {"run_id": pl.Utf8, "kind": pl.Utf8,
                     "inputs": pl.List(pl.Struct({"artifact_id": pl.Utf8, "role": pl.Utf8})),
                     "outputs": pl.List(pl.Utf8)},
    "findings.parquet": {"code": pl.Utf8, "severity": pl.Utf8, "path": pl.List(pl.Utf8)},
}
for name, rows in expected.items():
    path = export / name
    duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    frame = pl.read_parquet(path)
    assert duck == rows, f"{name}: DuckDB counts {duck}, expected {rows}"
    assert frame.height == rows, f"{name}: polars counts {frame.height}, expected {rows}"
    for col, dtype in columns.get(name, {}).items():
        assert frame.schema[col] == dtype, f"{name}.{col}: {frame.schema[col]} is not {dtype}"
# A question across tables, in DuckDB: which training inputs came from which generator.
duckdb.sql(f"""
    SELECT r.name, i.role FROM read_parquet('{export / "runs.parquet"}') r, unnest(r.inputs) AS t(i)
""").fetchall()
print("ok")
