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
//!
//! First, the id columns alone are read: a full segment (a part's size), in the current codec,
//! none of whose ids occurs elsewhere in the listing is kept as it is, so compacting again
//! rewrites only each table's last part and what was added since. Every record dropped from a deleted segment is
//! thereby in a part this compaction wrote, never only in a kept segment.

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
        let keep = self.keepable::<T>(&listed, chunk_bytes)?;
        let merge: Vec<ObjectInfo> = listed
            .iter()
            .filter(|info| !keep.contains(&info.key))
            .cloned()
            .collect();
        let mut receipt = AppendReceipt::default();
        let read = match self.merge_into_parts::<T>(&merge, chunk_bytes, &mut receipt) {
            Ok(read) => read,
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
        self.backend.delete_many(&read)?;
        report.records += receipt.records;
        report.segments_after += receipt.segments.len() + keep.len();
        Ok(())
    }

    /// The full segments (exactly a part's size, as a compaction or a large write leaves them)
    /// that stay as they are: in the current codec, with every id in them once in the whole
    /// listing, so a second compaction rewrites only what was added since the first. A table's
    /// only segment stays on the same terms when it is within the part size; one written whole
    /// by an earlier version (a million records in one file) is split. Ids found in more than one segment (or twice in one) keep
    /// their segments in the merge: a record this compaction drops from a segment it deletes
    /// must be in a part it wrote itself, never only in a segment it kept, which another
    /// compaction may be deleting at the same moment.
    fn keepable<T: Table>(
        &self,
        listed: &[ObjectInfo],
        chunk_bytes: u64,
    ) -> Result<HashSet<String>> {
        let part = self.max_segment_records;
        let fits = |records: usize| match listed.len() {
            1 => records <= part,
            _ => records == part,
        };
        let mut once = SeenIds::default();
        let mut repeated = SeenIds::default();
        let mut full: Vec<(String, Vec<IdKey>)> = Vec::new();
        for chunk in fetch_chunks_of(listed, chunk_bytes) {
            let keys = keys_of(chunk);
            let fetched = self.fetch_segments(&keys)?;
            let ids: Vec<Option<ScannedSegment>> = fetched
                .into_par_iter()
                .zip(keys.par_iter())
                .map(|(bytes, key)| bytes.map(|b| self.scan::<T>(key, b)).transpose())
                .collect::<Result<_>>()?;
            for (key, found) in keys.into_iter().zip(ids) {
                // Vanished (merged by another compaction), or with a missing id (the merge
                // decodes it and names it): not kept.
                let Some(Some((ids, current))) = found else {
                    continue;
                };
                for id in &ids {
                    if !once.insert_key(id.clone()) {
                        repeated.insert_key(id.clone());
                    }
                }
                // A segment in an earlier codec (snappy) is rewritten in the current one.
                if current && fits(ids.len()) {
                    full.push((key, ids));
                }
            }
        }
        Ok(full
            .into_iter()
            .filter(|(_, ids)| ids.iter().all(|id| !repeated.contains_key(id)))
            .map(|(key, _)| key)
            .collect())
    }

    /// Write the de-duplicated records of the `listed` segments as parts (see the module
    /// docs); the keys of the segments read, for deletion once every part is durable.
    fn merge_into_parts<T: Table>(
        &self,
        listed: &[ObjectInfo],
        chunk_bytes: u64,
        receipt: &mut AppendReceipt,
    ) -> Result<Vec<String>> {
        let part = self.max_segment_records;
        let mut seen = SeenIds::default();
        let mut pending: Vec<T> = Vec::new();
        let mut read = Vec::new();
        for chunk in fetch_chunks_of(listed, chunk_bytes) {
            let keys = keys_of(chunk);
            let parts = self.read_segments::<T>(&keys)?;
            for (key, records) in keys.into_iter().zip(parts) {
                // A segment another compaction removed is already merged elsewhere.
                let Some(records) = records else {
                    continue;
                };
                read.push(key);
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
        Ok(read)
    }

    /// A segment as the keep rule sees it (its id column alone decoded).
    fn scan<T: Table>(&self, key: &str, bytes: bytes::Bytes) -> Result<ScannedSegment> {
        let current = segment::in_current_codec(&bytes);
        let mut ids = Vec::new();
        for batch in self.decode_columns(key, bytes, T::TABLE, &["record_id"])? {
            let column = batch
                .column_by_name("record_id")
                .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                .ok_or_else(|| crate::Error::CorruptSegment {
                    path: self.segment_path(key),
                    reason: "no text column 'record_id'".into(),
                })?;
            for id in column {
                let Some(id) = id else {
                    return Ok(None);
                };
                ids.push(IdKey::of(id));
            }
        }
        Ok(Some((ids, current)))
    }
}

/// A segment as the keep rule sees it: its record ids and whether it is in the current codec
/// (`None` when a record id is missing).
type ScannedSegment = Option<(Vec<IdKey>, bool)>;

/// A part's order: by `recorded_at`, then id, so a part's statistics span a short time.
fn sort_for_parts<T: StoredRecord>(records: &mut [T]) {
    records.sort_by(|a, b| {
        a.recorded_at()
            .cmp(&b.recorded_at())
            .then_with(|| a.record_id().cmp(b.record_id()))
    });
}

/// A record id as a compaction keeps it: a BLAKE3 digest in lowercase hex (what sealing a
/// record gives) as its 32 bytes, anything else (a store written by hand) as text. A million
/// ids take about 90 MB in a set instead of the ~120 MB of owned strings.
#[derive(Clone, PartialEq, Eq, Hash)]
enum IdKey {
    Digest([u8; 32]),
    Text(Box<str>),
}

impl IdKey {
    fn of(id: &str) -> IdKey {
        match lowercase_hex_digest(id) {
            Some(digest) => IdKey::Digest(digest),
            None => IdKey::Text(id.into()),
        }
    }
}

/// The record ids a compaction has taken.
#[derive(Default)]
struct SeenIds(HashSet<IdKey>);

impl SeenIds {
    /// `true` the first time `id` is seen.
    fn insert(&mut self, id: &str) -> bool {
        self.0.insert(IdKey::of(id))
    }

    fn insert_key(&mut self, id: IdKey) -> bool {
        self.0.insert(id)
    }

    fn contains_key(&self, id: &IdKey) -> bool {
        self.0.contains(id)
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

    /// One write of `artifacts` (one segment, or several past the part size).
    fn write(store: &Store, artifacts: Vec<ArtifactRecord>) {
        store
            .append(Batch {
                artifacts,
                ..Default::default()
            })
            .unwrap();
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
            write(&store, artifacts);
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
        let write = |artifacts| write(&store, artifacts);
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

        // Full segments sharing an id (record 0, also in the first kept part), or holding one
        // twice, are all merged; only the other kept part stays.
        write(vec![dataset(0), dataset(7), dataset(8)]);
        let twice = ArtifactRecord {
            recorded_at: dataset(9).recorded_at + chrono::Duration::seconds(1),
            ..dataset(9)
        };
        write(vec![dataset(9), twice, dataset(10)]);
        let holding_0 = kept
            .iter()
            .find(|k| ids_of(&store, k.as_str()).contains(&"a0".to_string()))
            .map(|k| k.to_string())
            .unwrap();
        let third = store.compact().unwrap();
        assert_eq!((third.segments_before, third.segments_after), (5, 4));
        assert_eq!(third.records, 8, "0-2, 6, 7-8, 9-10");
        let mut names: Vec<String> = listed(&store)
            .iter()
            .flat_map(|k| ids_of(&store, k))
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..11).map(|n| format!("a{n}")).collect();
        expected.sort();
        assert_eq!(names, expected, "every record once");
        let now = listed(&store);
        assert!(!now.contains(&holding_0));
        assert_eq!(kept.iter().filter(|k| now.contains(k)).count(), 1);
    }

    #[test]
    fn full_segments_of_an_earlier_codec_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(3);
        // Named before every segment written next, as an earlier version's would be.
        let old = store.dir().join("segments/artifacts/0000-snappy.parquet");
        let records: Vec<ArtifactRecord> = (0..3)
            .map(|n| {
                let mut r = dataset(n);
                r.seal();
                r
            })
            .collect();
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::write(&old, segment::encode_snappy(&records)).unwrap();
        write(&store, (3..6).map(dataset).collect());
        let current = listed(&store)
            .into_iter()
            .find(|k| !k.contains("0000-snappy"))
            .unwrap();
        let report = store.compact().unwrap();
        assert_eq!((report.segments_after, report.records), (2, 3));
        assert!(!old.exists(), "the snappy segment is merged");
        let now = listed(&store);
        assert!(now.contains(&current), "the current full segment is kept");
        for key in &now {
            let bytes = std::fs::read(store.segment_path(key)).unwrap();
            assert!(
                segment::in_current_codec(&bytes::Bytes::from(bytes)),
                "{key}"
            );
        }
        assert_eq!(store.load().unwrap().artifacts.len(), 6);
    }

    #[test]
    fn full_segments_with_the_same_ids_are_both_merged() {
        // Were the first kept, deleting the second would leave its records only in a segment
        // another compaction (the one that wrote the second from the first) may be deleting.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(3);
        for _ in 0..2 {
            write(&store, (0..3).map(dataset).collect());
        }
        let before = listed(&store);
        let report = store.compact().unwrap();
        assert_eq!((report.segments_after, report.records), (1, 3));
        let after = listed(&store);
        assert!(before.iter().all(|k| !after.contains(k)), "both merged");
        assert_eq!(store.load().unwrap().artifacts.len(), 3);
    }

    #[test]
    fn a_compaction_that_fails_midway_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap().with_max_segment_records(2);
        for n in 0..6u8 {
            write(&store, vec![dataset(n)]);
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
        write(&roomy, (0..7).map(dataset).collect());
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
        let digests = seen
            .0
            .iter()
            .filter(|k| matches!(k, IdKey::Digest(_)))
            .count();
        assert_eq!((digests, seen.0.len()), (1, 4));
    }
}
