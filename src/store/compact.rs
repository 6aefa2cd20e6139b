//! Compaction: each table's segments merged into de-duplicated parts of at most
//! [`SEGMENT_MAX_RECORDS`](super::SEGMENT_MAX_RECORDS) records.
//!
//! A table is streamed, not held: a chunk of segments is decoded at a time, the records whose id
//! was not seen before join a buffer, and after each chunk, if the buffer holds a full part, it
//! is sorted (`recorded_at`, then id) and its full parts are written; the rest waits for the
//! next chunk. What stays in memory is the set of ids seen and at most a part plus a chunk of
//! records (a segment larger than a chunk, as an earlier version wrote, is decoded whole). The
//! segments read are deleted only after every part is durable, so the compaction is safe at any
//! moment: beside writers, readers, and another compaction (see docs/store.md).

use std::collections::HashSet;

use rayon::prelude::*;

use super::{fetch_chunks_of, keys_of, AppendReceipt, CompactReport, Store, FETCH_CHUNK_BYTES};
use crate::error::Result;
use crate::records::StoredRecord;
use crate::store::backend::ObjectInfo;
use crate::store::segment::{self, Table};

impl Store {
    /// Merge each table's segments (into parts of at most [`super::SEGMENT_MAX_RECORDS`]) and
    /// remove temporaries older than an hour.
    pub fn compact(&self) -> Result<CompactReport> {
        let mut report = CompactReport::default();
        self.compact_table::<crate::records::ArtifactRecord>(&mut report)?;
        self.compact_table::<crate::records::LicenseClaimRecord>(&mut report)?;
        self.compact_table::<crate::records::RunRecord>(&mut report)?;
        self.compact_table::<crate::records::ReleaseRecord>(&mut report)?;
        self.compact_table::<crate::records::WaiverRecord>(&mut report)?;
        for tmp in self.stale_temporaries(std::time::Duration::from_secs(3600)) {
            if std::fs::remove_file(&tmp).is_ok() {
                report.temporaries_removed += 1;
            }
        }
        Ok(report)
    }

    fn compact_table<T: Table>(&self, report: &mut CompactReport) -> Result<()> {
        self.compact_table_by::<T>(report, FETCH_CHUNK_BYTES)
    }

    /// [`Store::compact_table`] reading segments in chunks of at most `chunk_bytes` (a segment
    /// larger than that is a chunk of its own).
    fn compact_table_by<T: Table>(
        &self,
        report: &mut CompactReport,
        chunk_bytes: u64,
    ) -> Result<()> {
        let listed = self.segments(T::TABLE)?;
        report.segments_before += listed.len();
        if listed.len() == 1 && self.is_compact::<T>(&listed[0].key)? {
            report.segments_after += 1;
            return Ok(());
        }
        let mut receipt = AppendReceipt::default();
        let merged = match self.merge_into_parts::<T>(&listed, chunk_bytes, &mut receipt) {
            Ok(merged) => merged,
            Err(e) => {
                // The parts written so far repeat records of inputs that all stay, so they go:
                // a compaction failing at the same bad segment every night must not add a copy
                // of the table each time. Safe beside another compaction (one that listed them
                // finds the same records in those inputs) and beside readers (a vanished
                // segment makes them list again).
                let _ = self.backend.delete_many(&receipt.segments);
                return Err(e);
            }
        };
        // Only now that every part is durable may the inputs go.
        self.backend.delete_many(&merged.read)?;
        report.records += receipt.records;
        report.segments_after += receipt.segments.len() + merged.kept;
        Ok(())
    }

