//! A whole-store audit that reads only the records its verdicts depend on.
//!
//! [`audit`](super::audit) judges a [`View`] of every record. On a large store most records
//! cannot lead to a finding: nothing licensed is upstream of them, or only terms that bind
//! distributed models (conditions, internal-only use) reach runs whose checkpoints were never
//! released. [`audit_store`] answers that first on the [`LineageIndex`] (ids and edges, no
//! records), picks the runs that could have a finding, loads the records on their lineage
//! from the licensed models down (plus what the integrity checks need), and runs the same
//! audit on that part of the store. The report is the one the full audit gives; only the
//! summary's counts of evaluated runs and targets, which cover every run, come from the index.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::{audit, produces_model, AuditOptions, AuditReport};
use crate::catalog::{Catalog, ClaimSubject, LicenseEntry, TermClass};
use crate::error::Result;
use crate::graph::index::{edge_carries, role_code, LineageIndex, NodeId, OUTPUT_EDGE};
use crate::policy::Policy;
use crate::progress::PhaseTimer;
use crate::records::{ArtifactKind, Role, WaiverRecord};
use crate::store::Store;
use crate::view::View;

/// Reached by a model whose terms bind only distributed models.
const GATED: u8 = 1;
/// Reached by a model whose terms can matter even for a model kept inside (or whose terms are
/// unknown, or cleared by a row composition: each is a finding of its own).
const UNGATED: u8 = 2;

/// What the index decided before any record was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPlan {
    /// Per node: whether its records are read.
    pub needed: Vec<bool>,
    /// Runs that could have a finding.
    pub candidate_runs: usize,
    /// Runs the audit evaluates and checkpoints it judges (the summary's counts).
    pub runs_evaluated: usize,
    pub targets: usize,
}

impl AuditPlan {
    pub fn needed_nodes(&self) -> usize {
        self.needed.iter().filter(|n| **n).count()
    }
}

/// Audit the whole store (as of a moment), reading only the records that can matter. Falls
/// back to the full audit when the lineage has a cycle or the audit is scoped.
pub fn audit_store(
    store: &Store,
    catalog: &Catalog,
    policy: &Policy,
    opts: &AuditOptions,
    as_of: Option<DateTime<Utc>>,
) -> Result<AuditReport> {
    let full = || -> Result<AuditReport> {
        let view = View::build(&store.load()?, as_of);
        Ok(audit(&view, catalog, policy, opts))
    };
    if opts.scope.is_some() {
        return full();
    }
    let timer = PhaseTimer::new("audit");
    let index = LineageIndex::load(store, as_of)?;
    timer.phase("index");
    let Some(mut plan) = plan(&index, catalog, policy, opts) else {
        return full();
    };
    timer.phase(&format!(
        "plan ({} candidate runs, {} of {} nodes needed)",
        plan.candidate_runs,
        plan.needed_nodes(),
        plan.needed.len()
    ));
    // A waiver that matched nothing is reported with its model's and target's names.
    let (waivers, waiver_segments) = store.load_table::<WaiverRecord>()?;
    for w in &waivers {
        for id in w.model.iter().chain(&w.target) {
            if let Some(v) = index.node(id) {
                plan.needed[v as usize] = true;
            }
        }
    }
    let recorded_elsewhere = |n: Option<NodeId>| {
        n.is_some_and(|n| index.is_recorded_artifact(n) && !plan.needed[n as usize])
    };
    let mut snapshot = store.load_selected(
        // Claims and releases of artifacts nobody recorded are kept: they are dangling
        // references the audit reports.
        &|id| !recorded_elsewhere(index.node(id)),
        &|id| index.node(id).is_some_and(|n| plan.needed[n as usize]),
    )?;
    snapshot.waivers = waivers;
    snapshot.segments += waiver_segments;
    drop(index);
    timer.phase(&format!("records ({})", snapshot.record_count()));
    let view = View::build(&snapshot, as_of);
    drop(snapshot);
    timer.phase("view");
    let mut report = audit(&view, catalog, policy, opts);
    timer.phase("evaluate");
    report.summary.runs_evaluated = plan.runs_evaluated;
    report.summary.targets = plan.targets;
    Ok(report)
}

/// Audit a store with the checkpoints to judge as released and the scope named as users type
/// them (ids, short ids, names, paths). Without either, only the records that can matter are
/// read; references resolve against every record.
pub fn audit_references(
    store: &Store,
    catalog: &Catalog,
    policy: &Policy,
    assume_released: &[String],
    scope: Option<&str>,
    as_of: Option<DateTime<Utc>>,
) -> Result<AuditReport> {
    if assume_released.is_empty() && scope.is_none() {
        return audit_store(store, catalog, policy, &AuditOptions::default(), as_of);
    }
    let view = View::build(&store.load()?, as_of);
    let mut opts = AuditOptions::default();
    for r in assume_released {
        opts.assume_released
            .push(crate::reference::resolve_artifact(store, &view, r)?);
    }
    if let Some(s) = scope {
        opts.scope = Some(crate::reference::resolve(store, &view, s)?.id().to_string());
    }
    Ok(audit(&view, catalog, policy, &opts))
}

