//! Counting a dataset's rows per source value with polars: every shard is scanned lazily by the
//! streaming engine and handed over in batches, so datasets larger than memory work; each
//! batch's rows are digested and counted per value of the source column.
//!
//! Row digest (`ROW_DIGEST_ALGORITHM`, docs/composition.md): for each row, the columns in
//! name order are folded into a 64-bit XXH3 chain (`h = xxh3_64_with_seed(value, seed)` where
//! the seed mixes the previous `h`, the column name and the value's type); a group's digest is
//! the two wrapping sums of its rows' `h` and of `h * K`, so it does not depend on row order,
//! shard order or how the engine batches the rows.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::error::{Error, Result};
use crate::records::{Composition, SourceGroup};

pub const ROW_DIGEST_ALGORITHM: &str = "xxh3-64-row-chain/sum128-v1";

/// Rows handed to the digest at once.
const BATCH_ROWS: usize = 128 * 1024;
/// Odd multiplier for the second lane of the group digest.
const LANE_B: u64 = 0x9E37_79B9_7F4A_7C15;

/// Dataset file formats the scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    Parquet,
    JsonLines,
    Csv,
    Ipc,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".zst"))
            .unwrap_or(&name);
        let ext = name.rsplit('.').next()?;
        Some(match ext {
            "parquet" | "pq" => Format::Parquet,
            "jsonl" | "ndjson" => Format::JsonLines,
            "csv" => Format::Csv,
            "arrow" | "ipc" | "feather" => Format::Ipc,
            _ => return None,
        })
    }
}

/// The data files of a dataset path: the file itself, or every file of a readable format
/// under a directory (sorted, so results and errors are reproducible).
pub fn data_files(path: &Path) -> Result<Vec<(PathBuf, Format)>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, "reading", e))?;
    if meta.is_file() {
        let format = Format::of(path).ok_or_else(|| {
            bad(
                path,
                "unknown format; composition reads .parquet, .jsonl/.ndjson, .csv and .arrow/.ipc files",
            )
        })?;
        return Ok(vec![(path.to_path_buf(), format)]);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "listing", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, "listing", e))?;
            let p = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = std::fs::metadata(&p).map_err(|e| Error::io(&p, "reading", e))?;
            if ft.is_dir() {
                stack.push(p);
            } else if let Some(format) = Format::of(&p) {
                files.push((p, format));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(bad(
            path,
            "no .parquet, .jsonl/.ndjson, .csv or .arrow/.ipc files in this directory",
        ));
    }
    Ok(files)
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadDataset {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn lazy(path: &Path, format: Format) -> PolarsResult<LazyFrame> {
    let p = PlRefPath::try_from_path(path)?;
    match format {
        Format::Parquet => LazyFrame::scan_parquet(p, ScanArgsParquet::default()),
        Format::JsonLines => LazyJsonLineReader::new(p)
            .with_infer_schema_length(NonZeroUsize::new(10_000))
            .finish(),
        Format::Csv => LazyCsvReader::new(p)
            .with_infer_schema_length(Some(10_000))
            .finish(),
        Format::Ipc => LazyFrame::scan_ipc(p, Default::default(), Default::default()),
    }
}

/// Per-value totals while scanning.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    rows: u64,
    lane_a: u64,
    lane_b: u64,
}

impl Acc {
    fn add(&mut self, h: u64) {
        self.rows += 1;
        self.lane_a = self.lane_a.wrapping_add(h);
        self.lane_b = self.lane_b.wrapping_add(h.wrapping_mul(LANE_B) ^ (h >> 29));
    }
    fn merge(&mut self, o: &Acc) {
        self.rows += o.rows;
        self.lane_a = self.lane_a.wrapping_add(o.lane_a);
        self.lane_b = self.lane_b.wrapping_add(o.lane_b);
    }
}

type Groups = HashMap<Option<String>, Acc>;

/// A shard's columns with their types, sorted by name.
type Columns = Vec<(String, DataType)>;