    /// Write the de-duplicated records of the `listed` segments as parts (see the module
    /// docs). A full segment (a part's size, as a compaction or a large write leaves it) is
    /// first read for its ids alone, and kept as it is when none of them was seen before: a
    /// second compaction rewrites only what was added since the first.
    fn merge_into_parts<T: Table>(
        &self,
        listed: &[ObjectInfo],
        chunk_bytes: u64,
        receipt: &mut AppendReceipt,
    ) -> Result<Merged> {
        let part = self.max_segment_records;
        let mut seen = SeenIds::default();
        let mut pending: Vec<T> = Vec::new();
        let mut merged = Merged::default();
        for chunk in fetch_chunks_of(listed, chunk_bytes) {
            let keys = keys_of(chunk);
            let fetched = self.fetch_segments(&keys)?;
            let segments: Vec<Option<Fetched<T>>> = fetched
                .into_par_iter()
                .zip(keys.par_iter())
                .map(|(bytes, key)| bytes.map(|b| self.open_for_merge::<T>(key, b)).transpose())
                .collect::<Result<_>>()?;
            for (key, segment) in keys.into_iter().zip(segments) {
                let records = match segment {
                    // A segment another compaction removed is already merged elsewhere.
                    None => continue,
                    Some(Fetched::Full { ids, .. }) if seen.all_new(&ids) => {
                        ids.iter().for_each(|id| {
                            seen.insert(id);
                        });
                        merged.kept += 1;
                        continue;
                    }
                    Some(Fetched::Full { bytes, .. }) => self.decode_segment::<T>(&key, bytes)?,
                    Some(Fetched::Records(records)) => records,
                };
                merged.read.push(key);
                pending.reserve(records.len());
                pending.extend(records.into_iter().filter(|r| seen.insert(r.record_id())));
            }
            if pending.len() >= part {
                sort_for_parts(&mut pending);
                let full = pending.len() / part * part;
                self.write_table(&pending[..full], receipt)?;
                pending.drain(..full);
            }
        }
        sort_for_parts(&mut pending);
        self.write_table(&pending, receipt)?;
        Ok(merged)
    }

    /// A fetched segment: a full one's ids (its records are decoded only if it is rewritten),
    /// any other's records.
    fn open_for_merge<T: Table>(&self, key: &str, bytes: bytes::Bytes) -> Result<Fetched<T>> {
        if self.record_count::<T>(key, bytes.clone())? != self.max_segment_records {
            return Ok(Fetched::Records(self.decode_segment::<T>(key, bytes)?));
        }
        let mut ids = Vec::with_capacity(self.max_segment_records);
        for batch in self.decode_columns(key, bytes.clone(), T::TABLE, &["record_id"])? {
            let column = batch
                .column_by_name("record_id")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                .ok_or_else(|| crate::Error::CorruptSegment {
                    path: self.segment_path(key),
                    reason: "no text column 'record_id'".into(),
                })?;
            ids.extend(column.iter().map(|id| id.unwrap_or_default().to_string()));
        }
        Ok(Fetched::Full { ids, bytes })
    }

    /// A segment's record count, from its footer; the error names the segment.
    fn record_count<T: Table>(&self, key: &str, bytes: bytes::Bytes) -> Result<usize> {
        segment::record_count::<T>(bytes).map_err(|reason| crate::Error::CorruptSegment {
            path: self.segment_path(key),
            reason,
        })
    }

    /// A table's only segment needs no rewrite when it is within the part size and holds each
    /// record once. One written whole by an earlier version (a million records in one file)
    /// is split; it would otherwise stay until the table's next write.
    fn is_compact<T: Table>(&self, key: &str) -> Result<bool> {
        let Some(bytes) = self.backend.get(key)? else {
            return Ok(false);
        };
        // The footer first: an oversize segment is not decoded twice.
        if self.record_count::<T>(key, bytes.clone())? > self.max_segment_records {
            return Ok(false);
        }
        let records = self.decode_segment::<T>(key, bytes)?;
        let mut seen = SeenIds::default();
        Ok(records.iter().all(|r| seen.insert(r.record_id())))
    }
}

/// What a table's merge did besides writing parts.
#[derive(Default)]
struct Merged {
    /// Segments read and merged into the parts: deleted once every part is durable.
    read: Vec<String>,
    /// Full segments of ids not seen before, left as they are.
    kept: usize,
}

enum Fetched<T> {
    Full {
        ids: Vec<String>,
        bytes: bytes::Bytes,
    },
    Records(Vec<T>),
}

