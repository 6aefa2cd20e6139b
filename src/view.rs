//! The store's records merged into current state, as of a moment: one entry per artifact
//! (all its names, locations, license claims and releases) and one per run (its start and
//! finish records combined). Everything downstream (lineage, verify, audit) reads this.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::records::{
    ArtifactKind, ArtifactRecord, Channel, Composition, Distribution, LicenseClaimRecord, Purpose,
    ReleaseRecord, RunInput, RunKind, RunRecord, RunStatus, WaiverRecord,
};
use crate::store::Snapshot;

#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub id: String,
    pub kind: ArtifactKind,
    /// Every kind this content was tagged as; more than one is reported by `verify`.
    pub kinds_seen: BTreeSet<ArtifactKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_count: Option<u64>,
    pub names: BTreeSet<String>,
    pub locations: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// The latest recorded row composition (datasets tagged with a source column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition: Option<Composition>,
    pub first_recorded_at: DateTime<Utc>,
    pub license_claims: Vec<LicenseClaimRecord>,
    /// Sorted by `effective_at`.
    pub releases: Vec<ReleaseRecord>,
}

impl Artifact {
    /// A short label for people: the first name, else vendor/model, else the id.
    pub fn label(&self) -> String {
        if let Some(name) = self.names.iter().next() {
            return name.clone();
        }
        if let (Some(v), Some(m)) = (&self.vendor, &self.model) {
            return format!("{v}/{m}");
        }
        short_id(&self.id)
    }

    /// Distribution in force at `at` (internal when never released).
    pub fn distribution_at(&self, at: DateTime<Utc>) -> Distribution {
        self.releases
            .iter()
            .filter(|r| r.effective_at <= at)
            .max_by_key(|r| (r.effective_at, r.recorded_at))
            .map(|r| r.distribution)
            .unwrap_or(Distribution::Internal)
    }

    pub fn current_distribution(&self, as_of: Option<DateTime<Utc>>) -> Distribution {
        self.distribution_at(as_of.unwrap_or_else(Utc::now))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: String,
    pub kind: RunKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: RunStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    pub inputs: Vec<RunInput>,
    pub outputs: Vec<String>,
    pub first_recorded_at: DateTime<Utc>,
}

impl Run {
    /// The run's name, else its id.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.clone())
    }
}

/// A record that names an artifact no artifact record describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DanglingReference {
    /// The record or run that holds the reference.
    pub from: String,
    pub missing: String,
    pub field: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct View {
    pub as_of: Option<DateTime<Utc>>,
    pub artifacts: BTreeMap<String, Artifact>,
    pub runs: BTreeMap<String, Run>,
    /// Each waiver in its latest state (a later record may revoke it).
    pub waivers: BTreeMap<String, WaiverRecord>,
    pub dangling: Vec<DanglingReference>,
}

/// `blake3:1a2b3c4d5e6f` — enough to recognise and to pass back as a reference. Run ids stay
/// whole: UUIDv7 prefixes are timestamps, shared by runs started in the same moment.
pub fn short_id(id: &str) -> String {
    match id.split_once(':') {
        Some((prefix, rest)) if prefix.starts_with("blake3") => {
            format!("{prefix}:{}", &rest[..rest.len().min(12)])
        }
        _ => id.to_string(),
    }
}

/// Sort records by (time, record id) unless they already are (segments are usually read in
/// the order they were written).
fn sort_by_time<'a, T, K: Ord + 'a>(items: &mut [&'a T], key: impl Fn(&'a T) -> K) {
    if !items.windows(2).all(|w| key(w[0]) <= key(w[1])) {
        items.sort_by_key(|a| key(a));
    }
}