/// Counts and digests the rows of `path` (a file or a directory of shards) per value of
/// `column`. Every shard must have the same columns with the same types; the error names the
/// first file that differs. Groups come back unmapped; `SourceMap::apply` maps them.
pub fn scan(path: &Path, column: &str) -> Result<Composition> {
    let files = data_files(path)?;
    // Schemas first, in order, so a mismatch names the same file every time.
    let mut expected: Option<(PathBuf, Vec<(String, DataType)>)> = None;
    let mut shards: Vec<(&Path, LazyFrame, Columns)> = Vec::new();
    for (file, format) in &files {
        let mut lf = lazy(file, *format).map_err(|e| bad(file, e.to_string()))?;
        let schema = lf
            .collect_schema()
            .map_err(|e| bad(file, format!("cannot read the schema: {e}")))?;
        let mut columns: Vec<(String, DataType)> = schema
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        if !columns.iter().any(|(n, _)| n == column) {
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            return Err(bad(
                file,
                format!(
                    "no column '{column}' (columns: {}); pass the column that names each row's source with --source-column",
                    names.join(", ")
                ),
            ));
        }
        match &expected {
            None => expected = Some((file.clone(), columns.clone())),
            Some((first, cols)) if *cols != columns => {
                return Err(bad(
                    file,
                    format!(
                        "schema differs from {}: {} vs {}; every shard of a dataset must have the same columns and types",
                        first.display(),
                        describe(&columns),
                        describe(cols)
                    ),
                ));
            }
            Some(_) => {}
        }
        shards.push((file, lf, columns));
    }
    // Then the rows, shards side by side (each streams in batches); the first shard in order
    // that fails is the one reported.
    use rayon::prelude::*;
    let counted: Vec<Result<Groups>> = shards
        .into_par_iter()
        .map(|(file, lf, columns)| scan_shard(file, lf, &columns, column))
        .collect();
    let mut totals: Groups = HashMap::new();
    for part in counted {
        for (k, v) in part? {
            totals.entry(k).or_default().merge(&v);
        }
    }
    Ok(into_composition(column, totals))
}

/// Count and digest one shard's rows per source value.
fn scan_shard(
    file: &Path,
    lf: LazyFrame,
    columns: &[(String, DataType)],
    column: &str,
) -> Result<Groups> {
    let totals: Arc<Mutex<Groups>> = Arc::new(Mutex::new(HashMap::new()));
    let names: Vec<Expr> = columns.iter().map(|(n, _)| col(n.as_str())).collect();
    let plan = Arc::new(RowPlan::new(columns, column));
    let sink_totals = totals.clone();
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let sink_failure = failure.clone();
    let result = lf
        .select(names)
        .sink_batches(
            PlanCallback::new(move |df: DataFrame| match plan.digest(&df) {
                Ok(local) => {
                    let mut all = sink_totals.lock().unwrap_or_else(|p| p.into_inner());
                    for (k, v) in local {
                        all.entry(k).or_default().merge(&v);
                    }
                    Ok(false)
                }
                Err(e) => {
                    *sink_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    Ok(true)
                }
            }),
            false,
            NonZeroUsize::new(BATCH_ROWS),
        )
        .and_then(|lf| lf.collect_with_engine(Engine::Streaming));
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(bad(file, e));
    }
    result.map_err(|e| bad(file, format!("cannot read the rows: {e}")))?;
    let totals = std::mem::take(&mut *totals.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(totals)
}

fn describe(columns: &[(String, DataType)]) -> String {
    let parts: Vec<String> = columns.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    format!("[{}]", parts.join(", "))
}