/// A part's order: by `recorded_at`, then id, so a part's statistics span a short time.
fn sort_for_parts<T: StoredRecord>(records: &mut [T]) {
    records.sort_by(|a, b| {
        a.recorded_at()
            .cmp(&b.recorded_at())
            .then_with(|| a.record_id().cmp(b.record_id()))
    });
}

/// The record ids a compaction has taken. Ids are BLAKE3 digests in lowercase hex (what
/// sealing a record gives), kept as their 32 bytes: a million ids take about 70 MB instead of
/// the ~120 MB of owned strings. Anything else (a store written by hand) is kept as text.
#[derive(Default)]
struct SeenIds {
    digests: HashSet<[u8; 32]>,
    other: HashSet<String>,
}

impl SeenIds {
    /// Whether none of `ids` was seen, nor any of them twice (nothing is taken).
    fn all_new(&self, ids: &[String]) -> bool {
        let mut own = SeenIds::default();
        ids.iter().all(|id| !self.contains(id) && own.insert(id))
    }

    fn contains(&self, id: &str) -> bool {
        match lowercase_hex_digest(id) {
            Some(digest) => self.digests.contains(&digest),
            None => self.other.contains(id),
        }
    }

    /// `true` the first time `id` is seen.
    fn insert(&mut self, id: &str) -> bool {
        match lowercase_hex_digest(id) {
            Some(digest) => self.digests.insert(digest),
            None => self.other.insert(id.to_string()),
        }
    }
}

