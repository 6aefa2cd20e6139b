//! Recording runs: a whole run at once, or `start` now and `finish` later for long jobs.
//! Each call appends one dated run record; readers merge records of the same run id.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::records::{
    self, id, ArtifactKind, Batch, RunInput, RunKind, RunRecord, RunStatus, StoredRecord,
};
use crate::store::Store;
use crate::view::View;

impl RunKind {
    /// The kind an untagged output of this run is tagged as.
    pub fn output_kind(self) -> ArtifactKind {
        match self {
            RunKind::Generate => ArtifactKind::SyntheticDataset,
            RunKind::Transform | RunKind::Filter | RunKind::Mix => ArtifactKind::Dataset,
            RunKind::Train
            | RunKind::FineTune
            | RunKind::Distill
            | RunKind::Rl
            | RunKind::Merge
            | RunKind::Quantize => ArtifactKind::Checkpoint,
            RunKind::Evaluate => ArtifactKind::Other,
        }
    }
}

/// A run as the user describes it.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub kind: RunKind,
    pub name: Option<String>,
    pub inputs: Vec<RunInput>,
    pub outputs: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    /// Explicit id (e.g. from a workflow system); a new UUIDv7 otherwise.
    pub run_id: Option<String>,
}

impl RunSpec {
    pub fn new(kind: RunKind) -> Self {
        RunSpec {
            kind,
            name: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            started_at: None,
            ended_at: None,
            status: RunStatus::Succeeded,
            run_id: None,
        }
    }

    pub fn into_record(self) -> Result<RunRecord> {
        let run_id = match self.run_id {
            Some(r) if id::is_valid(&r) && r.starts_with(id::RUN) => r,
            Some(r) => return Err(Error::usage(format!("'{r}' is not a run id (run:<uuid>)"))),
            None => id::new_run(),
        };
        if let (Some(s), Some(e)) = (self.started_at, self.ended_at) {
            if e < s {
                return Err(Error::usage(format!(
                    "run ends ({e}) before it starts ({s})"
                )));
            }
        }
        Ok(RunRecord {
            record_id: String::new(),
            run_id,
            kind: self.kind,
            name: self.name,
            status: self.status,
            started_at: self.started_at,
            ended_at: self.ended_at,
            inputs: self.inputs,
            outputs: self.outputs,
            recorded_at: records::now(),
            recorded_by: records::current_actor(),
        })
    }
}

/// Append a run (and any artifacts tagged on the fly for it) in one write.
pub fn record(store: &Store, spec: RunSpec, pending: Batch) -> Result<RunRecord> {
    let mut run = spec.into_record()?;
    run.seal();
    let mut batch = pending;
    batch.runs.push(run.clone());
    store.append(batch)?;
    Ok(run)
}

/// Record that a run began; finish it later with [`finish`].
pub fn start(store: &Store, mut spec: RunSpec, pending: Batch) -> Result<RunRecord> {
    spec.status = RunStatus::Running;
    spec.started_at = spec.started_at.or_else(|| Some(records::now()));
    spec.ended_at = None;
    record(store, spec, pending)
}

/// Record how a started run ended, with what it wrote.
pub fn finish(
    store: &Store,
    view: &View,
    run_id: &str,
    outputs: Vec<String>,
    status: RunStatus,
    ended_at: Option<DateTime<Utc>>,
    pending: Batch,
) -> Result<RunRecord> {
    let run = view
        .runs
        .get(run_id)
        .ok_or_else(|| Error::UnknownReference {
            reference: run_id.to_string(),
        })?;
    if status == RunStatus::Running {
        return Err(Error::usage("a finished run is 'succeeded' or 'failed'"));
    }
    let spec = RunSpec {
        kind: run.kind,
        name: run.name.clone(),
        inputs: Vec::new(),
        outputs,
        started_at: run.started_at,
        ended_at: ended_at.or_else(|| Some(records::now())),
        status,
        run_id: Some(run.id.clone()),
    };
    record(store, spec, pending)
}