fn into_composition(column: &str, totals: Groups) -> Composition {
    let mut groups: Vec<SourceGroup> = totals
        .into_iter()
        .map(|(value, acc)| SourceGroup {
            value,
            rows: acc.rows,
            digest: format!("{:016x}{:016x}", acc.lane_a, acc.lane_b),
            source: None,
            mapped: false,
        })
        .collect();
    // Values in order, null last.
    groups.sort_by(|a, b| match (&a.value, &b.value) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Composition {
        column: column.to_string(),
        rows: groups.iter().map(|g| g.rows).sum(),
        digest_algorithm: ROW_DIGEST_ALGORITHM.into(),
        groups,
    }
}

/// How one batch's rows are digested: column names (sorted) with their seeds.
struct RowPlan {
    columns: Vec<(String, u64)>,
    source: String,
}

/// Type tags mixed into the seed, so `1` (integer), `"1"` (text) and `1.0` differ.
mod tag {
    pub const NULL: u64 = 0x6e75_6c6c;
    pub const TEXT: u64 = 1;
    pub const INT: u64 = 2;
    pub const UINT: u64 = 3;
    pub const FLOAT: u64 = 4;
    pub const BOOL: u64 = 5;
    pub const BINARY: u64 = 6;
    pub const OTHER: u64 = 7;
}

impl RowPlan {
    fn new(columns: &[(String, DataType)], source: &str) -> RowPlan {
        RowPlan {
            columns: columns
                .iter()
                .map(|(n, _)| (n.clone(), xxh3_64(n.as_bytes())))
                .collect(),
            source: source.to_string(),
        }
    }

    fn digest(&self, df: &DataFrame) -> std::result::Result<Groups, String> {
        let height = df.height();
        let mut hashes = vec![0u64; height];
        for (name, name_seed) in &self.columns {
            let column = df
                .column(name)
                .map_err(|e| format!("column '{name}': {e}"))?;
            let series = column.as_materialized_series();
            fold_column(series, *name_seed, &mut hashes)
                .map_err(|e| format!("column '{name}': {e}"))?;
        }
        let source = df
            .column(&self.source)
            .map_err(|e| format!("column '{}': {e}", self.source))?
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(|e| format!("column '{}' cannot be read as text: {e}", self.source))?;
        let values = source.str().map_err(|e| e.to_string())?;
        // Keyed by the batch's own strings (no allocation per row), owned once per batch.
        let mut local: HashMap<Option<&str>, Acc, ahash::RandomState> = HashMap::default();
        // Sources often come in runs (one shard or block per source): reuse the last slot.
        let mut last: Option<(Option<&str>, Acc)> = None;
        for (value, h) in values.iter().zip(hashes) {
            match &mut last {
                Some((v, acc)) if *v == value => acc.add(h),
                _ => {
                    if let Some((v, acc)) = last.take() {
                        local.entry(v).or_default().merge(&acc);
                    }
                    let mut acc = Acc::default();
                    acc.add(h);
                    last = Some((value, acc));
                }
            }
        }
        if let Some((v, acc)) = last {
            local.entry(v).or_default().merge(&acc);
        }
        Ok(local
            .into_iter()
            .map(|(v, acc)| (v.map(str::to_string), acc))
            .collect())
    }
}

fn seed(prev: u64, name_seed: u64, tag: u64) -> u64 {
    prev.rotate_left(23) ^ name_seed ^ tag.wrapping_mul(LANE_B)
}

/// Folds one column's values into the running row hashes.
fn fold_column(series: &Series, name_seed: u64, hashes: &mut [u64]) -> PolarsResult<()> {
    let fold = |hashes: &mut [u64], i: usize, tag: u64, bytes: Option<&[u8]>| {
        hashes[i] = match bytes {
            Some(b) => xxh3_64_with_seed(b, seed(hashes[i], name_seed, tag)),
            None => xxh3_64_with_seed(&[], seed(hashes[i], name_seed, tag::NULL)),
        };
    };
    match series.dtype() {
        DataType::String => {
            for (i, v) in series.str()?.iter().enumerate() {
                fold(hashes, i, tag::TEXT, v.map(str::as_bytes));
            }
        }
        DataType::Boolean => {
            for (i, v) in series.bool()?.iter().enumerate() {
                fold(
                    hashes,
                    i,
                    tag::BOOL,
                    v.map(|b| if b { &[1u8][..] } else { &[0u8][..] }),
                );
            }
        }
        DataType::Binary => {
            for (i, v) in series.binary()?.iter().enumerate() {
                fold(hashes, i, tag::BINARY, v);
            }
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let s = series.cast(&DataType::UInt64)?;
            for (i, v) in s.u64()?.iter().enumerate() {
                let bytes = v.map(u64::to_le_bytes);
                fold(hashes, i, tag::UINT, bytes.as_ref().map(|b| &b[..]));
            }
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let s = series.cast(&DataType::Int64)?;
            for (i, v) in s.i64()?.iter().enumerate() {
                let bytes = v.map(i64::to_le_bytes);
                fold(hashes, i, tag::INT, bytes.as_ref().map(|b| &b[..]));
            }
        }
        DataType::Float32 | DataType::Float64 => {
            let s = series.cast(&DataType::Float64)?;
            for (i, v) in s.f64()?.iter().enumerate() {
                // One bit pattern for every NaN and for ±0, so equal values digest equally.
                let bytes = v.map(|f| {
                    let f = if f.is_nan() {
                        f64::NAN
                    } else if f == 0.0 {
                        0.0
                    } else {
                        f
                    };
                    f.to_bits().to_le_bytes()
                });
                fold(hashes, i, tag::FLOAT, bytes.as_ref().map(|b| &b[..]));
            }
        }
        _ => {
            // Dates, times, lists, structs…: their text form (ISO dates, JSON-like nesting).
            match series.cast(&DataType::String) {
                Ok(text) => {
                    for (i, v) in text.str()?.iter().enumerate() {
                        fold(hashes, i, tag::OTHER, v.map(str::as_bytes));
                    }
                }
                Err(_) => {
                    for i in 0..series.len() {
                        let value = series.get(i)?;
                        if value.is_null() {
                            fold(hashes, i, tag::OTHER, None);
                        } else {
                            let text = format!("{value}");
                            fold(hashes, i, tag::OTHER, Some(text.as_bytes()));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    #[test]
    fn counts_rows_per_source_and_digests_independently_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        write(
            &a,
            "1.jsonl",
            "{\"source\":\"x\",\"text\":\"one\"}\n{\"source\":\"y\",\"text\":\"two\"}\n",
        );
        write(
            &a,
            "2.jsonl",
            "{\"source\":\"x\",\"text\":\"three\"}\n{\"source\":null,\"text\":\"four\"}\n",
        );
        // The same rows, shuffled across shards differently.
        write(&b, "1.jsonl", "{\"source\":\"x\",\"text\":\"three\"}\n");
        write(&b, "2.jsonl", "{\"source\":null,\"text\":\"four\"}\n{\"source\":\"y\",\"text\":\"two\"}\n{\"source\":\"x\",\"text\":\"one\"}\n");
        let ca = scan(&a, "source").unwrap();
        let cb = scan(&b, "source").unwrap();
        assert_eq!(ca, cb);
        assert_eq!(ca.rows, 4);
        let counts: Vec<(Option<&str>, u64)> = ca
            .groups
            .iter()
            .map(|g| (g.value.as_deref(), g.rows))
            .collect();
        assert_eq!(counts, vec![(Some("x"), 2), (Some("y"), 1), (None, 1)]);
        // A changed row changes its group's digest and only that one.
        write(&b, "1.jsonl", "{\"source\":\"x\",\"text\":\"THREE\"}\n");
        let cc = scan(&b, "source").unwrap();
        assert_ne!(cc.groups[0].digest, ca.groups[0].digest);
        assert_eq!(cc.groups[1].digest, ca.groups[1].digest);
    }

    #[test]
    fn missing_column_and_mixed_schema_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "1.jsonl",
            "{\"source\":\"x\",\"text\":\"one\"}\n",
        );
        let e = scan(dir.path(), "origin").unwrap_err().to_string();
        assert!(
            e.contains("1.jsonl") && e.contains("no column 'origin'"),
            "{e}"
        );
        write(dir.path(), "2.jsonl", "{\"source\":\"x\",\"text\":7}\n");
        let e = scan(dir.path(), "source").unwrap_err().to_string();
        assert!(e.contains("2.jsonl") && e.contains("schema differs"), "{e}");
    }

    #[test]
    fn malformed_shard_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.parquet", "this is not parquet");
        let e = scan(dir.path(), "source").unwrap_err().to_string();
        assert!(e.contains("a.parquet"), "{e}");
    }
}
