"""Read an mlprov store's segments where they lie with DuckDB and polars; check record counts.

Usage: segment_readers.py STORE_DIR EXPECTED_JSON
EXPECTED_JSON maps table names to the number of distinct record ids. Segments come in two
encodings (plain for small writes, zstd with dictionaries for large ones); both engines must
read every segment of every table and, de-duplicated by record_id, find the expected counts.
"""
import json
import sys
from pathlib import Path

import duckdb
import polars as pl

segments = Path(sys.argv[1]) / ".mlprov" / "segments"
expected = json.loads(sys.argv[2])
found = {}
for table, count in expected.items():
    glob = str(segments / table / "*.parquet")
    duck = duckdb.sql(f"SELECT count(DISTINCT record_id) FROM read_parquet('{glob}')").fetchone()[0]
    polars = pl.scan_parquet(glob).select(pl.col("record_id").n_unique()).collect().item()
    found[table] = {"duckdb": duck, "polars": polars}
    if duck != count or polars != count:
        print(json.dumps({"expected": expected, "found": found}))
        sys.exit(1)
# Both encodings must have been read: the artifacts table holds a large write and small ones.
codecs = {c for (c,) in duckdb.sql(
    f"SELECT DISTINCT compression FROM parquet_metadata('{segments / 'artifacts' / '*.parquet'}')"
).fetchall()}
if not {"UNCOMPRESSED", "ZSTD"} <= codecs:
    print(json.dumps({"codecs": sorted(codecs), "expected": ["UNCOMPRESSED", "ZSTD"]}))
    sys.exit(1)
found["artifact_codecs"] = sorted(codecs)
print(json.dumps(found))
