//! The provenance store: an append-only set of immutable, content-addressed records kept as
//! Parquet segment files.
//!
//! ```text
//! <project>/.mlprov/
//!   mlprov-store.json                 format marker
//!   segments/<table>/<uuid-v7>.parquet one file per write per table
//!   cache/stat/                       local stat cache (not part of the store's data)
//! ```
//!
//! Writers only ever add files (temporary name, fsync, rename), so any number of processes
//! can write at once without locks and a crash never leaves a half-visible record. Readers
//! take the union of all segments and keep one record per `record_id`. Compaction writes the
//! merged segment first and only then removes the old ones: duplicates are harmless, so it is
//! safe at any moment.
//!
//! The same layout lives on object storage (`s3://bucket/prefix`, `gs://`, `az://`): the
//! prefix holds `mlprov-store.json` and `segments/`, each segment is one PUT (`object.rs`),
//! and the stat cache stays on the local machine (it describes local files).

pub mod backend;
mod compact;
pub mod object;
pub mod segment;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::content::stat_cache::StatCache;
use crate::content::STORE_DIR_NAME;
use crate::error::{Error, Result};
use crate::records::{
    ArtifactRecord, Batch, LicenseClaimRecord, ReleaseRecord, RunRecord, StoredRecord, WaiverRecord,
};
use backend::{Backend, LocalBackend, ObjectInfo};
use segment::Table;

pub const MARKER_FILE: &str = "mlprov-store.json";
pub const SEGMENTS: &str = "segments";
pub const STORE_FORMAT_VERSION: u32 = 1;
/// Environment variable naming the store, below `--store` and above discovery.
pub const STORE_ENV: &str = "MLPROV_STORE";

/// Tables in the order a batch is written: referenced records before the records naming them.
pub const TABLES: [&str; 5] = [
    <ArtifactRecord as StoredRecord>::TABLE,
    <LicenseClaimRecord as StoredRecord>::TABLE,
    <RunRecord as StoredRecord>::TABLE,
    <ReleaseRecord as StoredRecord>::TABLE,
    <WaiverRecord as StoredRecord>::TABLE,
];

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Segments fetched at once: many small ones (concurrent GETs pay off), but never more than
/// about [`FETCH_CHUNK_BYTES`] of raw bytes held together (large compacted segments come one
/// or two at a time).
fn fetch_chunks(listed: &[ObjectInfo]) -> Vec<&[ObjectInfo]> {
    fetch_chunks_of(listed, FETCH_CHUNK_BYTES)
}

/// Raw bytes per chunk of a table read; a selective read reads the artifact and run tables
/// side by side, so twice this is in memory at once.
const FETCH_CHUNK_BYTES: u64 = 32 << 20;

/// Raw bytes per chunk of [`Store::stream_segments`]: two chunks are in memory at once (one
/// consumed, one decoded). zstd segments decode to about twice their size in snappy, so this
/// went from 24 to 12 MiB with them (cold index build of the 1M bench store: peak 537–545 →
/// 501–525 MiB, as fast).
const STREAM_CHUNK_BYTES: u64 = 12 << 20;

fn fetch_chunks_of(listed: &[ObjectInfo], max_bytes: u64) -> Vec<&[ObjectInfo]> {
    const MAX_SEGMENTS: usize = 1024;
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, info) in listed.iter().enumerate() {
        if i > start && (i - start == MAX_SEGMENTS || bytes + info.size > max_bytes) {
            chunks.push(&listed[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += info.size;
    }
    if start < listed.len() {
        chunks.push(&listed[start..]);
    }
    chunks
}

/// Which values of a selected column to keep.
pub type Keep<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// Which records [`Store::load_selected`] reads, by id.
pub struct Selected<'a> {
    /// Artifact records, by artifact id.
    pub artifacts: Keep<'a>,
    /// License claims and releases, by the artifact id they name.
    pub about_artifacts: Keep<'a>,
    /// Run records, by run id.
    pub runs: Keep<'a>,
}

/// A column and the values of it to keep.
type Selection<'a> = (&'a str, Keep<'a>);

fn keys_of(listed: &[ObjectInfo]) -> Vec<String> {
    listed.iter().map(|i| i.key.clone()).collect()
}

/// Every record in the store, one per record id.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub artifacts: Vec<ArtifactRecord>,
    pub license_claims: Vec<LicenseClaimRecord>,
    pub runs: Vec<RunRecord>,
    pub releases: Vec<ReleaseRecord>,
    pub waivers: Vec<WaiverRecord>,
    /// Segment files read.
    pub segments: usize,
}

