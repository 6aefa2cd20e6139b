//! An audit of the store (whole, scoped or pre-release) that reads only the records its
//! verdicts depend on.
//!
//! [`audit`] judges a [`View`] of every record. On a large store most records
//! cannot lead to a finding: nothing licensed is upstream of them, or only terms that bind
//! distributed models (conditions, internal-only use) reach runs whose checkpoints were never
//! released. [`audit_store`] answers that first on the [`LineageIndex`] (ids and edges, no
//! records) and picks the runs that could have a finding. It then propagates exposures to
//! those runs on the index itself, reading records only for the one fact the index does not
//! hold (row compositions on the way), and finally reads the records a finding names: the
//! candidate runs with their inputs and outputs, the models, and the steps of each evidence
//! path. The same evaluation as the full
//! audit judges them. The report is the one the full audit gives; only the summary's counts
//! of evaluated runs and targets, which cover every run, come from the index.

use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;

use super::propagate::{propagate, Exposure, Flow, Link, Share};
use super::{audit, audit_with, produces_model, AuditOptions, AuditReport, Ctx, Given};
use crate::catalog::{Catalog, ClaimSubject, LicenseEntry, TermClass};
use crate::error::Result;
use crate::graph::index::{edge_carries, role_code, LineageIndex, NodeId, OUTPUT_EDGE};
use crate::policy::Policy;
use crate::progress::PhaseTimer;
use crate::records::{ArtifactKind, Composition, Role, WaiverRecord};
use crate::store::{Selected, Snapshot, Store};
use crate::view::View;

/// Reached by a model whose terms bind only distributed models.
const GATED: u8 = 1;
/// Reached by a model whose terms can matter even for a model kept inside (or whose terms are
/// unknown, or cleared by a row composition: each is a finding of its own).
const UNGATED: u8 = 2;

/// What the index decided before any record was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPlan {
    /// Per node: whether its records are read (the audit adds the steps of evidence paths
    /// once exposures are propagated).
    pub needed: Vec<bool>,
    /// Runs that could have a finding.
    pub candidates: Vec<NodeId>,
    /// Runs the audit evaluates and checkpoints it judges (the summary's counts).
    pub runs_evaluated: usize,
    pub targets: usize,
    /// Whether only runs upstream of a scope were evaluated.
    pub scoped: bool,
    /// Per node: whether exposures are propagated through it (see [`AuditPlan::region`]).
    in_region: Vec<bool>,
    /// Per node: [`GATED`] | [`UNGATED`] for the terms that reach it.
    reach: Vec<u8>,
    /// Per node: [`GATED`] or [`UNGATED`] for a licensed model, else 0.
    licensed: Vec<u8>,
    restrictions_travel: bool,
}

impl AuditPlan {
    pub fn needed_nodes(&self) -> usize {
        self.needed.iter().filter(|n| **n).count()
    }

    /// Where exposures are propagated, in topological order: the candidates and every node
    /// whose exposures can reach them.
    pub fn region(&self, index: &LineageIndex) -> Vec<NodeId> {
        index
            .topological_order()
            .0
            .iter()
            .copied()
            .filter(|&v| self.in_region[v as usize])
            .collect()
    }

    /// Adds `seeds` to the region with every node whose exposures can reach them; the licensed
    /// models they use are read.
    fn grow(&mut self, index: &LineageIndex, seeds: impl IntoIterator<Item = NodeId>) {
        let carries = edge_carries(self.restrictions_travel);
        let mut queue: VecDeque<NodeId> = VecDeque::new();
        for s in seeds {
            if !std::mem::replace(&mut self.in_region[s as usize], true) {
                queue.push_back(s);
            }
        }
        while let Some(v) = queue.pop_front() {
            for (u, code) in index.upstream_edges(v) {
                let u = u as usize;
                if self.licensed[u] != 0 {
                    self.needed[u] = true;
                }
                if carries[code as usize].upstream && self.reach[u] != 0 && !self.in_region[u] {
                    self.in_region[u] = true;
                    queue.push_back(u as NodeId);
                }
            }
        }
    }
}