/// Whether every finding a license can give needs a distributed target: its claims are all
/// "allowed", "conditional" or "internal only", one class per subject (no disagreement to
/// report), and the policy clarifies nothing about it.
fn binds_only_distribution(entry: &LicenseEntry, policy: &Policy) -> bool {
    ClaimSubject::ALL.iter().all(|&subject| {
        let mut classes = entry.claims_about(subject).map(|c| c.class);
        let first = classes.next();
        policy.clarification(&entry.id, subject).is_none()
            && classes.all(|c| Some(c) == first)
            && first.is_none_or(|c| {
                matches!(
                    c,
                    TermClass::Allowed | TermClass::Conditional | TermClass::InternalOnly
                )
            })
    })
}

/// [`GATED`] or [`UNGATED`] for a licensed model.
fn model_class(index: &LineageIndex, catalog: &Catalog, policy: &Policy, n: NodeId) -> u8 {
    let claimed = index.claimed_licenses(n);
    if claimed.iter().any(|id| catalog.license(id).is_none()) {
        return UNGATED; // a license the catalog does not know
    }
    let licenses = index.licenses(catalog, n);
    if licenses.is_empty() {
        return UNGATED; // no license recorded or assigned
    }
    if licenses.iter().all(|e| binds_only_distribution(e, policy)) {
        GATED
    } else {
        UNGATED
    }
}