/// The 32 bytes of a 64-digit lowercase hex id. Upper case is refused: "AB" and "ab" are
/// different ids and must not be merged.
fn lowercase_hex_digest(id: &str) -> Option<[u8; 32]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = id.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{testing::dataset, ArtifactRecord, Batch};
    use chrono::{Duration, TimeZone, Utc};

    fn ids_of(store: &Store, key: &str) -> Vec<String> {
        let records = store.read_segment::<ArtifactRecord>(key).unwrap().unwrap();
        records.into_iter().map(|a| a.name.unwrap()).collect()
    }

    fn listed(store: &Store) -> Vec<String> {
        let mut keys = keys_of(&store.segments("artifacts").unwrap());
        keys.sort();
        keys
    }

    #[test]
    fn a_table_is_merged_a_chunk_at_a_time_into_full_sorted_parts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(3);
        // Record n is dated n seconds before t0, so later segments hold earlier records; every
        // fourth segment repeats a record of an earlier one.
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let dated = |n: u8| ArtifactRecord {
            recorded_at: t0 - Duration::seconds(n.into()),
            ..dataset(n)
        };
        for n in 0..12u8 {
            let mut artifacts = vec![dated(n)];
            if n % 4 == 3 {
                artifacts.push(dated(n - 3));
            }
            store
                .append(Batch {
                    artifacts,
                    ..Default::default()
                })
                .unwrap();
        }
        let mut report = CompactReport::default();
        // One segment per chunk: each part is written once the records read fill it, so a
        // part holds the records of the segments read so far, never the whole table's earliest.
        store
            .compact_table_by::<ArtifactRecord>(&mut report, 1)
            .unwrap();
        assert_eq!(
            (
                report.segments_before,
                report.segments_after,
                report.records
            ),
            (12, 4, 12)
        );
        let parts: Vec<Vec<String>> = listed(&store).iter().map(|k| ids_of(&store, k)).collect();
        let named = |ns: [u8; 3]| ns.iter().map(|n| format!("a{n}")).collect::<Vec<_>>();
        assert_eq!(
            parts,
            vec![
                named([2, 1, 0]),
                named([5, 4, 3]),
                named([8, 7, 6]),
                named([11, 10, 9])
            ]
        );
        assert_eq!(store.load().unwrap().artifacts.len(), 12);
    }

    #[test]
    fn full_segments_of_new_ids_are_kept_and_the_rest_is_merged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(3);
        let write = |artifacts: Vec<ArtifactRecord>| {
            store
                .append(Batch {
                    artifacts,
                    ..Default::default()
                })
                .unwrap()
        };
        for n in 0..7u8 {
            write(vec![dataset(n)]);
        }
        let first = store.compact().unwrap();
        assert_eq!((first.segments_after, first.records), (3, 7));
        let parts = listed(&store);

        // A second compaction keeps the two full parts and rewrites only the last one.
        let second = store.compact().unwrap();
        assert_eq!((second.segments_after, second.records), (3, 1));
        let now = listed(&store);
        let kept: Vec<&String> = parts.iter().filter(|k| now.contains(k)).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|k| ids_of(&store, k.as_str()).len() == 3));

        // A full segment that repeats an id seen before (record 0), or holds one twice, is merged.
        write(vec![dataset(0), dataset(7), dataset(8)]);
        let twice = ArtifactRecord {
            recorded_at: dataset(9).recorded_at + chrono::Duration::seconds(1),
            ..dataset(9)
        };
        write(vec![dataset(9), twice, dataset(10)]);
        let third = store.compact().unwrap();
        assert_eq!((third.segments_before, third.segments_after), (5, 4));
        assert_eq!(third.records, 5, "6, then 7 and 8, then 9 and 10");
        let mut names: Vec<String> = listed(&store)
            .iter()
            .flat_map(|k| ids_of(&store, k))
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..11).map(|n| format!("a{n}")).collect();
        expected.sort();
        assert_eq!(names, expected, "every record once");
        assert!(kept.iter().all(|k| listed(&store).contains(k)));
    }

    #[test]
    fn a_compaction_that_fails_midway_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(2);
        for n in 0..6u8 {
            store
                .append(Batch {
                    artifacts: vec![dataset(n)],
                    ..Default::default()
                })
                .unwrap();
        }
        // Named after every segment written so far, so it is read last.
        let bad = store.dir().join("segments/artifacts/ffff-bad.parquet");
        std::fs::write(&bad, b"definitely not parquet").unwrap();
        let before = listed(&store);
        let mut report = CompactReport::default();
        // One segment per chunk: three parts are written before the bad segment is reached.
        let err = store
            .compact_table_by::<ArtifactRecord>(&mut report, 1)
            .unwrap_err();
        assert!(
            matches!(&err, crate::Error::CorruptSegment { path, .. } if path == &bad),
            "{err}"
        );
        assert_eq!(listed(&store), before, "no part of the failed run is left");
    }

    #[test]
    fn a_single_segment_is_kept_when_compact_and_split_when_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let roomy = Store::init(dir.path())
            .unwrap()
            .with_max_segment_records(10);
        roomy
            .append(Batch {
                artifacts: (0..7).map(dataset).collect(),
                ..Default::default()
            })
            .unwrap();
        let before = listed(&roomy);
        let report = roomy.compact().unwrap();
        assert_eq!((report.segments_before, report.segments_after), (1, 1));
        assert_eq!(listed(&roomy), before, "a compact segment is not rewritten");

        // The same segment, for a store whose parts hold 3 records: written before the bound.
        let bounded = Store::open(dir.path().to_str().unwrap())
            .unwrap()
            .with_max_segment_records(3);
        let report = bounded.compact().unwrap();
        assert_eq!((report.segments_before, report.segments_after), (1, 3));
        let sizes: Vec<usize> = listed(&bounded)
            .iter()
            .map(|k| ids_of(&bounded, k).len())
            .collect();
        assert_eq!(sizes, vec![3, 3, 1]);
        assert_eq!(bounded.load().unwrap().artifacts.len(), 7);
    }

    #[test]
    fn seen_ids_merge_only_identical_ids() {
        let mut seen = SeenIds::default();
        let digest = "0123456789abcdef".repeat(4);
        assert!(seen.insert(&digest));
        assert!(!seen.insert(&digest));
        // The same digits in upper case, or one digit shorter, are other ids.
        assert!(seen.insert(&digest.to_uppercase()));
        assert!(!seen.insert(&digest.to_uppercase()));
        assert!(seen.insert(&digest[..63]));
        assert!(seen.insert("hand-written-id"));
        assert!(!seen.insert("hand-written-id"));
        assert_eq!((seen.digests.len(), seen.other.len()), (1, 3));
    }
}