/// Audit the store (as of a moment), reading only the records that can matter. Falls back to
/// the full audit when the lineage has a cycle.
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
    let timer = PhaseTimer::new("audit");
    let index = LineageIndex::load(store, as_of)?;
    timer.phase("index");
    let Some(mut plan) = plan(&index, catalog, policy, opts) else {
        return full();
    };
    timer.phase(&format!(
        "plan ({} candidate runs, {} of {} nodes needed)",
        plan.candidates.len(),
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
    let (facts, region) = read_compositions(store, &index, &mut plan, as_of)?;
    let flow = IndexFlow::new(&index, &facts, catalog, policy, &region);
    let mut is_candidate = vec![false; index.node_count()];
    for &r in &plan.candidates {
        is_candidate[r as usize] = true;
    }
    let reached = propagate(&flow, |r| is_candidate[flow.global(r) as usize]);
    timer.phase(&format!("propagate ({} nodes)", region.len()));

    // Read what the findings name: the planned records and every step of an evidence path.
    for e in reached.iter().flat_map(|(_, es)| es) {
        let mut link = Some(&e.path);
        while let Some(l) = link {
            let v = flow.global(l.node);
            if index.is_run(v) || index.is_recorded_artifact(v) {
                plan.needed[v as usize] = true;
            }
            link = l.prev.as_ref();
        }
    }
    // Looked up in a set of the few ids needed, not in the index: a small table stays in the
    // cache while every id of the store is checked against it.
    let needed = ids_of(&index, &plan.needed);
    let mut snapshot = store.load_selected(&Selected {
        artifacts: &|id| needed.contains(id),
        // Claims and releases of artifacts nobody recorded are kept: they are dangling
        // references the audit reports.
        about_artifacts: &|id| {
            needed.contains(id)
                || !index
                    .node(id)
                    .is_some_and(|n| index.is_recorded_artifact(n))
        },
        runs: &|id| needed.contains(id),
    })?;
    snapshot.waivers = waivers;
    snapshot.segments += waiver_segments;
    timer.phase(&format!("records ({})", snapshot.record_count()));

    let mut view = View::build(&snapshot, as_of);
    drop(snapshot);
    // Path steps are read without their neighbours: what they name is dangling only if no
    // record describes it anywhere in the store.
    view.dangling.retain(|d| {
        !index
            .node(&d.missing)
            .is_some_and(|n| index.is_recorded_artifact(n))
    });
    timer.phase("view");
    let given = |ctx: &Ctx| in_view(ctx, &flow, &reached);
    let given = Given {
        exposures: &given,
        scoped: plan.scoped,
    };
    let mut report = audit_with(&view, catalog, policy, opts, Some(given));
    timer.phase("evaluate");
    report.summary.runs_evaluated = plan.runs_evaluated;
    report.summary.targets = plan.targets;
    Ok(report)
}

/// Row compositions in the region: the one fact propagation needs that the index does not
/// hold (a filtered dataset can clear a restriction). Rare, so read only when present; the
/// artifacts their rows came from join the region (what reached them is counted). Returns
/// them with the region they complete.
fn read_compositions(
    store: &Store,
    index: &LineageIndex,
    plan: &mut AuditPlan,
    as_of: Option<DateTime<Utc>>,
) -> Result<(View, Vec<NodeId>)> {
    let mut compositions = Snapshot::default();
    let mut read = HashSet::new();
    loop {
        let region = plan.region(index);
        let mut wanted = vec![false; index.node_count()];
        let mut any = false;
        for &v in &region {
            if index.has_composition(v) && read.insert(v) {
                wanted[v as usize] = true;
                any = true;
            }
        }
        if !any {
            return Ok((View::build(&compositions, as_of), region));
        }
        let wanted = ids_of(index, &wanted);
        let records = store.load_selected(&Selected {
            artifacts: &|id| wanted.contains(id),
            about_artifacts: &|_| false,
            runs: &|_| false,
        })?;
        let sources: Vec<NodeId> = records
            .artifacts
            .iter()
            .flat_map(|a| a.composition.iter().flat_map(|c| &c.groups))
            .filter_map(|g| index.node(g.source.as_deref()?))
            .filter(|&v| plan.reach[v as usize] != 0)
            .collect();
        compositions.absorb(records);
        plan.grow(index, sources);
    }
}

/// The ids of the nodes marked in `wanted`.
fn ids_of<'i>(index: &'i LineageIndex, wanted: &[bool]) -> HashSet<&'i str, ahash::RandomState> {
    wanted
        .iter()
        .enumerate()
        .filter(|(_, w)| **w)
        .map(|(v, _)| index.id(v as NodeId))
        .collect()
}