/// Which runs could have a finding and which records their audit reads; `None` when the
/// lineage has a cycle (the full audit handles those).
pub fn plan(
    index: &LineageIndex,
    catalog: &Catalog,
    policy: &Policy,
    opts: &AuditOptions,
) -> Option<AuditPlan> {
    let n = index.node_count();
    let (order, placed) = index.topological_order();
    if placed < n {
        return None;
    }
    let mut licensed = vec![0u8; n];
    for v in index.licensed_models() {
        licensed[v as usize] = model_class(index, catalog, policy, v);
    }
    let carries = edge_carries(policy.organisation.restrictions_travel);

    // One pass in topological order: what kind of terms reach each node.
    let mut reach = vec![0u8; n];
    for &v in &order {
        let mut bits = 0u8;
        for (u, code) in index.upstream_edges(v) {
            let c = carries[code as usize];
            if c.model_terms {
                bits |= licensed[u as usize];
            }
            if c.upstream {
                bits |= reach[u as usize];
            }
        }
        // A recorded composition can clear a restriction (a note of its own) or change its
        // severity: judged whether or not the target is distributed.
        if bits != 0 && index.has_composition(v) {
            bits |= UNGATED;
        }
        reach[v as usize] = bits;
    }

    let is_assumed = |v: NodeId| opts.assume_released.iter().any(|a| a == index.id(v));
    let checkpoint_outputs = |r: NodeId| {
        index
            .downstream_edges(r)
            .filter(|&(o, code)| {
                code == OUTPUT_EDGE && index.artifact_kind(o) == Some(ArtifactKind::Checkpoint)
            })
            .map(|(o, _)| o)
    };
    let mut plan = AuditPlan {
        needed: vec![false; n],
        ..Default::default()
    };
    let mut targets = vec![false; n];
    let mut queue: VecDeque<NodeId> = VecDeque::new();
    let mut family_roots: Vec<NodeId> = Vec::new();
    for r in (0..n as NodeId).filter(|&r| index.is_run(r)) {
        if !index.run_kind(r).is_some_and(produces_model) {
            continue;
        }
        let has_outputs = index.downstream_edges(r).any(|(_, c)| c == OUTPUT_EDGE);
        let mut checkpoints = checkpoint_outputs(r).peekable();
        if has_outputs && checkpoints.peek().is_none() {
            continue;
        }
        plan.runs_evaluated += 1;
        let mut distributed = false;
        for o in checkpoints {
            targets[o as usize] = true;
            distributed |= index.has_release(o) || is_assumed(o);
        }
        let bits = reach[r as usize];
        if bits & UNGATED != 0 || (bits & GATED != 0 && distributed) {
            plan.candidate_runs += 1;
            plan.needed[r as usize] = true;
            queue.push_back(r);
            if bits & UNGATED != 0 {
                family_roots.push(r);
            }
        }
    }
    plan.targets = targets.iter().filter(|t| **t).count();

    // The candidates' lineage from the licensed models down: what their exposures pass.
    while let Some(v) = queue.pop_front() {
        for (u, code) in index.upstream_edges(v) {
            if licensed[u as usize] != 0 {
                plan.needed[u as usize] = true;
            }
            if carries[code as usize].upstream && reach[u as usize] != 0 && !plan.needed[u as usize]
            {
                plan.needed[u as usize] = true;
                queue.push_back(u);
            }
        }
    }
    // The base-weights chains of runs that a "no other LLM" term may judge (their families).
    let base = role_code(Role::BaseWeights);
    let mut seen = vec![false; n];
    let mut stack = family_roots;
    while let Some(r) = stack.pop() {
        if std::mem::replace(&mut seen[r as usize], true) {
            continue;
        }
        plan.needed[r as usize] = true;
        for (a, code) in index.upstream_edges(r) {
            if code != base {
                continue;
            }
            plan.needed[a as usize] = true;
            stack.extend(
                index
                    .upstream_edges(a)
                    .filter(|&(_, c)| c == OUTPUT_EDGE)
                    .map(|(p, _)| p),
            );
        }
    }
    // Runs naming artifacts nobody recorded (dangling references), and datasets whose
    // composition may leave rows unmapped: reported wherever they are.
    for v in 0..n as NodeId {
        let dangling =
            index.is_run(v) && index.edges(v).any(|(a, _)| !index.is_recorded_artifact(a));
        if dangling || index.has_composition(v) {
            plan.needed[v as usize] = true;
        }
    }
    // Every needed run's inputs and outputs are read too, so none looks dangling.
    for v in 0..n as NodeId {
        if plan.needed[v as usize] && index.is_run(v) {
            let one_hop: Vec<NodeId> = index.edges(v).map(|(a, _)| a).collect();
            for a in one_hop {
                plan.needed[a as usize] = true;
            }
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{
        id, ArtifactRecord, Batch, Channel, ClaimSource, Confidence, Distribution,
        LicenseClaimRecord, ReleaseRecord, RunInput, RunKind, RunRecord, RunStatus,
    };
    use chrono::{Duration, TimeZone};

    fn both(store: &Store, policy: &Policy) -> (serde_json::Value, serde_json::Value) {
        let catalog = Catalog::for_audit(None, Some(policy)).unwrap();
        let view = View::build(&store.load().unwrap(), None);
        let full = audit(&view, &catalog, policy, &AuditOptions::default());
        let pruned = audit_store(store, &catalog, policy, &AuditOptions::default(), None).unwrap();
        (
            serde_json::to_value(&full).unwrap(),
            serde_json::to_value(&pruned).unwrap(),
        )
    }

    #[test]
    fn demo_store_audit_equals_the_full_audit() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let policy = Policy::locate(None, &built.project).unwrap();
        let (full, pruned) = both(&built.store, &policy);
        assert!(!full["findings"].as_array().unwrap().is_empty());
        assert_eq!(full, pruned);
    }

    /// A random layered lineage: models under terms of every kind (conditional, internal-only,
    /// non-commercial, no-other-LLM, unknown, none), random roles and run kinds, some
    /// checkpoints released, some runs naming artifacts nobody recorded.
    fn random_store(dir: &std::path::Path, seed: u64, licenses: &[&str], releases: bool) -> Store {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let store = Store::init(dir).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut batch = Batch::default();
        let mut ids: Vec<(String, ArtifactKind)> = Vec::new();
        for m in 0..6 {
            let aid =
                id::external_model("acme-test", &format!("model-{m}"), None, Channel::Weights);
            let mut a = ArtifactRecord::new(aid.clone(), ArtifactKind::ExternalModel);
            a.vendor = Some("acme-test".into());
            a.model = Some(format!("model-{m}"));
            a.channel = Some(Channel::Weights);
            batch.artifacts.push(a);
            if m < licenses.len() {
                batch.license_claims.push(LicenseClaimRecord {
                    record_id: String::new(),
                    artifact_id: aid.clone(),
                    license_id: licenses[m].into(),
                    license_version: None,
                    source: ClaimSource::User,
                    confidence: Confidence::Unverified,
                    evidence_digest: None,
                    evidence_path: None,
                    note: None,
                    recorded_at: t0,
                    recorded_by: "test".into(),
                });
            }
            ids.push((aid, ArtifactKind::ExternalModel));
        }
        for i in 0..20 {
            let aid = id::file(
                blake3::hash(format!("root {seed} {i}").as_bytes())
                    .to_hex()
                    .as_str(),
            );
            batch
                .artifacts
                .push(ArtifactRecord::new(aid.clone(), ArtifactKind::Dataset));
            ids.push((aid, ArtifactKind::Dataset));
        }
        for i in 0..300u64 {
            let checkpoint = next(3) == 0;
            let kind = if checkpoint {
                ArtifactKind::Checkpoint
            } else {
                ArtifactKind::Dataset
            };
            let aid = id::file(
                blake3::hash(format!("node {seed} {i}").as_bytes())
                    .to_hex()
                    .as_str(),
            );
            let mut inputs = Vec::new();
            for _ in 0..1 + next(3) {
                let (pid, pkind) =
                    ids[ids.len() - 1 - next(ids.len().min(40) as u64) as usize].clone();
                let role = match (pkind, checkpoint) {
                    (ArtifactKind::ExternalModel, true) => {
                        [Role::Teacher, Role::BaseWeights][next(2) as usize]
                    }
                    (ArtifactKind::ExternalModel, false) => {
                        [Role::Generator, Role::Judge, Role::EvalData][next(3) as usize]
                    }
                    (ArtifactKind::Checkpoint, true) => Role::BaseWeights,
                    (ArtifactKind::Checkpoint, false) => Role::Generator,
                    (_, true) => [Role::TrainingData, Role::EvalData][(next(4) == 0) as usize],
                    (_, false) => Role::Source,
                };
                if !inputs.iter().any(|i: &RunInput| i.artifact_id == pid) {
                    inputs.push(RunInput {
                        artifact_id: pid,
                        role,
                    });
                }
            }
            if next(40) == 0 {
                inputs.push(RunInput {
                    artifact_id: id::file(&"0".repeat(64)),
                    role: Role::Source,
                });
            }
            let start = t0 + Duration::hours(i as i64);
            batch.runs.push(RunRecord {
                record_id: String::new(),
                run_id: id::derived_run(format!("run {seed} {i}").as_bytes()),
                kind: if checkpoint {
                    [RunKind::FineTune, RunKind::Distill, RunKind::Merge][next(3) as usize]
                } else {
                    [RunKind::Generate, RunKind::Transform, RunKind::Mix][next(3) as usize]
                },
                name: None,
                status: RunStatus::Succeeded,
                started_at: Some(start),
                ended_at: None,
                inputs,
                outputs: vec![aid.clone()],
                recorded_at: start,
                recorded_by: "test".into(),
            });
            let mut a = ArtifactRecord::new(aid.clone(), kind);
            a.name = Some(if next(3) == 0 {
                format!("Llama-{i}")
            } else {
                format!("node-{i}")
            });
            batch.artifacts.push(a);
            if releases && checkpoint && next(4) == 0 {
                batch.releases.push(ReleaseRecord {
                    record_id: String::new(),
                    artifact_id: aid.clone(),
                    distribution: [
                        Distribution::ExternalWeights,
                        Distribution::Internal,
                        Distribution::ApiServed,
                    ][next(3) as usize],
                    effective_at: start + Duration::hours(1),
                    note: None,
                    recorded_at: start,
                    recorded_by: "test".into(),
                });
            }
            ids.push((aid, kind));
        }
        store.append(batch).unwrap();
        store
    }

    #[test]
    fn random_lineages_audit_equal_the_full_audit_and_read_less() {
        for seed in 1..=6 {
            let dir = tempfile::tempdir().unwrap();
            let licenses = [
                "llama3.1",
                "cc-by-nc-4.0",
                "gemma",
                "apache-2.0",
                "acme-unknown-1.0",
            ];
            let store = random_store(dir.path(), seed, &licenses, true);
            let policy = Policy::locate(None, dir.path()).unwrap();
            let (full, pruned) = both(&store, &policy);
            assert!(
                !full["findings"].as_array().unwrap().is_empty(),
                "seed {seed}"
            );
            assert_eq!(full, pruned, "seed {seed}");
        }
    }

    #[test]
    fn terms_that_bind_only_distribution_skip_unreleased_lineage() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy::locate(None, dir.path()).unwrap();
        let catalog = Catalog::for_audit(None, Some(&policy)).unwrap();
        let store = random_store(dir.path(), 7, &["llama3.1", "apache-2.0"], false);
        let index = LineageIndex::load(&store, None).unwrap();
        let unreleased = plan(&index, &catalog, &policy, &AuditOptions::default()).unwrap();
        // Four of the six models have no license at all: only their lineage is read.
        let (full, pruned) = both(&store, &policy);
        assert_eq!(full, pruned);
        assert!(unreleased.needed_nodes() < index.node_count());
        assert!(unreleased.runs_evaluated > unreleased.candidate_runs);

        // Judged as released, every checkpoint downstream of Llama 3.1 becomes a candidate.
        let everything: Vec<String> = (0..index.node_count() as NodeId)
            .filter(|&v| index.artifact_kind(v) == Some(ArtifactKind::Checkpoint))
            .map(|v| index.id(v).to_string())
            .collect();
        let assumed = AuditOptions {
            assume_released: everything,
            scope: None,
        };
        let released = plan(&index, &catalog, &policy, &assumed).unwrap();
        assert!(released.candidate_runs > unreleased.candidate_runs);
    }
}