impl Snapshot {
    /// Adds the records of a second read (of other records) to this one.
    pub fn absorb(&mut self, other: Snapshot) {
        self.artifacts.extend(other.artifacts);
        self.license_claims.extend(other.license_claims);
        self.runs.extend(other.runs);
        self.releases.extend(other.releases);
        self.waivers.extend(other.waivers);
        self.segments += other.segments;
    }

    pub fn record_count(&self) -> usize {
        self.artifacts.len()
            + self.license_claims.len()
            + self.runs.len()
            + self.releases.len()
            + self.waivers.len()
    }
}

/// What one `append` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppendReceipt {
    pub segments: Vec<String>,
    pub records: usize,
}

/// What `compact` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompactReport {
    pub segments_before: usize,
    pub segments_after: usize,
    pub records: usize,
    pub temporaries_removed: usize,
}

pub struct Store {
    backend: Box<dyn Backend>,
    /// The `.mlprov` folder of a local store; for a store on object storage, its URL (messages
    /// only: nothing is read or written there through the file system).
    dir: PathBuf,
    /// The store's URL when it is on object storage.
    url: Option<String>,
    /// Where relative paths resolve and `mlprov.toml` is looked up: the folder containing
    /// `.mlprov`, or the current directory for a store on object storage.
    project: PathBuf,
    /// Local folder of the stat cache (`<cache>/stat`): `.mlprov/cache` for a local store, the
    /// user's cache folder for one on object storage.
    cache_dir: PathBuf,
    stat_cache: StatCache,
    /// The most records one segment holds ([`SEGMENT_MAX_RECORDS`]; smaller in tests).
    max_segment_records: usize,
}

/// The most records a write puts in one segment: a larger batch (an import, a compaction)
/// becomes several segments. A reader decodes each segment on one core and holds its bytes
/// whole, so one segment per table, as compaction used to write, left a core idle and raised
/// the peak memory: on the 1M-artifact bench store, a cached audit after compaction read its
/// records in 0.64–0.67 s at 893–925 MB peak; with parts of this size, 0.54–0.61 s at
/// 514–535 MB, as before compaction (256Ki-record parts: 575–600 MB).
pub const SEGMENT_MAX_RECORDS: usize = 128 * 1024;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn url_scheme(location: &str) -> Option<&str> {
    let (scheme, _rest) = location.split_once("://")?;
    (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())).then_some(scheme)
}

/// Whether a store location is a URL (`s3://...`, `file://...`) rather than a path.
pub fn is_url(location: &str) -> bool {
    url_scheme(location).is_some()
}

/// The local folder for caches of stores on object storage: `$XDG_CACHE_HOME/mlprov`, else
/// `~/.cache/mlprov`, else the system temporary folder.
fn user_cache_dir() -> PathBuf {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".cache"))
    };
    xdg.or_else(home)
        .unwrap_or_else(std::env::temp_dir)
        .join("mlprov")
}

/// Checks a store marker; `Err(reason)` when it is not one this version reads.
fn check_marker(bytes: &[u8]) -> std::result::Result<(), String> {
    let marker: Marker =
        serde_json::from_slice(bytes).map_err(|e| format!("{MARKER_FILE} is unreadable: {e}"))?;
    if marker.format != "mlprov-store" || marker.version > STORE_FORMAT_VERSION {
        return Err(format!(
            "format {} version {} (this mlprov reads version {STORE_FORMAT_VERSION}); upgrade mlprov",
            marker.format, marker.version
        ));
    }
    Ok(())
}

