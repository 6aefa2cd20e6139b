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
use polars_arrow::array::Array;
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
        let mut groups = BatchGroups::default();
        let mut row = 0;
        for arr in values.downcast_iter() {
            let validity = null_mask(arr);
            for (j, view) in arr.views().iter().enumerate() {
                let slot = if validity.is_some_and(|b| !b.get_bit(j)) {
                    groups.null_slot()
                } else if view.length <= 12 {
                    // Short values live whole in the view: 16 bytes identify them.
                    groups.inline_slot(view.as_u128(), || arr.value(j))
                } else {
                    groups.long_slot(arr.value(j))
                };
                groups.slots[slot].1.add(hashes[row]);
                row += 1;
            }
        }
        let mut local: Groups = HashMap::new();
        for (value, acc) in groups.slots {
            local
                .entry(value.map(str::to_string))
                .or_default()
                .merge(&acc);
        }
        Ok(local)
    }
}

/// Short source values looked up by a scan before falling back to a hash of the view.
const INLINE_SCAN: usize = 16;

/// One batch's accumulators, one slot per distinct source value, found without hashing the
/// value for short (inline) strings: a dataset has a handful of sources, and looking each row's
/// value up in a hash map was about a tenth of the scan's time.
#[derive(Default)]
struct BatchGroups<'a> {
    slots: Vec<(Option<&'a str>, Acc)>,
    /// The first few short values, searched in order (a mix has a handful of sources) …
    inline: Vec<(u128, usize)>,
    /// … and the rest hashed by their view, so a column with thousands of distinct short
    /// values stays linear.
    inline_more: HashMap<u128, usize, ahash::RandomState>,
    long: HashMap<&'a str, usize, ahash::RandomState>,
    null: Option<usize>,
}

impl<'a> BatchGroups<'a> {
    fn new_slot(&mut self, value: Option<&'a str>) -> usize {
        self.slots.push((value, Acc::default()));
        self.slots.len() - 1
    }
    fn null_slot(&mut self) -> usize {
        match self.null {
            Some(s) => s,
            None => {
                let s = self.new_slot(None);
                self.null = Some(s);
                s
            }
        }
    }
    fn inline_slot(&mut self, view: u128, value: impl FnOnce() -> &'a str) -> usize {
        if let Some(&(_, s)) = self.inline.iter().find(|(v, _)| *v == view) {
            return s;
        }
        if let Some(&s) = self.inline_more.get(&view) {
            return s;
        }
        let s = self.new_slot(Some(value()));
        if self.inline.len() < INLINE_SCAN {
            self.inline.push((view, s));
        } else {
            self.inline_more.insert(view, s);
        }
        s
    }
    fn long_slot(&mut self, value: &'a str) -> usize {
        if let Some(&s) = self.long.get(value) {
            return s;
        }
        let s = self.new_slot(Some(value));
        self.long.insert(value, s);
        s
    }
}

/// A chunk's validity bitmap when it has nulls; `None` when every value is valid, so loops
/// skip the per-row bit test on the common null-free chunk.
fn null_mask<A: Array + ?Sized>(arr: &A) -> Option<&polars_arrow::bitmap::Bitmap> {
    arr.validity().filter(|b| b.unset_bits() > 0)
}

fn seed(prev: u64, name_seed: u64, tag: u64) -> u64 {
    prev.rotate_left(23) ^ name_seed ^ tag.wrapping_mul(LANE_B)
}