impl View {
    /// Merge a snapshot; with `as_of`, ignore everything recorded (or effective) later.
    pub fn build(snapshot: &Snapshot, as_of: Option<DateTime<Utc>>) -> View {
        let visible = |t: DateTime<Utc>| as_of.is_none_or(|a| t <= a);
        let mut view = View {
            as_of,
            ..Default::default()
        };

        let mut observations: Vec<&ArtifactRecord> = snapshot
            .artifacts
            .iter()
            .filter(|r| visible(r.recorded_at))
            .collect();
        sort_by_time(&mut observations, |r| (r.recorded_at, r.record_id.as_str()));
        // Group in a vector (one hash probe per observation, no key copy for repeats), then
        // build the ordered map in one sorted bulk load instead of a million random inserts.
        let mut slot_of: HashMap<&str, usize> = HashMap::with_capacity(observations.len());
        let mut merged: Vec<Artifact> = Vec::with_capacity(observations.len());
        for r in observations {
            let slot = *slot_of.entry(r.artifact_id.as_str()).or_insert_with(|| {
                merged.push(Artifact {
                    id: r.artifact_id.clone(),
                    kind: r.kind,
                    kinds_seen: BTreeSet::new(),
                    size_bytes: r.size_bytes,
                    file_count: r.file_count,
                    names: BTreeSet::new(),
                    locations: BTreeSet::new(),
                    vendor: None,
                    model: None,
                    revision: None,
                    channel: None,
                    purpose: None,
                    composition: None,
                    first_recorded_at: r.recorded_at,
                    license_claims: Vec::new(),
                    releases: Vec::new(),
                });
                merged.len() - 1
            });
            let entry = &mut merged[slot];
            entry.kinds_seen.insert(r.kind);
            entry.names.extend(r.name.clone());
            entry.locations.extend(r.location.clone());
            entry.size_bytes = entry.size_bytes.or(r.size_bytes);
            entry.file_count = entry.file_count.or(r.file_count);
            entry.vendor = entry.vendor.take().or_else(|| r.vendor.clone());
            entry.model = entry.model.take().or_else(|| r.model.clone());
            entry.revision = entry.revision.take().or_else(|| r.revision.clone());
            entry.channel = entry.channel.or(r.channel);
            entry.purpose = entry.purpose.or(r.purpose);
            // Observations are in time order: a later composition (e.g. with a corrected
            // source mapping) replaces an earlier one.
            if r.composition.is_some() {
                entry.composition = r.composition.clone();
            }
        }
        drop(slot_of);
        view.artifacts = merged.into_iter().map(|a| (a.id.clone(), a)).collect();

        for c in snapshot
            .license_claims
            .iter()
            .filter(|r| visible(r.recorded_at))
        {
            match view.artifacts.get_mut(&c.artifact_id) {
                Some(a) => a.license_claims.push(c.clone()),
                None => view.dangling.push(DanglingReference {
                    from: c.record_id.clone(),
                    missing: c.artifact_id.clone(),
                    field: "license_claims.artifact_id",
                }),
            }
        }
        for r in snapshot
            .releases
            .iter()
            .filter(|r| visible(r.recorded_at) && visible(r.effective_at))
        {
            match view.artifacts.get_mut(&r.artifact_id) {
                Some(a) => a.releases.push(r.clone()),
                None => view.dangling.push(DanglingReference {
                    from: r.record_id.clone(),
                    missing: r.artifact_id.clone(),
                    field: "releases.artifact_id",
                }),
            }
        }
        for a in view.artifacts.values_mut() {
            a.license_claims.sort_by(|x, y| {
                x.recorded_at
                    .cmp(&y.recorded_at)
                    .then_with(|| x.record_id.cmp(&y.record_id))
            });
            a.releases.sort_by(|x, y| {
                x.effective_at
                    .cmp(&y.effective_at)
                    .then_with(|| x.recorded_at.cmp(&y.recorded_at))
            });
        }

        let mut waiver_records: Vec<&WaiverRecord> = snapshot
            .waivers
            .iter()
            .filter(|r| visible(r.recorded_at))
            .collect();
        waiver_records.sort_by(|a, b| {
            a.recorded_at
                .cmp(&b.recorded_at)
                .then_with(|| a.record_id.cmp(&b.record_id))
        });
        for w in waiver_records {
            view.waivers.insert(w.waiver_id.clone(), w.clone());
        }

        let mut run_records: Vec<&RunRecord> = snapshot
            .runs
            .iter()
            .filter(|r| visible(r.recorded_at))
            .collect();
        sort_by_time(&mut run_records, |r| (r.recorded_at, r.record_id.as_str()));
        let mut slot_of: HashMap<&str, usize> = HashMap::with_capacity(run_records.len());
        let mut merged: Vec<Run> = Vec::with_capacity(run_records.len());
        for r in run_records {
            let slot = *slot_of.entry(r.run_id.as_str()).or_insert_with(|| {
                merged.push(Run {
                    id: r.run_id.clone(),
                    kind: r.kind,
                    name: None,
                    status: r.status,
                    started_at: None,
                    ended_at: None,
                    inputs: Vec::with_capacity(r.inputs.len()),
                    outputs: Vec::with_capacity(r.outputs.len()),
                    first_recorded_at: r.recorded_at,
                });
                merged.len() - 1
            });
            let run = &mut merged[slot];
            // Later records carry the newer state; inputs and outputs accumulate.
            run.status = r.status;
            run.name = run.name.take().or_else(|| r.name.clone());
            run.started_at = match (run.started_at, r.started_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            run.ended_at = r.ended_at.or(run.ended_at);
            for input in &r.inputs {
                if !run.inputs.contains(input) {
                    run.inputs.push(input.clone());
                }
            }
            for output in &r.outputs {
                if !run.outputs.contains(output) {
                    run.outputs.push(output.clone());
                }
            }
        }
        drop(slot_of);
        view.runs = merged.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut dangling = Vec::new();
        // Membership by hash, not by walking the ordered map once per reference.
        let recorded: std::collections::HashSet<&str, ahash::RandomState> =
            view.artifacts.keys().map(String::as_str).collect();
        for run in view.runs.values() {
            let refs = run
                .inputs
                .iter()
                .map(|i| (&i.artifact_id, "runs.inputs"))
                .chain(run.outputs.iter().map(|o| (o, "runs.outputs")));
            for (artifact, field) in refs {
                if !recorded.contains(artifact.as_str()) {
                    dangling.push(DanglingReference {
                        from: run.id.clone(),
                        missing: artifact.clone(),
                        field,
                    });
                }
            }
        }
        drop(recorded);
        view.dangling.extend(dangling);
        view
    }

    /// Runs that produced an artifact.
    pub fn producers<'a>(&'a self, artifact_id: &'a str) -> impl Iterator<Item = &'a Run> + 'a {
        self.runs
            .values()
            .filter(move |r| r.outputs.iter().any(|o| o == artifact_id))
    }