fn new_marker() -> Vec<u8> {
    serde_json::to_vec_pretty(&Marker {
        format: "mlprov-store".into(),
        version: STORE_FORMAT_VERSION,
        created_at: crate::records::now(),
    })
    .expect("marker serialises")
}

impl Store {
    /// Create a store in `project_dir/.mlprov` (or open it if it exists).
    pub fn init(project_dir: &Path) -> Result<Store> {
        let dir = project_dir.join(STORE_DIR_NAME);
        let marker = dir.join(MARKER_FILE);
        if !marker.exists() {
            for table in TABLES {
                let d = dir.join(SEGMENTS).join(table);
                std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, "creating store", e))?;
            }
            let body = new_marker();
            // Two concurrent inits both write the same marker; the rename makes either win whole.
            let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
            std::fs::write(&tmp, body).map_err(|e| Error::io(&tmp, "creating store", e))?;
            std::fs::rename(&tmp, &marker).map_err(|e| Error::io(&marker, "creating store", e))?;
        }
        Self::open_dir(&dir)
    }

    /// Create a store at an object-storage URL (or open it if it exists). The bucket must
    /// exist; the marker is written create-only, so concurrent inits keep the first one.
    pub fn init_url(url: &str) -> Result<Store> {
        let base = object::ObjectBackend::open(url)?;
        base.put_if_absent(MARKER_FILE, &new_marker())?;
        Self::open_object(base)
    }

    /// Open a store named by a path (the project folder or its `.mlprov` folder) or a URL.
    pub fn open(location: &str) -> Result<Store> {
        if let Some(scheme) = url_scheme(location) {
            if scheme.eq_ignore_ascii_case("file") {
                return Self::open(&location["file://".len()..]);
            }
            return Self::open_object(object::ObjectBackend::open(location)?);
        }
        let path = PathBuf::from(location);
        if path.join(MARKER_FILE).is_file() {
            return Self::open_dir(&path);
        }
        let nested = path.join(STORE_DIR_NAME);
        if nested.join(MARKER_FILE).is_file() {
            return Self::open_dir(&nested);
        }
        if !path.exists() {
            return Err(Error::NotAStore {
                path,
                reason: "the path does not exist".into(),
            });
        }
        Err(Error::NotAStore {
            path,
            reason: format!("no {STORE_DIR_NAME}/{MARKER_FILE} inside"),
        })
    }

    /// `--store` if given, else `MLPROV_STORE`, else the nearest `.mlprov` from `start` upwards.
    pub fn locate(explicit: Option<&str>, start: &Path) -> Result<Store> {
        if let Some(loc) = explicit.filter(|s| !s.is_empty()) {
            return Self::open(loc);
        }
        if let Ok(loc) = std::env::var(STORE_ENV) {
            if !loc.is_empty() {
                return Self::open(&loc);
            }
        }
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            let candidate = d.join(STORE_DIR_NAME);
            if candidate.join(MARKER_FILE).is_file() {
                return Self::open_dir(&candidate);
            }
            dir = d.parent();
        }
        Err(Error::StoreNotFound { start })
    }

    fn open_dir(dir: &Path) -> Result<Store> {
        let marker_path = dir.join(MARKER_FILE);
        let text = std::fs::read(&marker_path)
            .map_err(|e| Error::io(&marker_path, "reading store marker", e))?;
        check_marker(&text).map_err(|reason| Error::NotAStore {
            path: dir.to_path_buf(),
            reason,
        })?;
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let cache_dir = dir.join("cache");
        Ok(Store {
            backend: Box::new(LocalBackend::new(dir.join(SEGMENTS))),
            stat_cache: StatCache::new(cache_dir.join("stat")),
            cache_dir,
            project: dir.parent().unwrap_or(&dir).to_path_buf(),
            url: None,
            dir,
            max_segment_records: SEGMENT_MAX_RECORDS,
        })
    }

    /// A store on object storage: `base` is its prefix (marker and `segments/`).
    fn open_object(base: object::ObjectBackend) -> Result<Store> {
        let url = base.url().to_string();
        let not_a_store = |reason: String| Error::NotARemoteStore {
            url: url.clone(),
            reason,
        };
        let marker = base
            .get(MARKER_FILE)?
            .ok_or_else(|| not_a_store(format!("no {MARKER_FILE} under it")))?;
        check_marker(&marker).map_err(not_a_store)?;
        let project =
            std::env::current_dir().map_err(|e| Error::io(".", "reading current directory", e))?;
        let cache_dir = user_cache_dir();
        Ok(Store {
            backend: Box::new(base.child(SEGMENTS)),
            stat_cache: StatCache::new(cache_dir.join("stat")),
            cache_dir,
            project,
            dir: PathBuf::from(&url),
            url: Some(url),
            max_segment_records: SEGMENT_MAX_RECORDS,
        })
    }

    /// The `.mlprov` folder of a local store; the URL (as a path) of one on object storage.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store's URL when it is on object storage.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The folder that contains `.mlprov`, or the current directory for a store on object
    /// storage (relative paths in records are resolved from here; `mlprov.toml` is found here).
    pub fn project_dir(&self) -> &Path {
        &self.project
    }

    /// The stat cache: local even when the store is on object storage, because it describes
    /// files of this machine (see `user_cache_dir`).
    pub fn stat_cache(&self) -> &StatCache {
        &self.stat_cache
    }

    /// Local folder for caches derived from this store (stat cache, lineage index).
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn describe(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => self.dir.display().to_string(),
        }
    }

    fn write_table<T: Table>(&self, records: &[T], receipt: &mut AppendReceipt) -> Result<()> {
        // UUIDv7 names from one process ascend, so the parts list in the records' order.
        for part in records.chunks(self.max_segment_records) {
            let key = format!("{}/{}.parquet", T::TABLE, uuid::Uuid::now_v7());
            self.backend.put_new(&key, &segment::encode(part))?;
            receipt.segments.push(key);
            receipt.records += part.len();
        }
        Ok(())
    }

    /// The same store writing at most `records` records per segment (tests of the split).
    #[cfg(test)]
    fn with_max_segment_records(mut self, records: usize) -> Store {
        self.max_segment_records = records.max(1);
        self
    }

    /// Write a batch: one new segment per non-empty table, durable on return.
    pub fn append(&self, mut batch: Batch) -> Result<AppendReceipt> {
        batch.seal();
        let mut receipt = AppendReceipt::default();
        self.write_table(&batch.artifacts, &mut receipt)?;
        self.write_table(&batch.license_claims, &mut receipt)?;
        self.write_table(&batch.runs, &mut receipt)?;
        self.write_table(&batch.releases, &mut receipt)?;
        self.write_table(&batch.waivers, &mut receipt)?;
        Ok(receipt)
    }

    /// Segment files of one table.
    pub fn segments(&self, table: &str) -> Result<Vec<ObjectInfo>> {
        self.backend.list(table)
    }

    fn segment_path(&self, key: &str) -> PathBuf {
        self.backend
            .local_path(key)
            .unwrap_or_else(|| PathBuf::from(self.backend.location_of(key)))
    }

    /// Decode one segment's bytes; the error names the segment.
    fn decode_segment<T: Table>(&self, key: &str, bytes: bytes::Bytes) -> Result<Vec<T>> {
        segment::decode::<T>(bytes).map_err(|reason| Error::CorruptSegment {
            path: self.segment_path(key),
            reason,
        })
    }

    /// Raw bytes of many segments, in order (`None` for those compacted away meanwhile):
    /// concurrent GETs on object storage, parallel reads on a local store.
    pub fn fetch_segments(&self, keys: &[String]) -> Result<Vec<Option<bytes::Bytes>>> {
        self.backend.get_many(keys)
    }

    /// Read and decode many segments (see [`Store::fetch_segments`]); decoding runs in parallel.
    pub fn read_segments<T: Table>(&self, keys: &[String]) -> Result<Vec<Option<Vec<T>>>> {
        let fetched = self.fetch_segments(keys)?;
        fetched
            .into_par_iter()
            .zip(keys.par_iter())
            .map(|(bytes, key)| bytes.map(|b| self.decode_segment::<T>(key, b)).transpose())
            .collect()
    }

    /// Read and decode one segment; `Ok(None)` if it vanished (compacted) meanwhile.
    pub fn read_segment<T: Table>(&self, key: &str) -> Result<Option<Vec<T>>> {
        let Some(bytes) = self.backend.get(key)? else {
            return Ok(None);
        };
        self.decode_segment::<T>(key, bytes).map(Some)
    }

    /// One chunk of segments, fetched together and decoded in parallel; `None` when one of
    /// them vanished (a compaction merged it) since the listing.
    fn read_chunk<P: Send>(
        &self,
        chunk: &[ObjectInfo],
        decode: &(impl Fn(&str, bytes::Bytes) -> Result<P> + Sync),
    ) -> Result<Option<Vec<P>>> {
        let keys = keys_of(chunk);
        let fetched = self.fetch_segments(&keys)?;
        if fetched.iter().any(Option::is_none) {
            return Ok(None);
        }
        fetched
            .into_par_iter()
            .zip(keys.par_iter())
            .map(|(bytes, key)| decode(key, bytes.unwrap_or_default()))
            .collect::<Result<Vec<P>>>()
            .map(Some)
    }

    /// The named columns of one segment's bytes; a segment that cannot be read is named.
    fn decode_columns(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        table: &str,
        columns: &[&str],
    ) -> Result<Vec<arrow_array::RecordBatch>> {
        segment::decode_columns(bytes, table, columns).map_err(|reason| Error::CorruptSegment {
            path: self.segment_path(key),
            reason,
        })
    }

    /// Every segment of one table, fetched (concurrent GETs on object storage, parallel reads
    /// on a local store) in chunks that bound the raw bytes held at once, and decoded in
    /// parallel. Retries when compaction removes a listed segment mid-read (its records are
    /// then in the merged segment).
    fn read_table<P: Send>(
        &self,
        table: &str,
        decode: impl Fn(&str, bytes::Bytes) -> Result<P> + Sync,
    ) -> Result<(Vec<P>, usize)> {
        'attempt: for _attempt in 0..8 {
            let listed = self.segments(table)?;
            let mut parts = Vec::with_capacity(listed.len());
            for chunk in fetch_chunks(&listed) {
                let Some(decoded) = self.read_chunk(chunk, &decode)? else {
                    continue 'attempt;
                };
                parts.extend(decoded);
            }
            return Ok((parts, listed.len()));
        }
        Err(Error::Io {
            path: self.dir.clone(),
            action: "reading store",
            source: std::io::Error::other(
                "segments kept vanishing while reading (is a compaction loop running?)",
            ),
        })
    }

    /// All records of one table, de-duplicated by record id.
    pub fn load_table<T: Table>(&self) -> Result<(Vec<T>, usize)> {
        self.load_table_where::<T>(None)
    }

    /// The records of one table whose `column` passes `keep` (all of them without a
    /// selection), de-duplicated by record id.
    fn load_table_where<T: Table>(&self, select: Option<Selection<'_>>) -> Result<(Vec<T>, usize)> {
        let (parts, segments) = self.read_table(T::TABLE, |key, bytes| match select {
            None => self.decode_segment::<T>(key, bytes),
            Some((column, keep)) => {
                segment::decode_selected::<T>(bytes, column, keep).map_err(|reason| {
                    Error::CorruptSegment {
                        path: self.segment_path(key),
                        reason,
                    }
                })
            }
        })?;
        let records: Vec<T> = parts.into_iter().flatten().collect();
        // De-duplicate on borrowed ids (no copy of each id), then keep the first of each.
        let keep: Vec<bool> = {
            let mut seen: HashSet<&str> = HashSet::with_capacity(records.len());
            records.iter().map(|r| seen.insert(r.record_id())).collect()
        };
        let out: Vec<T> = if keep.iter().all(|k| *k) {
            records
        } else {
            records
                .into_iter()
                .zip(keep)
                .filter_map(|(r, k)| k.then_some(r))
                .collect()
        };
        Ok((out, segments))
    }

    /// The named columns of every segment of one table, as decoded batches (no de-duplication:
    /// callers that need one row per record do it on the columns).
    pub fn load_columns(
        &self,
        table: &str,
        columns: &[&str],
    ) -> Result<(Vec<arrow_array::RecordBatch>, usize)> {
        let (parts, segments) = self.read_table(table, |key, bytes| {
            self.decode_columns(key, bytes, table, columns)
        })?;
        Ok((parts.into_iter().flatten().collect(), segments))
    }

    /// The named columns of the `listed` segments of one table, handed to `consume` batch by
    /// batch in listing order while the next chunk of segments is decoded (a pass over a large
    /// table holds a chunk's batches, not the table's). The caller lists the segments, so one
    /// listing can serve several passes (the lineage index extends a cached index with only
    /// the segments added since). `None` when a segment vanished meanwhile (a compaction
    /// merged it): what was consumed is then incomplete; start over.
    pub fn stream_segments(
        &self,
        table: &str,
        listed: &[ObjectInfo],
        columns: &[&str],
        consume: &mut (dyn FnMut(arrow_array::RecordBatch) -> Result<()> + Send),
    ) -> Result<Option<usize>> {
        let chunks = fetch_chunks_of(listed, STREAM_CHUNK_BYTES);
        // Per chunk: its segments' batches, or None if one vanished.
        let decode = |chunk: &[ObjectInfo]| {
            self.read_chunk(chunk, &|key: &str, bytes| {
                self.decode_columns(key, bytes, table, columns)
            })
        };
        let mut current = match chunks.first() {
            Some(first) => decode(first)?,
            None => return Ok(Some(0)),
        };
        for i in 0..chunks.len() {
            let Some(parts) = current.take() else {
                return Ok(None);
            };
            let (next, consumed) = rayon::join(
                || chunks.get(i + 1).map(|c| decode(c)).transpose(),
                || parts.into_iter().flatten().try_for_each(&mut *consume),
            );
            consumed?;
            match next? {
                Some(decoded) => current = decoded,
                None => break,
            }
        }
        Ok(Some(listed.len()))
    }

    /// Every record in the store.
    pub fn load(&self) -> Result<Snapshot> {
        let mut snapshot = self.load_tables(None)?;
        let (waivers, w) = self.load_table::<WaiverRecord>()?;
        snapshot.waivers = waivers;
        snapshot.segments += w;
        Ok(snapshot)
    }

    /// The records a question needs, not every record (see [`Selected`]). Only the id column
    /// is decoded for the rows left out. Waivers are not read (a selection usually depends on
    /// what they name: read them first with `load_table`).
    pub fn load_selected(&self, select: &Selected<'_>) -> Result<Snapshot> {
        self.load_tables(Some(select))
    }

    /// Every table but the waivers, all records or those the selection keeps.
    fn load_tables(&self, select: Option<&Selected<'_>>) -> Result<Snapshot> {
        let by = |column, keep| select.map(|_| (column, keep));
        let everything: Keep<'_> = &|_| true;
        let about = by(
            "artifact_id",
            select.map_or(everything, |s| s.about_artifacts),
        );
        let artifact_side = || -> Result<_> {
            let artifacts = self.load_table_where::<ArtifactRecord>(by(
                "artifact_id",
                select.map_or(everything, |s| s.artifacts),
            ))?;
            let claims = self.load_table_where::<LicenseClaimRecord>(about)?;
            let releases = self.load_table_where::<ReleaseRecord>(about)?;
            Ok((artifacts, claims, releases))
        };
        let run_side = || {
            self.load_table_where::<RunRecord>(by("run_id", select.map_or(everything, |s| s.runs)))
        };
        // Side by side: a table's last chunk often has fewer segments than there are cores.
        let (artifact_side, run_side) = rayon::join(artifact_side, run_side);
        let ((artifacts, a), (license_claims, l), (releases, s)) = artifact_side?;
        let (runs, r) = run_side?;
        Ok(Snapshot {
            artifacts,
            license_claims,
            runs,
            releases,
            waivers: Vec::new(),
            segments: a + l + r + s,
        })
    }

    /// Temporary files left behind by writers (and stat-cache updates) killed mid-write. On
    /// object storage a segment is one PUT, so only the local stat cache can have any.
    pub fn stale_temporaries(&self, age: std::time::Duration) -> Vec<PathBuf> {
        let mut found = match self.url {
            None => backend::stale_temporaries(&self.dir.join(SEGMENTS), &TABLES, age),
            Some(_) => Vec::new(),
        };
        found.extend(backend::stale_temporaries(&self.cache_dir, &["stat"], age));
        found
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    fn info(size: u64) -> ObjectInfo {
        ObjectInfo {
            key: String::new(),
            size,
            modified: None,
        }
    }

    #[test]
    fn fetch_chunks_bound_bytes_and_count_and_keep_every_segment() {
        let mut listed: Vec<ObjectInfo> = (0..3000).map(|_| info(1000)).collect();
        listed.extend([info(100 << 20), info(40 << 20), info(40 << 20), info(1)]);
        let chunks = fetch_chunks(&listed);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), listed.len());
        assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 1024));
        // A segment larger than the budget comes alone; two that together exceed it are split.
        assert!(chunks
            .iter()
            .any(|c| c.len() == 1 && c[0].size == 100 << 20));
        assert!(chunks
            .iter()
            .all(|c| c.len() == 1 || c.iter().map(|i| i.size).sum::<u64>() <= FETCH_CHUNK_BYTES));
        assert!(fetch_chunks(&[]).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    fn artifact(n: u8) -> ArtifactRecord {
        crate::records::testing::dataset(n)
    }

    #[test]
    fn append_load_dedupe_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        for n in 0..5 {
            let batch = Batch {
                artifacts: vec![artifact(n), artifact(n % 2)],
                ..Default::default()
            };
            store.append(batch).unwrap();
        }
        let snap = store.load().unwrap();
        assert_eq!(snap.artifacts.len(), 5);
        assert_eq!(snap.segments, 5);

        let report = store.compact().unwrap();
        assert_eq!(report.segments_before, 5);
        assert_eq!(report.segments_after, 1);
        let snap = store.load().unwrap();
        assert_eq!(snap.artifacts.len(), 5);
        assert_eq!(snap.segments, 1);
    }

    #[test]
    fn large_writes_and_compactions_split_into_bounded_segments_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(3);
        let receipt = store
            .append(Batch {
                artifacts: (0..10).map(artifact).collect(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!((receipt.records, receipt.segments.len()), (10, 4));
        for n in 10..14 {
            store
                .append(Batch {
                    artifacts: vec![artifact(n)],
                    ..Default::default()
                })
                .unwrap();
        }
        let before = store.load().unwrap();
        assert_eq!((before.artifacts.len(), before.segments), (14, 8));
        let report = store.compact().unwrap();
        // The large write's three full segments stay as written; its last record and the four
        // small writes become two parts (3 + 2 records).
        assert_eq!(
            (
                report.segments_before,
                report.segments_after,
                report.records
            ),
            (8, 5, 5)
        );
        let after = store.load().unwrap();
        assert_eq!(after.segments, 5);
        let ids = |records: &[ArtifactRecord]| -> Vec<String> {
            records.iter().map(|a| a.record_id.clone()).collect()
        };
        assert_eq!(ids(&after.artifacts[..9]), ids(&before.artifacts[..9]));
        // Listed by name, the new parts give the rest in the order compaction sorted them.
        let mut rest = before.artifacts[9..].to_vec();
        rest.sort_by(|a, b| (a.recorded_at, &a.record_id).cmp(&(b.recorded_at, &b.record_id)));
        assert_eq!(ids(&after.artifacts[9..]), ids(&rest));
    }

    #[test]
    fn streamed_columns_are_every_segment_in_listing_order_and_errors_name_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        for n in 0..7 {
            let batch = Batch {
                artifacts: vec![artifact(n), artifact(n + 100)],
                ..Default::default()
            };
            store.append(batch).unwrap();
        }
        let (batches, segments) = store.load_columns("artifacts", &["artifact_id"]).unwrap();
        let listed = store.segments("artifacts").unwrap();
        use arrow_array::Array;
        let ids = |batches: &[arrow_array::RecordBatch]| -> Vec<String> {
            batches
                .iter()
                .flat_map(|b| {
                    let c = b
                        .column_by_name("artifact_id")
                        .unwrap()
                        .as_any()
                        .downcast_ref::<arrow_array::StringArray>()
                        .unwrap()
                        .clone();
                    (0..c.len()).map(move |i| c.value(i).to_string())
                })
                .collect()
        };
        let mut streamed = Vec::new();
        let count = store
            .stream_segments("artifacts", &listed, &["artifact_id"], &mut |b| {
                streamed.push(b);
                Ok(())
            })
            .unwrap();
        assert_eq!(count, Some(segments));
        assert_eq!(ids(&streamed), ids(&batches));
        assert_eq!(streamed.len(), 7);

        // A consumer's error stops the stream and is returned.
        let mut calls = 0;
        let stopped = store.stream_segments("artifacts", &listed, &["artifact_id"], &mut |_| {
            calls += 1;
            Err(Error::Io {
                path: dir.path().into(),
                action: "consuming",
                source: std::io::Error::other("stop"),
            })
        });
        assert!(stopped.is_err());
        assert_eq!(calls, 1);

        // A segment that is not Parquet is named in the error.
        let first = store.segments("artifacts").unwrap()[0].key.clone();
        std::fs::write(store.segment_path(&first), b"not parquet").unwrap();
        let err = store
            .stream_segments("artifacts", &listed, &["artifact_id"], &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&first), "{err}");
    }

    #[test]
    fn discovery_walks_up_and_env_and_flag_win() {
        let dir = tempfile::tempdir().unwrap();
        Store::init(dir.path()).unwrap();
        let deep = dir.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        let found = Store::locate(None, &deep).unwrap();
        assert_eq!(
            found.project_dir(),
            std::path::absolute(dir.path()).unwrap()
        );
        let other = tempfile::tempdir().unwrap();
        assert!(matches!(
            Store::locate(Some(other.path().to_str().unwrap()), &deep),
            Err(Error::NotAStore { .. })
        ));
        assert!(matches!(
            Store::open("ftp://host/prefix"),
            Err(Error::BadStoreUrl { .. })
        ));
        assert!(matches!(
            Store::open("s3:///prefix"),
            Err(Error::BadStoreUrl { .. })
        ));
    }

    #[test]
    fn temporaries_of_interrupted_writes_are_invisible() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        store
            .append(Batch {
                artifacts: vec![artifact(1)],
                ..Default::default()
            })
            .unwrap();
        // A writer killed between create and rename leaves an empty or partial temporary.
        std::fs::write(store.dir().join("segments/artifacts/.tmp-killed"), b"").unwrap();
        std::fs::write(store.dir().join("segments/runs/.tmp-partial"), b"PAR1\0\0").unwrap();
        assert_eq!(store.load().unwrap().artifacts.len(), 1);
        assert_eq!(store.stale_temporaries(std::time::Duration::ZERO).len(), 2);
        store.compact().unwrap();
    }

    #[test]
    fn corrupt_segment_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        store
            .append(Batch {
                artifacts: vec![artifact(1)],
                ..Default::default()
            })
            .unwrap();
        let bad = store.dir().join("segments/artifacts/0000-bad.parquet");
        std::fs::write(&bad, b"definitely not parquet").unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(&err, Error::CorruptSegment { path, .. } if path == &bad),
            "{err}"
        );
    }
}
