//! `verify`: check the store's own integrity (every segment readable, every record id equal to
//! the hash of its content, no dangling references, no cycles) and re-hash recorded artifacts
//! on disk to find any that changed or vanished.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::content::{self, HashOptions};
use crate::error::{Error, Result};
use crate::graph::LineageGraph;
use crate::records::{ArtifactRecord, LicenseClaimRecord, ReleaseRecord, RunRecord, WaiverRecord};
use crate::store::segment::Table;
use crate::store::{Snapshot, Store};
use crate::view::View;

/// A problem `verify` found. Codes are documented in docs/cli.md.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub code: &'static str,
    /// The segment, record or artifact concerned.
    pub subject: String,
    pub detail: String,
}

pub const CORRUPT_SEGMENT: &str = "V001";
pub const RECORD_ID_MISMATCH: &str = "V002";
pub const DANGLING_REFERENCE: &str = "V003";
pub const CYCLE: &str = "V004";
pub const CONTENT_CHANGED: &str = "V005";
pub const CONTENT_MISSING: &str = "V006";
pub const KIND_CONFLICT: &str = "V007";

/// One-line descriptions, for docs and `--help`.
pub const CODES: &[(&str, &str)] = &[
    (
        CORRUPT_SEGMENT,
        "a segment file cannot be read as a segment of its table",
    ),
    (
        RECORD_ID_MISMATCH,
        "a record's id is not the hash of its content (edited or damaged)",
    ),
    (
        DANGLING_REFERENCE,
        "a run, release or license claim names an artifact with no artifact record",
    ),
    (CYCLE, "recorded lineage contains a cycle"),
    (
        CONTENT_CHANGED,
        "a recorded location now holds different content",
    ),
    (CONTENT_MISSING, "a recorded location no longer exists"),
    (
        KIND_CONFLICT,
        "the same content was tagged as different kinds",
    ),
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub segments: usize,
    pub records: usize,
    pub artifacts: usize,
    pub locations_checked: usize,
    /// Temporary files of interrupted writes: harmless, removed by `compact` after an hour.
    pub temporaries: usize,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn clean(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Re-hash artifacts at their recorded local locations.
    pub rehash: bool,
    /// Trust the stat cache while re-hashing (fast; misses edits that keep size and times).
    pub use_stat_cache: bool,
    pub progress: bool,
}

fn check_table<T: Table>(store: &Store, report: &mut VerifyReport, out: &mut Vec<T>) -> Result<()> {
    let listed = store.segments(T::TABLE)?;
    report.segments += listed.len();
    let parts: Vec<(String, Result<Option<Vec<T>>>)> = listed
        .par_iter()
        .map(|info| (info.key.clone(), store.read_segment::<T>(&info.key)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (key, part) in parts {
        match part {
            Ok(Some(records)) => {
                for r in records {
                    if r.compute_record_id() != r.record_id() {
                        report.problems.push(Problem {
                            code: RECORD_ID_MISMATCH,
                            subject: format!("{key}: record {}", r.record_id()),
                            detail: "record content does not hash to its id".into(),
                        });
                    }
                    if seen.insert(r.record_id().to_string()) {
                        out.push(r);
                    }
                }
            }
            Ok(None) => {} // compacted away while we read: its records are in the merged segment
            Err(Error::CorruptSegment { path, reason }) => report.problems.push(Problem {
                code: CORRUPT_SEGMENT,
                subject: path.display().to_string(),
                detail: reason,
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn verify(store: &Store, opts: VerifyOptions) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut snap = Snapshot::default();
    check_table::<ArtifactRecord>(store, &mut report, &mut snap.artifacts)?;
    check_table::<LicenseClaimRecord>(store, &mut report, &mut snap.license_claims)?;
    check_table::<RunRecord>(store, &mut report, &mut snap.runs)?;
    check_table::<ReleaseRecord>(store, &mut report, &mut snap.releases)?;
    check_table::<WaiverRecord>(store, &mut report, &mut snap.waivers)?;
    report.records = snap.record_count();
    report.temporaries = store.stale_temporaries(std::time::Duration::ZERO).len();

    let view = View::build(&snap, None);
    report.artifacts = view.artifacts.len();
    for d in &view.dangling {
        report.problems.push(Problem {
            code: DANGLING_REFERENCE,
            subject: d.from.clone(),
            detail: format!(
                "{} names {}, which has no artifact record",
                d.field, d.missing
            ),
        });
    }
    for cycle in LineageGraph::build(&view).cycles() {
        report.problems.push(Problem {
            code: CYCLE,
            subject: cycle[0].clone(),
            detail: format!("cycle through {}", cycle.join(", ")),
        });
    }
    for a in view.artifacts.values().filter(|a| a.kinds_seen.len() > 1) {
        let kinds: Vec<&str> = a.kinds_seen.iter().map(|k| k.as_str()).collect();
        report.problems.push(Problem {
            code: KIND_CONFLICT,
            subject: a.id.clone(),
            detail: format!("tagged as {}", kinds.join(" and ")),
        });
    }

    if opts.rehash {
        let checks: Vec<(&str, &str)> = view
            .artifacts
            .values()
            .flat_map(|a| a.locations.iter().map(move |l| (a.id.as_str(), l.as_str())))
            .collect();
        report.locations_checked = checks.len();
        let cache = opts.use_stat_cache.then(|| store.stat_cache());
        let found: Vec<Option<Problem>> = checks
            .par_iter()
            .map(|&(id, location)| {
                let hashed = content::identify(
                    Path::new(location),
                    &HashOptions {
                        cache,
                        progress: opts.progress,
                    },
                );
                match hashed {
                    Ok(c) if c.artifact_id == id => None,
                    Ok(c) => Some(Problem {
                        code: CONTENT_CHANGED,
                        subject: id.to_string(),
                        detail: format!("{location} now holds {}", c.artifact_id),
                    }),
                    Err(Error::MissingPath { .. }) => Some(Problem {
                        code: CONTENT_MISSING,
                        subject: id.to_string(),
                        detail: format!("{location} no longer exists"),
                    }),
                    Err(e) => Some(Problem {
                        code: CONTENT_CHANGED,
                        subject: id.to_string(),
                        detail: format!("{location} cannot be re-hashed: {e}"),
                    }),
                }
            })
            .collect();
        report.problems.extend(found.into_iter().flatten());
    }
    report
        .problems
        .sort_by(|a, b| (a.code, &a.subject).cmp(&(b.code, &b.subject)));
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_reference_documents_every_verify_code() {
        let doc = include_str!("../docs/cli.md");
        for (code, summary) in super::CODES {
            let row = format!("| {code} | {summary} |");
            assert!(doc.contains(&row), "docs/cli.md lacks the row:\n{row}");
        }
    }
}