/// The lineage as the index holds it, with the row compositions read for it (`facts`).
/// Nodes of the region are numbered by their place in it (so per-node tables have one slot
/// per region node, not per store node); any other node `v` is `region.len() + v`.
struct IndexFlow<'a> {
    index: &'a LineageIndex,
    facts: &'a View,
    catalog: &'a Catalog,
    policy: &'a Policy,
    region: &'a [NodeId],
    /// Per index node: its place in `region`, or [`OUTSIDE`].
    place: Vec<u32>,
}

const OUTSIDE: u32 = u32::MAX;

impl<'a> IndexFlow<'a> {
    fn new(
        index: &'a LineageIndex,
        facts: &'a View,
        catalog: &'a Catalog,
        policy: &'a Policy,
        region: &'a [NodeId],
    ) -> Self {
        let mut place = vec![OUTSIDE; index.node_count()];
        for (i, &v) in region.iter().enumerate() {
            place[v as usize] = i as u32;
        }
        IndexFlow {
            index,
            facts,
            catalog,
            policy,
            region,
            place,
        }
    }

    fn local(&self, v: NodeId) -> NodeIndex {
        match self.place[v as usize] {
            OUTSIDE => NodeIndex::new(self.region.len() + v as usize),
            i => NodeIndex::new(i as usize),
        }
    }

    /// The index node of a flow node.
    fn global(&self, n: NodeIndex) -> NodeId {
        match n.index().checked_sub(self.region.len()) {
            None => self.region[n.index()],
            Some(v) => v as NodeId,
        }
    }
}

impl Flow for IndexFlow<'_> {
    fn components(&self) -> Vec<(Vec<NodeIndex>, bool)> {
        // The plan gives up on lineages with cycles: every component is one node.
        (0..self.region.len())
            .map(|i| (vec![NodeIndex::new(i)], false))
            .collect()
    }

    fn node_count(&self) -> usize {
        self.region.len()
    }

    fn is_run(&self, n: NodeIndex) -> bool {
        self.index.is_run(self.global(n))
    }

    fn inputs(&self, run: NodeIndex) -> Vec<(NodeIndex, Role)> {
        self.index
            .upstream_edges(self.global(run))
            .filter(|&(_, code)| code != OUTPUT_EDGE)
            .filter_map(|(a, code)| Some((self.local(a), *Role::ALL.get(code as usize)?)))
            .collect()
    }

    /// Outputs in the region only: nothing reads what reaches the others.
    fn outputs(&self, run: NodeIndex) -> Vec<NodeIndex> {
        self.index
            .downstream_edges(self.global(run))
            .filter(|&(a, code)| code == OUTPUT_EDGE && self.place[a as usize] != OUTSIDE)
            .map(|(a, _)| self.local(a))
            .collect()
    }

    fn run_time(&self, run: NodeIndex) -> Option<DateTime<Utc>> {
        self.index.run_time(self.global(run))
    }

    fn is_licensed_model(&self, n: NodeIndex) -> bool {
        let v = self.global(n);
        self.index.is_recorded_artifact(v) && self.index.is_licensed_model(v)
    }

    fn assignment_boundaries(&self, model: NodeIndex) -> Vec<DateTime<Utc>> {
        self.index
            .model(self.global(model))
            .map(|m| {
                self.catalog.assignment_boundaries(
                    &m.vendor,
                    &m.model,
                    m.revision.as_deref(),
                    m.channel,
                )
            })
            .unwrap_or_default()
    }

    fn composition(&self, n: NodeIndex) -> Option<&Composition> {
        self.facts
            .artifacts
            .get(self.id(n))
            .and_then(|a| a.composition.as_ref())
    }

    fn consumers(&self, n: NodeIndex) -> usize {
        let v = self.global(n);
        self.index
            .downstream_edges(v)
            .filter(|&(r, code)| code != OUTPUT_EDGE && self.place[r as usize] != OUTSIDE)
            .count()
    }

    fn records(&self) -> &View {
        self.facts
    }

    fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.node(id).map(|v| self.local(v))
    }

    fn id(&self, n: NodeIndex) -> &str {
        self.index.id(self.global(n))
    }

    fn restrictions_travel(&self) -> bool {
        self.policy.organisation.restrictions_travel
    }
}