    /// Runs that used an artifact, with the role it played.
    pub fn consumers<'a>(
        &'a self,
        artifact_id: &'a str,
    ) -> impl Iterator<Item = (&'a Run, &'a RunInput)> + 'a {
        self.runs.values().flat_map(move |r| {
            r.inputs
                .iter()
                .filter(move |i| i.artifact_id == artifact_id)
                .map(move |i| (r, i))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn merges_observations_runs_and_releases_as_of() {
        let aid = id::file(&"a".repeat(64));
        let obs = |name: &str, day| ArtifactRecord {
            record_id: format!("r-{name}"),
            artifact_id: aid.clone(),
            kind: ArtifactKind::Checkpoint,
            size_bytes: Some(1),
            file_count: None,
            name: Some(name.into()),
            location: None,
            vendor: None,
            model: None,
            revision: None,
            channel: None,
            purpose: None,
            composition: None,
            recorded_at: t(day),
            recorded_by: "u@h".into(),
        };
        let release = |d, day| ReleaseRecord {
            record_id: format!("rel-{day}"),
            artifact_id: aid.clone(),
            distribution: d,
            effective_at: t(day),
            note: None,
            recorded_at: t(day),
            recorded_by: "u@h".into(),
        };
        let run_id = id::new_run();
        let run = |status, day, outputs: Vec<String>| RunRecord {
            record_id: format!("run-{day}"),
            run_id: run_id.clone(),
            kind: RunKind::Train,
            name: None,
            status,
            started_at: Some(t(1)),
            ended_at: (status != RunStatus::Running).then(|| t(day)),
            inputs: vec![],
            outputs,
            recorded_at: t(day),
            recorded_by: "u@h".into(),
        };
        let snap = Snapshot {
            artifacts: vec![obs("first", 1), obs("second", 5)],
            runs: vec![
                run(RunStatus::Running, 1, vec![]),
                run(RunStatus::Succeeded, 3, vec![aid.clone()]),
            ],
            releases: vec![release(Distribution::ExternalWeights, 4)],
            ..Default::default()
        };
        let now = View::build(&snap, None);
        let a = &now.artifacts[&aid];
        assert_eq!(a.names.len(), 2);
        assert_eq!(a.current_distribution(None), Distribution::ExternalWeights);
        assert_eq!(now.runs[&run_id].status, RunStatus::Succeeded);
        assert!(now.dangling.is_empty());

        let past = View::build(&snap, Some(t(2)));
        let a = &past.artifacts[&aid];
        assert_eq!(a.names.iter().collect::<Vec<_>>(), vec!["first"]);
        assert_eq!(a.current_distribution(past.as_of), Distribution::Internal);
        assert_eq!(past.runs[&run_id].status, RunStatus::Running);
    }
}