/// Folds one column's values into the running row hashes. Values are read chunk by chunk
/// from the Arrow buffers (validity looked at only where a chunk has nulls).
fn fold_column(series: &Series, name_seed: u64, hashes: &mut [u64]) -> PolarsResult<()> {
    let fold = |hashes: &mut [u64], i: usize, tag: u64, bytes: Option<&[u8]>| {
        hashes[i] = match bytes {
            Some(b) => xxh3_64_with_seed(b, seed(hashes[i], name_seed, tag)),
            None => xxh3_64_with_seed(&[], seed(hashes[i], name_seed, tag::NULL)),
        };
    };
    // Fixed-width values as little-endian bytes, through `bytes_of`.
    macro_rules! fold_primitive {
        ($ca:expr, $tag:expr, $bytes_of:expr) => {{
            let mut i = 0;
            for arr in $ca.downcast_iter() {
                let validity = null_mask(arr);
                for (j, v) in arr.values().iter().enumerate() {
                    if validity.is_some_and(|b| !b.get_bit(j)) {
                        fold(hashes, i, $tag, None);
                    } else {
                        let b = $bytes_of(*v);
                        fold(hashes, i, $tag, Some(b.as_ref()));
                    }
                    i += 1;
                }
            }
        }};
    }
    match series.dtype() {
        DataType::String => {
            let mut i = 0;
            for arr in series.str()?.downcast_iter() {
                let validity = null_mask(arr);
                for (j, v) in arr.values_iter().enumerate() {
                    let valid = validity.is_none_or(|b| b.get_bit(j));
                    fold(hashes, i, tag::TEXT, valid.then_some(v.as_bytes()));
                    i += 1;
                }
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
            fold_primitive!(s.u64()?, tag::UINT, u64::to_le_bytes);
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let s = series.cast(&DataType::Int64)?;
            fold_primitive!(s.i64()?, tag::INT, i64::to_le_bytes);
        }
        DataType::Float32 | DataType::Float64 => {
            let s = series.cast(&DataType::Float64)?;
            // One bit pattern for every NaN and for ±0, so equal values digest equally.
            let canonical = |f: f64| {
                let f = if f.is_nan() {
                    f64::NAN
                } else if f == 0.0 {
                    0.0
                } else {
                    f
                };
                f.to_bits().to_le_bytes()
            };
            fold_primitive!(s.f64()?, tag::FLOAT, canonical);
        }
        DataType::Decimal(_, scale) => {
            // Their text form (as the cast to text writes it), formatted here without building
            // a text column.
            // The text is hashed where it was formatted: returning the buffer by value (as
            // `fold_primitive!` does) copied it right after its bytes were written, a store
            // forwarding stall that was a fifth of this loop.
            let scale = *scale;
            let mut text = DecimalText::default();
            let mut i = 0;
            for arr in series.decimal()?.physical().downcast_iter() {
                let validity = null_mask(arr);
                for (j, x) in arr.values().iter().enumerate() {
                    if validity.is_some_and(|b| !b.get_bit(j)) {
                        fold(hashes, i, tag::OTHER, None);
                    } else {
                        text.format(*x, scale);
                        fold(hashes, i, tag::OTHER, Some(text.as_ref()));
                    }
                    i += 1;
                }
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

/// A decimal's text in a fixed buffer: sign, whole digits (at least one) and exactly `scale`
/// fraction digits, as polars' cast of a decimal to text writes it.
struct DecimalText {
    buf: [u8; 48],
    len: usize,
}

impl Default for DecimalText {
    fn default() -> Self {
        DecimalText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl AsRef<[u8]> for DecimalText {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl DecimalText {
    fn format(&mut self, x: i128, scale: usize) {
        // Digits of |x|, least significant first (i128 has at most 39).
        let mut digits = [0u8; 40];
        let mut n = 0;
        // 128-bit division is a library call: only the digits above 64 bits take it; below,
        // dividing by 10 is a multiplication.
        let mut wide = x.unsigned_abs();
        while wide > u128::from(u64::MAX) {
            digits[n] = b'0' + (wide % 10) as u8;
            n += 1;
            wide /= 10;
        }
        let mut v = wide as u64;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        // Scale is at most 38 (polars' invariant); clamp so a corrupt schema cannot overflow.
        let scale = scale.min(38);
        let mut len = 0;
        if x < 0 {
            self.buf[0] = b'-';
            len = 1;
        }
        let whole = n.saturating_sub(scale);
        if whole == 0 {
            self.buf[len] = b'0';
            len += 1;
        }
        for k in (scale.min(n)..n).rev() {
            self.buf[len] = digits[k];
            len += 1;
        }
        if scale > 0 {
            self.buf[len] = b'.';
            len += 1;
            for k in (0..scale).rev() {
                self.buf[len] = if k < n { digits[k] } else { b'0' };
                len += 1;
            }
        }
        self.len = len;
    }
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
    fn many_distinct_sources_are_counted_apart() {
        let dir = tempfile::tempdir().unwrap();
        // 300 distinct values: 150 short ones (inline views, past the few scanned in order) and
        // 150 long ones.
        let mut text = String::new();
        for i in 0..2400 {
            let source = if i % 2 == 0 {
                format!("s{}", i % 300)
            } else {
                format!("a-long-source-name-{}", i % 300)
            };
            text.push_str(&format!("{{\"source\":\"{source}\",\"n\":{i}}}\n"));
        }
        write(dir.path(), "mix.jsonl", &text);
        let c = scan(dir.path(), "source").unwrap();
        assert_eq!(c.rows, 2400);
        assert_eq!(c.groups.len(), 300);
        assert!(c.groups.iter().all(|g| g.rows == 8), "{:?}", &c.groups[..3]);
    }

    #[test]
    fn decimals_digest_as_their_text() {
        let values = [0.0, 0.25, -0.25, 1.5, -3.0, 12345.67, -0.01, 99999.99];
        for scale in [0usize, 1, 2, 5] {
            let series = Series::new("d".into(), &values[..])
                .cast(&DataType::Decimal(20, scale))
                .unwrap();
            let text = series.cast(&DataType::String).unwrap();
            let expected: Vec<&str> = text.str().unwrap().iter().map(Option::unwrap).collect();
            let mut got = Vec::new();
            let mut buf = DecimalText::default();
            for x in series.decimal().unwrap().physical().into_no_null_iter() {
                buf.format(x, scale);
                got.push(String::from_utf8(buf.as_ref().to_vec()).unwrap());
            }
            assert_eq!(got, expected, "scale {scale}");
        }
    }

    #[test]
    fn wide_decimals_format_like_their_integer_text() {
        // Values past 64 bits take the 128-bit digits first, then the 64-bit ones.
        let reference = |x: i128, scale: usize| {
            let digits = x.unsigned_abs().to_string();
            let padded = format!("{digits:0>width$}", width = scale + 1);
            let (whole, fraction) = padded.split_at(padded.len() - scale);
            let sign = if x < 0 { "-" } else { "" };
            match scale {
                0 => format!("{sign}{whole}"),
                _ => format!("{sign}{whole}.{fraction}"),
            }
        };
        let wide = i128::from(u64::MAX);
        let mut buf = DecimalText::default();
        for x in [
            wide,
            wide + 1,
            -(wide + 1),
            10i128.pow(30) + 7,
            i128::MAX,
            i128::MIN,
            12,
            0,
        ] {
            for scale in [0usize, 3, 20, 38] {
                buf.format(x, scale);
                assert_eq!(
                    String::from_utf8(buf.as_ref().to_vec()).unwrap(),
                    reference(x, scale),
                    "{x} scale {scale}"
                );
            }
        }
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