/// Exposures propagated on the index, as nodes of the view's graph (every node they name
/// was read).
fn in_view(
    ctx: &Ctx,
    flow: &IndexFlow,
    reached: &[(NodeIndex, Vec<Exposure>)],
) -> Vec<(NodeIndex, Vec<Exposure>)> {
    let node = |n: NodeIndex| {
        let found = ctx.graph.node(flow.id(n));
        debug_assert!(found.is_some(), "{} was not read", flow.id(n));
        found
    };
    let path = |link: &Rc<Link>| -> Option<Rc<Link>> {
        let mut steps = Vec::with_capacity(link.len);
        let mut at = Some(link);
        while let Some(l) = at {
            steps.push((node(l.node)?, l.role, l.len));
            at = l.prev.as_ref();
        }
        let mut prev: Option<Rc<Link>> = None;
        for (node, role, len) in steps.into_iter().rev() {
            prev = Some(Rc::new(Link {
                node,
                role,
                prev,
                len,
            }));
        }
        prev
    };
    let exposure = |e: &Exposure| -> Option<Exposure> {
        Some(Exposure {
            model: node(e.model)?,
            path: path(&e.path)?,
            share: match e.share {
                Some(s) => Some(Share {
                    dataset: node(s.dataset)?,
                    ..s
                }),
                None => None,
            },
            cleared_by: match e.cleared_by {
                Some(d) => Some(node(d)?),
                None => None,
            },
            ..e.clone()
        })
    };
    reached
        .iter()
        .filter_map(|(run, es)| Some((node(*run)?, es.iter().filter_map(exposure).collect())))
        .collect()
}

