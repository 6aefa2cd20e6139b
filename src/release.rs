//! Releases: a checkpoint's distribution changes by appending a dated record; the history
//! stays, so "as of" any past moment is exact.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::records::{self, Batch, Distribution, ReleaseRecord, StoredRecord};
use crate::store::Store;

pub fn release(
    store: &Store,
    artifact_id: &str,
    distribution: Distribution,
    effective_at: Option<DateTime<Utc>>,
    note: Option<String>,
) -> Result<ReleaseRecord> {
    let mut rec = ReleaseRecord {
        record_id: String::new(),
        artifact_id: artifact_id.to_string(),
        distribution,
        effective_at: effective_at.unwrap_or_else(records::now),
        note,
        recorded_at: records::now(),
        recorded_by: records::current_actor(),
    };
    rec.seal();
    store.append(Batch {
        releases: vec![rec.clone()],
        ..Default::default()
    })?;
    Ok(rec)
}