/// Audit a store with the checkpoints to judge as released and the scope named as users type
/// them (ids, short ids, names, paths), reading only the records that can matter; references
/// are resolved as [`crate::reference::view_for`] allows (against every record only for names
/// and id prefixes, or as of a past moment).
pub fn audit_references(
    store: &Store,
    catalog: &Catalog,
    policy: &Policy,
    assume_released: &[String],
    scope: Option<&str>,
    as_of: Option<DateTime<Utc>>,
) -> Result<AuditReport> {
    let mut opts = AuditOptions::default();
    if !assume_released.is_empty() || scope.is_some() {
        let references: Vec<&str> = assume_released
            .iter()
            .map(String::as_str)
            .chain(scope)
            .collect();
        let view = match as_of {
            // References resolve as of the audit's moment.
            Some(_) => View::build(&store.load()?, as_of),
            None => crate::reference::view_for(store, &references, &[])?,
        };
        for r in assume_released {
            opts.assume_released
                .push(crate::reference::resolve_artifact(store, &view, r)?);
        }
        if let Some(s) = scope {
            opts.scope = Some(crate::reference::resolve(store, &view, s)?.id().to_string());
        }
    }
    audit_store(store, catalog, policy, &opts, as_of)
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
    for &v in order {
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
    // A scope limits the audit to the runs upstream of it (a scope the lineage does not
    // hold limits nothing, as in the full audit).
    let mut in_scope: Option<Vec<bool>> = None;
    if let Some(root) = opts.scope.as_deref().and_then(|s| index.node(s)) {
        let mut marks = vec![false; n];
        for v in index.upstream(root) {
            marks[v as usize] = true;
        }
        in_scope = Some(marks);
        plan.scoped = true;
    }
    let mut targets = vec![false; n];
    let mut queue: VecDeque<NodeId> = VecDeque::new();
    let mut family_roots: Vec<NodeId> = Vec::new();
    for r in (0..n as NodeId).filter(|&r| index.is_run(r)) {
        if !index.run_kind(r).is_some_and(produces_model)
            || in_scope.as_ref().is_some_and(|s| !s[r as usize])
        {
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
            plan.candidates.push(r);
            plan.needed[r as usize] = true;
            queue.push_back(r);
            if bits & UNGATED != 0 {
                family_roots.push(r);
            }
        }
    }
    plan.targets = targets.iter().filter(|t| **t).count();

    // The candidates' lineage from the licensed models down: what their exposures pass.
    plan.in_region = vec![false; n];
    plan.reach = reach;
    plan.licensed = licensed;
    plan.restrictions_travel = policy.organisation.restrictions_travel;
    plan.grow(index, plan.candidates.clone());
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
    // The inputs and outputs of every run read so far: a finding names its run's targets, and
    // the integrity checks see these runs whole.
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
    fn scoped_and_pre_release_audits_equal_the_full_audit() {
        let licenses = ["llama3.1", "cc-by-nc-4.0", "gemma", "apache-2.0"];
        for seed in 1..=4 {
            let dir = tempfile::tempdir().unwrap();
            let store = random_store(dir.path(), seed, &licenses, true);
            let policy = Policy::locate(None, dir.path()).unwrap();
            let catalog = Catalog::for_audit(None, Some(&policy)).unwrap();
            let view = View::build(&store.load().unwrap(), None);
            let index = LineageIndex::load(&store, None).unwrap();
            let checkpoints: Vec<String> = (0..index.node_count() as NodeId)
                .filter(|&v| index.artifact_kind(v) == Some(ArtifactKind::Checkpoint))
                .map(|v| index.id(v).to_string())
                .collect();
            let runs: Vec<String> = view.runs.keys().cloned().collect();
            let mut cases: Vec<AuditOptions> = checkpoints
                .iter()
                .step_by(7)
                .chain(runs.iter().step_by(31))
                .map(|s| AuditOptions {
                    assume_released: Vec::new(),
                    scope: Some(s.clone()),
                })
                .collect();
            cases.push(AuditOptions {
                assume_released: checkpoints.iter().step_by(3).cloned().collect(),
                scope: None,
            });
            cases.push(AuditOptions {
                assume_released: checkpoints.clone(),
                scope: checkpoints.last().cloned(),
            });
            let mut with_findings = 0;
            for opts in &cases {
                let full = serde_json::to_value(audit(&view, &catalog, &policy, opts)).unwrap();
                let pruned = audit_store(&store, &catalog, &policy, opts, None).unwrap();
                let pruned = serde_json::to_value(&pruned).unwrap();
                with_findings += !full["findings"].as_array().unwrap().is_empty() as usize;
                assert_eq!(full, pruned, "seed {seed}, {opts:?}");
            }
            assert!(
                with_findings > cases.len() / 4,
                "seed {seed}: {with_findings}"
            );
        }
    }

    #[test]
    fn demo_store_audit_equals_the_full_audit() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let policy = Policy::locate(None, &built.project).unwrap();
        let (full, pruned) = both(&built.store, &policy);
        assert!(!full["findings"].as_array().unwrap().is_empty());
        assert_eq!(full, pruned);
        // Scoped to each checkpoint: waivers that matched nothing are not reported then.
        let catalog = Catalog::for_audit(None, Some(&policy)).unwrap();
        let view = View::build(&built.store.load().unwrap(), None);
        for (id, _) in view
            .artifacts
            .iter()
            .filter(|(_, a)| a.kind == ArtifactKind::Checkpoint)
        {
            let opts = AuditOptions {
                assume_released: Vec::new(),
                scope: Some(id.clone()),
            };
            let full = serde_json::to_value(audit(&view, &catalog, &policy, &opts)).unwrap();
            let store = audit_store(&built.store, &catalog, &policy, &opts, None).unwrap();
            assert_eq!(full, serde_json::to_value(&store).unwrap(), "scope {id}");
        }
    }

    /// A random layered lineage: models under terms of every kind (conditional, internal-only,
    /// non-commercial, no-other-LLM, unknown, none), random roles and run kinds, some
    /// checkpoints released, some runs naming artifacts nobody recorded.
    fn random_store(dir: &std::path::Path, seed: u64, licenses: &[&str], releases: bool) -> Store {
        let store = Store::init(dir).unwrap();
        store
            .append(random_batch(seed, licenses, releases))
            .unwrap();
        store
    }

    fn random_batch(seed: u64, licenses: &[&str], releases: bool) -> Batch {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
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
            let run = RunRecord {
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
            };
            // Some runs are recorded twice (started, then finished): the audit dates them as
            // the view merges their records.
            if next(6) == 0 {
                let mut finish = run.clone();
                finish.started_at = [None, Some(start - Duration::minutes(30))][next(2) as usize];
                finish.ended_at = Some(start + Duration::minutes(20));
                finish.recorded_at = start + Duration::minutes(40);
                let mut begin = run.clone();
                begin.started_at = [None, Some(start)][next(2) as usize];
                batch.runs.push(begin);
                batch.runs.push(finish);
            } else {
                batch.runs.push(run);
            }
            // Some artifacts have a second producer: two paths of one length can reach them.
            if i > 0 && next(8) == 0 {
                let (pid, _) = ids[ids.len() - 1 - next(ids.len().min(40) as u64) as usize].clone();
                batch.runs.push(RunRecord {
                    record_id: String::new(),
                    run_id: id::derived_run(format!("second run {seed} {i}").as_bytes()),
                    kind: if checkpoint {
                        RunKind::FineTune
                    } else {
                        RunKind::Transform
                    },
                    name: None,
                    status: RunStatus::Succeeded,
                    started_at: Some(start),
                    ended_at: None,
                    inputs: vec![RunInput {
                        artifact_id: pid,
                        role: Role::TrainingData,
                    }],
                    outputs: vec![aid.clone()],
                    recorded_at: start,
                    recorded_by: "test".into(),
                });
            }
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
        batch
    }

    /// Every table's records cut into `parts` slices, in order: runs can name artifacts whose
    /// records come in a later part, and a run's two records can land in different parts.
    fn in_parts(batch: Batch, parts: usize) -> Vec<Batch> {
        fn cut<T: Clone>(all: &[T], part: usize, parts: usize) -> Vec<T> {
            all[all.len() * part / parts..all.len() * (part + 1) / parts].to_vec()
        }
        (0..parts)
            .map(|p| Batch {
                artifacts: cut(&batch.artifacts, p, parts),
                license_claims: cut(&batch.license_claims, p, parts),
                runs: cut(&batch.runs, p, parts),
                releases: cut(&batch.releases, p, parts),
                waivers: cut(&batch.waivers, p, parts),
            })
            .collect()
    }

    fn same_index(a: &LineageIndex, b: &LineageIndex, case: &str) {
        let (a, b) = (a.fingerprint(), b.fingerprint());
        let differ: Vec<_> = a.iter().zip(&b).filter(|(x, y)| x != y).take(2).collect();
        assert!(a == b, "{case}: {differ:#?}");
    }

    #[test]
    fn a_cached_index_extended_with_new_segments_equals_one_built_whole() {
        let licenses = ["llama3.1", "cc-by-nc-4.0", "gemma", "acme-unknown-1.0"];
        for seed in 1..=4 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::init(dir.path()).unwrap();
            let policy = Policy::locate(None, dir.path()).unwrap();
            let parts = in_parts(random_batch(seed, &licenses, true), 5);
            for (i, part) in parts.into_iter().enumerate() {
                store.append(part).unwrap();
                let loaded = LineageIndex::load(&store, None).unwrap();
                // The first load builds and caches; later ones extend what is cached, and
                // (each part being more than a sixteenth of the store) write the extension.
                assert_eq!(loaded.is_extended(), i > 0, "seed {seed}, part {i}");
                let built = LineageIndex::build(&store, None).unwrap();
                same_index(&loaded, &built, &format!("seed {seed}, part {i}"));
                // Read back whole: the written extension is one layer, equal to a build.
                read_back_whole(&store, &built, &format!("seed {seed}, part {i}"));
                let (full, pruned) = both(&store, &policy);
                assert_eq!(full, pruned, "seed {seed}, part {i}");
            }
            // A compaction replaces the segments the cache was built from: built again.
            store.compact().unwrap();
            let loaded = LineageIndex::load(&store, None).unwrap();
            assert!(!loaded.is_extended());
            let built = LineageIndex::build(&store, None).unwrap();
            same_index(&loaded, &built, &format!("seed {seed}, compacted"));
        }
    }

    /// The index cached for the store's listing, read back as one layer: equal to `built`,
    /// and every id found where it is numbered (the merged id table of a written extension).
    fn read_back_whole(store: &Store, built: &LineageIndex, case: &str) {
        let listing = crate::graph::index::cache::Listing::of(store).unwrap();
        assert!(
            crate::graph::index::cache::holds(store, &listing),
            "{case}: not cached"
        );
        let reread = LineageIndex::load(store, None).unwrap();
        assert!(reread.is_from_cache() && !reread.is_extended(), "{case}");
        same_index(&reread, built, &format!("{case}, read back"));
        for n in 0..reread.node_count() as u32 {
            assert_eq!(reread.node(reread.id(n)), Some(n), "{case}: node {n}");
        }
    }

    #[test]
    fn small_extensions_are_not_written_until_they_add_up_and_new_claims_alone_are() {
        let licenses = ["llama3.1", "cc-by-nc-4.0", "gemma"];
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        let mut batch = random_batch(7, &licenses, true);
        let claims = std::mem::take(&mut batch.license_claims);
        let mut parts = in_parts(batch, 40).into_iter();
        for part in parts.by_ref().take(30) {
            store.append(part).unwrap();
        }
        LineageIndex::load(&store, None).unwrap();
        let listing = || crate::graph::index::cache::Listing::of(&store).unwrap();
        let cached = |l| crate::graph::index::cache::holds(&store, &l);
        assert!(cached(listing()), "built and written");
        // One part is a thirtieth of what the file covers: extended, not written.
        store.append(parts.next().unwrap()).unwrap();
        let loaded = LineageIndex::load(&store, None).unwrap();
        assert!(loaded.is_extended() && !cached(listing()));
        same_index(
            &loaded,
            &LineageIndex::build(&store, None).unwrap(),
            "one part",
        );
        // Three parts are a tenth: written.
        for part in parts.by_ref().take(2) {
            store.append(part).unwrap();
        }
        let loaded = LineageIndex::load(&store, None).unwrap();
        assert!(loaded.is_extended());
        let built = LineageIndex::build(&store, None).unwrap();
        same_index(&loaded, &built, "three parts");
        read_back_whole(&store, &built, "three parts");
        // License claims alone add no artifact or run segment: the extension is written.
        store
            .append(Batch {
                license_claims: claims,
                ..Default::default()
            })
            .unwrap();
        let loaded = LineageIndex::load(&store, None).unwrap();
        assert!(loaded.is_from_cache(), "extended, not built again");
        let built = LineageIndex::build(&store, None).unwrap();
        same_index(&loaded, &built, "claims");
        read_back_whole(&store, &built, "claims");
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
            let mut policy = Policy::locate(None, dir.path()).unwrap();
            for travel in [false, true] {
                policy.organisation.restrictions_travel = travel;
                let (full, pruned) = both(&store, &policy);
                assert!(
                    !full["findings"].as_array().unwrap().is_empty(),
                    "seed {seed}"
                );
                assert_eq!(full, pruned, "seed {seed}, restrictions travel: {travel}");
            }
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
        assert!(unreleased.runs_evaluated > unreleased.candidates.len());

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
        assert!(released.candidates.len() > unreleased.candidates.len());
    }
}
