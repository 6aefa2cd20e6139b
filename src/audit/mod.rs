// composition: done
//! The distillation audit: which training runs received outputs (or weights) of models whose
//! terms restrict what the resulting model may be, judged against the target's distribution,
//! name, family and the organisation's policy.
//!
//! How it works (docs/concepts.md, "Audit"):
//! 1. Restrictions are *exposures*: "outputs of model M (generated at time t)" or "weights of
//!    M". A run creates an exposure for every model it uses as generator, teacher, judge or
//!    reward model (outputs) or as base weights (weights); exposures flow along data: through
//!    training data and sources into a run's outputs, through base weights into derivatives,
//!    and (when `restrictions_travel`) from a checkpoint into the data it generates.
//! 2. One pass over the runs in topological order computes every artifact's exposures; a cycle
//!    is handled as a whole (every node in it gets the union) and reported.
//! 3. Every run that produces a model is evaluated against each exposure that reached it: the
//!    model's licenses (recorded claims and catalog assignments for its vendor, model,
//!    revision, channel and the time of generation), the claims about each license resolved by
//!    the trust rule or a policy clarification, and the class of the deciding claim against the
//!    target checkpoint (distributed? named? same family? commercial? competing?).
//! 4. Waivers turn matching findings into waived ones; unused and expired waivers are reported.

pub mod codes;
pub mod plan;
mod propagate;
pub mod render;

pub use plan::{audit_references, audit_store};
use propagate::{propagate, Exposure, Share};

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::catalog::{Catalog, ClaimSubject, Condition, LicenseEntry, TermClaim, TermClass};
use crate::graph::{LineageGraph, Node};
use crate::policy::{Policy, Severity, Trust};
use crate::records::{ArtifactKind, Distribution, Purpose, Role, RunKind};
use crate::view::{short_id, Artifact, Run, View};

pub const AUDIT_SCHEMA: &str = "https://mlprov.dev/schemas/audit.v1.schema.json";

/// Options of one audit.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Checkpoints to judge as if released with external weights (pre-release check).
    pub assume_released: Vec<String>,
    /// Only findings about runs upstream of this artifact or run (and the artifact itself).
    pub scope: Option<String>,
}

/// One step of an evidence path, in data-flow order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    pub id: String,
    pub label: String,
    /// `artifact` or `run`.
    #[serde(rename = "type")]
    pub node_type: &'static str,
    pub kind: String,
    /// Role of the edge that leads *out of* this step into the next (for an artifact used by a run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimRef {
    pub id: String,
    pub class: TermClass,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    pub source: String,
    pub confidence: crate::records::Confidence,
    pub read: chrono::NaiveDate,
}

impl ClaimRef {
    fn of(c: &TermClaim) -> Self {
        ClaimRef {
            id: c.id.clone(),
            class: c.class,
            summary: c.summary.clone(),
            clause: c.clause.clone(),
            quote: c.quote.clone(),
            source: c.source.clone(),
            confidence: c.confidence,
            read: c.read,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LicenseRef {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why this license applies: a recorded claim or a catalog assignment.
    pub basis: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Clarified {
    pub class: TermClass,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
}

/// The part of a dataset's rows that came from a finding's model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowShare {
    pub dataset: String,
    pub dataset_label: String,
    pub rows: u64,
    pub total_rows: u64,
    /// Rows whose source value maps to no artifact.
    pub unmapped_rows: u64,
    /// `rows / total_rows`.
    pub share: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Waived,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_distribution: Option<Distribution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<crate::records::Channel>,
    /// What of the model reached the run: its outputs or its weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<ClaimSubject>,
    /// When the outputs were generated (terms in force then apply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<LicenseRef>,
    /// The claim that decided the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<ClaimRef>,
    /// A policy clarification that replaced the catalog's reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clarification: Option<Clarified>,
    /// Claims about the same license that disagree with the deciding one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disagreeing_claims: Vec<ClaimRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// Rows of the training data that came from the model, by recorded composition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowShare>,
    /// From the restricted model to the run, in data-flow order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub waived: usize,
    pub runs_evaluated: usize,
    pub targets: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub trust: Trust,
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Whether any active finding is at least `level`.
    pub fn fails_at(&self, level: Severity) -> bool {
        self.findings.iter().any(|f| {
            f.status == Status::Active && f.severity >= level && f.severity != Severity::Allow
        })
    }
}

fn produces_model(kind: RunKind) -> bool {
    matches!(
        kind,
        RunKind::Train
            | RunKind::FineTune
            | RunKind::Distill
            | RunKind::Rl
            | RunKind::Merge
            | RunKind::Quantize
    )
}

fn run_time(run: &Run) -> Option<DateTime<Utc>> {
    run.started_at
        .or(run.ended_at)
        .or(Some(run.first_recorded_at))
}

/// Everything the evaluation needs, borrowed.
struct Ctx<'a> {
    view: &'a View,
    graph: &'a LineageGraph,
    catalog: &'a Catalog,
    policy: &'a Policy,
    opts: &'a AuditOptions,
    at: DateTime<Utc>,
    /// Licenses of a model at a moment, looked up once per (model, moment).
    licenses: RefCell<HashMap<(NodeIndex, Option<i64>), LicensesMemo<'a>>>,
    /// Each graph node's record, looked up once (the view's maps are keyed by id strings).
    records: Vec<NodeRecord<'a>>,
}

enum NodeRecord<'a> {
    Artifact(&'a Artifact),
    Run(&'a Run),
    Unrecorded,
}

impl<'a> Ctx<'a> {
    /// The record of an artifact node (`None` for runs and unrecorded artifacts).
    fn artifact(&self, n: NodeIndex) -> Option<&'a Artifact> {
        match self.records.get(n.index()) {
            Some(NodeRecord::Artifact(a)) => Some(a),
            _ => None,
        }
    }

    /// The record of a run node.
    fn run(&self, n: NodeIndex) -> Option<&'a Run> {
        match self.records.get(n.index()) {
            Some(NodeRecord::Run(r)) => Some(r),
            _ => None,
        }
    }
}

/// The dates at which the catalog's license assignments for a model change (none for an
/// artifact that is not a vendor's model: only those have assignments).
fn assignment_boundaries(catalog: &Catalog, model: Option<&Artifact>) -> Vec<DateTime<Utc>> {
    model
        .and_then(|a| {
            Some(catalog.assignment_boundaries(
                a.vendor.as_deref()?,
                a.model.as_deref()?,
                a.revision.as_deref(),
                a.channel?,
            ))
        })
        .unwrap_or_default()
}

/// Licenses that govern a model (with why), and license ids the catalog does not know.
type LicensesOf<'c> = (Vec<(&'c LicenseEntry, String)>, Vec<String>);
type LicensesMemo<'c> = Rc<LicensesOf<'c>>;

pub fn audit(view: &View, catalog: &Catalog, policy: &Policy, opts: &AuditOptions) -> AuditReport {
    audit_with(view, catalog, policy, opts, None)
}

/// Exposures that reached each run, by the run's node in the view's graph.
type RunExposures = Vec<(NodeIndex, Vec<Exposure>)>;

/// What reached each run, worked out elsewhere (the store audit propagates on the lineage
/// index) and given in terms of the view's graph: only runs to evaluate (in scope) are given.
struct Given<'g> {
    exposures: &'g dyn Fn(&Ctx) -> RunExposures,
    /// Whether the audit is scoped (then waivers that matched nothing are not reported).
    scoped: bool,
}

/// The audit of a view, with the exposures propagated here or `given`.
fn audit_with(
    view: &View,
    catalog: &Catalog,
    policy: &Policy,
    opts: &AuditOptions,
    given: Option<Given>,
) -> AuditReport {
    let graph = LineageGraph::build(view);
    let ctx = Ctx {
        view,
        graph: &graph,
        catalog,
        policy,
        opts,
        at: view.as_of.unwrap_or_else(Utc::now),
        licenses: RefCell::new(HashMap::new()),
        records: graph
            .graph
            .node_indices()
            .map(|n| match &graph.graph[n] {
                Node::Artifact(id) => view
                    .artifacts
                    .get(id)
                    .map_or(NodeRecord::Unrecorded, NodeRecord::Artifact),
                Node::Run(id) => view
                    .runs
                    .get(id)
                    .map_or(NodeRecord::Unrecorded, NodeRecord::Run),
            })
            .collect(),
    };
    let mut findings = Vec::new();

    // Graph integrity first: they limit what the license verdicts can know.
    for cycle in graph.cycles() {
        findings.push(plain(
            policy,
            codes::LINEAGE_CYCLE,
            format!(
                "cycle in recorded lineage through {}",
                cycle
                    .iter()
                    .map(|c| short_id(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for d in &view.dangling {
        let mut f = plain(
            policy,
            codes::DANGLING_REFERENCE,
            format!(
                "{} names {} ({}), which no artifact record describes",
                short_id(&d.from),
                d.missing,
                d.field
            ),
        );
        if d.from.starts_with(crate::records::id::RUN) {
            f.run = Some(d.from.clone());
        }
        findings.push(f);
    }

    findings.extend(unmapped_sources(&ctx));
    let (run_exposures, scope, scoped) = match given {
        // The runs given were chosen in scope on the whole lineage; this view holds only part.
        Some(given) => ((given.exposures)(&ctx), None, given.scoped),
        None => {
            let scope = scope_runs(&ctx);
            let scoped = scope.is_some();
            (propagate(&ctx, |_| true), scope, scoped)
        }
    };
    let mut summary = Summary::default();
    let mut targets = BTreeSet::new();
    for (run_node, exposures) in &run_exposures {
        let Node::Run(run_id) = &graph.graph[*run_node] else {
            continue;
        };
        let run = &view.runs[run_id];
        if !produces_model(run.kind) || scope.as_ref().is_some_and(|s| !s.contains(run_id)) {
            continue;
        }
        // Targets are the organisation's checkpoints; a vendor's own lineage (a model card
        // declaring its base model) is context, not something we distribute.
        let outputs: Vec<&Artifact> = run
            .outputs
            .iter()
            .filter_map(|o| view.artifacts.get(o))
            .filter(|a| a.kind == ArtifactKind::Checkpoint)
            .collect();
        if outputs.is_empty() && !run.outputs.is_empty() {
            continue;
        }
        summary.runs_evaluated += 1;
        let target_list: Vec<Option<&Artifact>> = if outputs.is_empty() {
            vec![None]
        } else {
            outputs.into_iter().map(Some).collect()
        };
        // When two models bring the same license to the same target, the finding keeps the
        // evidence that explains it best: outputs used (what distillation is) before weights
        // derived from, then the shortest path.
        let mut exposures: Vec<&Exposure> = exposures.iter().collect();
        // (Model, channel and epoch make the order total: it does not depend on the order
        // in which exposures reached the run.)
        exposures.sort_by_key(|e| {
            (
                e.origin == ClaimSubject::Weights,
                e.path.len,
                e.model.index(),
                e.via == ClaimSubject::Weights,
                e.epoch,
            )
        });
        for target in target_list {
            if let Some(t) = target {
                targets.insert(t.id.clone());
            }
            let mut found = Vec::new();
            for exposure in &exposures {
                if let Some(dataset) = exposure.cleared_by {
                    if let Some(model) = exposure_model(&ctx, exposure) {
                        found.push(cleared_note(&ctx, run, target, model, exposure, dataset));
                    }
                    continue;
                }
                let first = found.len();
                evaluate(&ctx, run, *run_node, target, exposure, &mut found);
                if let Some(share) = exposure.share {
                    for f in &mut found[first..] {
                        apply_share(&ctx, share, f);
                    }
                }
            }
            let mut seen = BTreeSet::new();
            found.retain(|f| {
                let license = f
                    .license
                    .as_ref()
                    .map(|l| l.id.clone())
                    .unwrap_or_else(|| f.model.clone().unwrap_or_default());
                seen.insert((f.code, license))
            });
            findings.extend(found);
        }
    }
    summary.targets = targets.len();

    apply_waivers(&ctx, &mut findings, scoped);
    findings.retain(|f| f.severity != Severity::Allow);
    findings.sort_by(|a, b| {
        (
            std::cmp::Reverse(a.severity),
            a.code,
            &a.run,
            &a.target,
            &a.model,
        )
            .cmp(&(
                std::cmp::Reverse(b.severity),
                b.code,
                &b.run,
                &b.target,
                &b.model,
            ))
    });
    for f in &findings {
        match (f.status, f.severity) {
            (Status::Waived, _) => summary.waived += 1,
            (_, Severity::Error) => summary.errors += 1,
            (_, Severity::Warning) => summary.warnings += 1,
            (_, Severity::Note) => summary.notes += 1,
            (_, Severity::Allow) => {}
        }
    }
    let verdict = if summary.errors > 0 {
        "fail"
    } else if summary.warnings > 0 {
        "warn"
    } else {
        "pass"
    };
    AuditReport {
        schema: AUDIT_SCHEMA,
        verdict,
        as_of: view.as_of,
        policy: policy.origin.as_ref().map(|p| p.display().to_string()),
        trust: policy.sources.trust,
        summary,
        findings,
    }
}

/// The share of a training dataset's rows behind a finding; below the policy's threshold an
/// error becomes a warning (judged on the upper bound when some rows are unmapped).
fn apply_share(ctx: &Ctx, share: Share, f: &mut Finding) {
    let Node::Artifact(id) = &ctx.graph.graph[share.dataset] else {
        return;
    };
    let label = node_label(ctx, share.dataset);
    let fraction = |rows: u64| {
        if share.total == 0 {
            0.0
        } else {
            rows as f64 / share.total as f64
        }
    };
    f.message.push_str(&format!(
        "; {} of {} rows of {label} ({:.1}%) came from it",
        group_digits(share.rows),
        group_digits(share.total),
        100.0 * fraction(share.rows)
    ));
    if share.unmapped > 0 {
        f.notes.push(format!(
            "{} more rows of {label} have unmapped sources and may also come from it",
            group_digits(share.unmapped)
        ));
    }
    let upper = fraction(share.rows + share.unmapped);
    let threshold = ctx.policy.composition.warn_below_share;
    if f.severity == Severity::Error && upper < threshold {
        f.severity = Severity::Warning;
        f.notes.push(format!(
            "share below the policy's composition.warn_below_share ({:.1}%): a warning, not an error",
            100.0 * threshold
        ));
    }
    f.rows = Some(RowShare {
        dataset: id.clone(),
        dataset_label: label,
        rows: share.rows,
        total_rows: share.total,
        unmapped_rows: share.unmapped,
        share: fraction(share.rows),
    });
}

/// L109: the restriction reached an ancestor but the data trained on provably has none of it.
fn cleared_note(
    ctx: &Ctx,
    run: &Run,
    target: Option<&Artifact>,
    model: &Artifact,
    e: &Exposure,
    dataset: NodeIndex,
) -> Finding {
    let ancestor = e
        .share
        .map(|s| {
            format!(
                " ({} of {} rows of {})",
                group_digits(s.rows),
                group_digits(s.total),
                node_label(ctx, s.dataset)
            )
        })
        .unwrap_or_default();
    let message = format!(
        "{} of {} reached an ancestor{ancestor}, but the recorded composition of {} has no rows from it: no restriction on {}",
        e.via.as_str(),
        model.label(),
        node_label(ctx, dataset),
        target.map(|t| t.label()).unwrap_or_else(|| "its output".into())
    );
    // L109 names no distribution: the target's release does not change that it is clear.
    exposure_finding(
        ctx,
        codes::CLEARED_BY_COMPOSITION,
        message,
        run,
        target,
        None,
        model,
        e,
    )
}

/// A finding about an exposure that reached a run: the run, its target, the model, how and
/// when the model reached it, and the evidence path.
#[allow(clippy::too_many_arguments)]
fn exposure_finding(
    ctx: &Ctx,
    code: &'static str,
    message: String,
    run: &Run,
    target: Option<&Artifact>,
    distribution: Option<Distribution>,
    model: &Artifact,
    e: &Exposure,
) -> Finding {
    let mut f = plain(ctx.policy, code, message);
    f.run = Some(run.id.clone());
    f.target = target.map(|t| t.id.clone());
    f.target_label = target.map(|t| t.label());
    f.target_distribution = distribution;
    f.model = Some(model.id.clone());
    f.model_label = Some(model.label());
    f.channel = model.channel;
    f.via = Some(e.via);
    f.generated_at = if e.via == ClaimSubject::Outputs {
        e.at
    } else {
        None
    };
    f.path = e
        .path()
        .iter()
        .map(|(n, role)| step(ctx, *n, *role))
        .collect();
    f
}

/// The restricted model of an exposure (exposures start only at recorded models).
fn exposure_model<'a>(ctx: &Ctx<'a>, e: &Exposure) -> Option<&'a Artifact> {
    ctx.artifact(e.model)
}

/// An artifact node's label for people (a short id when no record describes it).
fn node_label(ctx: &Ctx, n: NodeIndex) -> String {
    match &ctx.graph.graph[n] {
        Node::Artifact(id) => ctx
            .artifact(n)
            .map(|a| a.label())
            .unwrap_or_else(|| short_id(id)),
        Node::Run(id) => short_id(id),
    }
}

/// G203: datasets whose composition leaves rows of unknown origin.
fn unmapped_sources(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in ctx.view.artifacts.values() {
        let Some(c) = &a.composition else { continue };
        let unmapped: Vec<&crate::records::SourceGroup> = c
            .groups
            .iter()
            .filter(|g| !g.mapped && g.rows > 0)
            .collect();
        if unmapped.is_empty() {
            continue;
        }
        let rows: u64 = unmapped.iter().map(|g| g.rows).sum();
        let values: Vec<String> = unmapped
            .iter()
            .map(|g| g.value.clone().unwrap_or_else(|| "(null)".into()))
            .collect();
        let mut f = plain(
            ctx.policy,
            codes::UNMAPPED_SOURCES,
            format!(
                "{} of {} rows of {} have a {} value that maps to no artifact: {}",
                group_digits(rows),
                group_digits(c.rows),
                a.label(),
                c.column,
                values.join(", ")
            ),
        );
        f.target = Some(a.id.clone());
        f.target_label = Some(a.label());
        out.push(f);
    }
    out
}

/// 1234567 → "1,234,567".
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Runs upstream of the scoped artifact or run (inclusive), if a scope is set.
fn scope_runs(ctx: &Ctx) -> Option<BTreeSet<String>> {
    let scope = ctx.opts.scope.as_ref()?;
    let node = ctx.graph.node(scope)?;
    let closure = ctx.graph.closure(node, crate::graph::Walk::Upstream, None);
    Some(
        closure
            .nodes
            .iter()
            .filter_map(|(n, _)| match &ctx.graph.graph[*n] {
                Node::Run(id) => Some(id.clone()),
                Node::Artifact(_) => None,
            })
            .collect(),
    )
}

/// Whether an artifact is a model whose own terms matter (external, or carrying license claims).
fn is_licensed_model(a: &Artifact) -> bool {
    a.kind == ArtifactKind::ExternalModel || a.vendor.is_some() || !a.license_claims.is_empty()
}

fn step(ctx: &Ctx, n: NodeIndex, role: Option<Role>) -> PathStep {
    match &ctx.graph.graph[n] {
        Node::Artifact(id) => {
            let a = ctx.artifact(n);
            PathStep {
                id: id.clone(),
                label: a.map(|a| a.label()).unwrap_or_else(|| short_id(id)),
                node_type: "artifact",
                kind: a
                    .map(|a| a.kind.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                role,
            }
        }
        Node::Run(id) => {
            // Every run node comes from a run record of the view.
            let r = ctx.run(n).unwrap_or_else(|| &ctx.view.runs[id]);
            PathStep {
                id: id.clone(),
                label: r.label(),
                node_type: "run",
                kind: r.kind.to_string(),
                role,
            }
        }
    }
}

fn plain(policy: &Policy, code: &'static str, message: String) -> Finding {
    Finding {
        code,
        name: codes::name(code),
        severity: policy.severity(code),
        status: Status::Active,
        message,
        run: None,
        target: None,
        target_label: None,
        target_distribution: None,
        model: None,
        model_label: None,
        channel: None,
        via: None,
        generated_at: None,
        license: None,
        claim: None,
        clarification: None,
        disagreeing_claims: Vec::new(),
        conditions: Vec::new(),
        rows: None,
        path: Vec::new(),
        waiver: None,
        notes: Vec::new(),
    }
}

/// Licenses that govern a model: recorded claims first, then catalog assignments.
fn licenses_of<'c>(
    ctx: &Ctx<'c>,
    model: &Artifact,
    at: Option<DateTime<Utc>>,
) -> (Vec<(&'c LicenseEntry, String)>, Vec<String>) {
    let mut found: Vec<(&LicenseEntry, String)> = Vec::new();
    let mut unknown = Vec::new();
    for claim in &model.license_claims {
        match ctx.catalog.license(&claim.license_id) {
            Some(entry) => {
                if !found.iter().any(|(e, _)| e.id == entry.id) {
                    found.push((
                        entry,
                        format!("recorded claim ({}, {})", claim.source, claim.confidence),
                    ));
                }
            }
            None => unknown.push(claim.license_id.clone()),
        }
    }
    if let (Some(vendor), Some(name), Some(channel)) = (&model.vendor, &model.model, model.channel)
    {
        for a in ctx
            .catalog
            .assignments(vendor, name, model.revision.as_deref(), channel, at)
        {
            if let Some(entry) = ctx.catalog.license(&a.license) {
                if !found.iter().any(|(e, _)| e.id == entry.id) {
                    found.push((
                        entry,
                        format!(
                            "catalog assignment {}/{} ({})",
                            a.vendor, a.model, a.confidence
                        ),
                    ));
                }
            }
        }
    }
    (found, unknown)
}

/// Families of a target: the catalog family of every model on its base-weights chain.
fn families_of(ctx: &Ctx, run: &Run) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&Run> = vec![run];
    let mut seen = BTreeSet::new();
    while let Some(r) = stack.pop() {
        if !seen.insert(r.id.clone()) {
            continue;
        }
        for input in r.inputs.iter().filter(|i| i.role == Role::BaseWeights) {
            let Some(a) = ctx.view.artifacts.get(&input.artifact_id) else {
                continue;
            };
            if let (Some(v), Some(m)) = (&a.vendor, &a.model) {
                if let Some(f) = ctx.catalog.family_of(v, m) {
                    out.insert(f.to_ascii_lowercase());
                }
            }
            if let Some(node) = ctx.graph.node(&a.id) {
                stack.extend(
                    ctx.graph
                        .graph
                        .neighbors_directed(node, petgraph::Direction::Incoming)
                        .filter_map(|p| match &ctx.graph.graph[p] {
                            Node::Run(id) => ctx.view.runs.get(id),
                            Node::Artifact(_) => None,
                        }),
                );
            }
        }
    }
    out
}

struct Decision<'c> {
    /// The deciding class, and the claim it comes from.
    class: TermClass,
    claim: Option<&'c TermClaim>,
    /// Every class that applies: the deciding one, plus other classes the same source states
    /// (claims from one source add up: research-only *and* no other LLMs).
    verdicts: Vec<(TermClass, Option<&'c TermClaim>)>,
    clarification: Option<Clarified>,
    disagreeing: Vec<&'c TermClaim>,
}

fn decide<'c>(ctx: &Ctx, entry: &'c LicenseEntry, via: ClaimSubject) -> Option<Decision<'c>> {
    let mut claims: Vec<&TermClaim> = entry.claims.iter().filter(|c| c.subject == via).collect();
    if claims.is_empty() {
        // Terms about outputs bind derivatives of the weights at least as much.
        claims = entry
            .claims
            .iter()
            .filter(|c| c.subject == ClaimSubject::Outputs)
            .collect();
    }
    let most_restrictive = |cs: &[&'c TermClaim]| {
        cs.iter()
            .copied()
            .max_by_key(|c| (c.class.restrictiveness(), std::cmp::Reverse(c.id.clone())))
    };
    if let Some(c) = ctx
        .policy
        .clarification(&entry.id, via)
        .or_else(|| ctx.policy.clarification(&entry.id, ClaimSubject::Outputs))
    {
        let disagreeing = claims
            .iter()
            .copied()
            .filter(|x| x.class != c.class)
            .collect();
        let claim = claims
            .iter()
            .copied()
            .find(|x| x.class == c.class)
            .or_else(|| most_restrictive(&claims));
        return Some(Decision {
            class: c.class,
            claim,
            verdicts: vec![(c.class, claim)],
            clarification: Some(Clarified {
                class: c.class,
                reason: c.reason.clone(),
                approved_by: c.approved_by.clone(),
            }),
            disagreeing,
        });
    }
    let primary: Vec<&TermClaim> = claims
        .iter()
        .copied()
        .filter(|c| c.confidence == crate::records::Confidence::Primary)
        .collect();
    let deciding = match ctx.policy.sources.trust {
        Trust::PrimaryFirst if !primary.is_empty() => most_restrictive(&primary),
        _ => most_restrictive(&claims),
    }?;
    let mut verdicts = vec![(deciding.class, Some(deciding))];
    for c in claims
        .iter()
        .copied()
        .filter(|c| c.source == deciding.source && c.id != deciding.id)
    {
        if !verdicts.iter().any(|(class, _)| *class == c.class) {
            verdicts.push((c.class, Some(c)));
        }
    }
    let disagreeing = claims
        .iter()
        .copied()
        .filter(|c| !verdicts.iter().any(|(class, _)| *class == c.class))
        .collect();
    Some(Decision {
        class: deciding.class,
        claim: Some(deciding),
        verdicts,
        clarification: None,
        disagreeing,
    })
}

fn is_distributed(ctx: &Ctx, target: Option<&Artifact>) -> (bool, Option<Distribution>) {
    let Some(t) = target else {
        return (false, None);
    };
    if ctx.opts.assume_released.iter().any(|a| a == &t.id) {
        return (true, Some(Distribution::ExternalWeights));
    }
    let d = t.distribution_at(ctx.at);
    let distributed = match d {
        Distribution::Internal => false,
        Distribution::ExternalWeights => true,
        Distribution::ApiServed => ctx.policy.organisation.api_served_is_distribution,
    };
    (distributed, Some(d))
}

fn evaluate(
    ctx: &Ctx,
    run: &Run,
    run_node: NodeIndex,
    target: Option<&Artifact>,
    e: &Exposure,
    out: &mut Vec<Finding>,
) {
    let Some(model) = exposure_model(ctx, e) else {
        return;
    };
    let (distributed, distribution) = is_distributed(ctx, target);
    debug_assert_eq!(e.path.node, run_node);
    let verb = match e.via {
        ClaimSubject::Outputs => "outputs",
        ClaimSubject::Weights => "weights",
    };
    let target_text = target
        .map(|t| format!("{} ({})", t.label(), short_id(&t.id)))
        .unwrap_or_else(|| "its output".into());
    let base = |code: &'static str, message: String| {
        exposure_finding(ctx, code, message, run, target, distribution, model, e)
    };

    let node = ctx.graph.node(&model.id).unwrap_or(e.model);
    let memo = Rc::clone(
        ctx.licenses
            .borrow_mut()
            .entry((node, e.at.map(|t| t.timestamp_micros())))
            .or_insert_with(|| Rc::new(licenses_of(ctx, model, e.at))),
    );
    let (licenses, unknown) = (memo.0.clone(), memo.1.clone());
    for id in &unknown {
        out.push(base(
            codes::UNKNOWN_LICENSE,
            format!(
                "{verb} of {} reached run {} under license '{id}', which the catalog does not know",
                model.label(),
                run.label()
            ),
        ));
    }
    if licenses.is_empty() && unknown.is_empty() {
        out.push(base(
            codes::UNKNOWN_LICENSE,
            format!(
                "{verb} of {} reached run {}, but no license is recorded or assigned for it",
                model.label(),
                run.label()
            ),
        ));
    }

    for (entry, basis) in licenses {
        let Some(decision) = decide(ctx, entry, e.via) else {
            continue;
        };
        let with_claim = |mut f: Finding, claim: Option<&TermClaim>| {
            f.license = Some(LicenseRef {
                id: entry.id.clone(),
                name: entry.name.clone(),
                version: entry.version.clone(),
                basis: basis.clone(),
            });
            f.claim = claim.map(ClaimRef::of);
            f.clarification = decision.clarification.clone();
            f.disagreeing_claims = decision
                .disagreeing
                .iter()
                .map(|c| ClaimRef::of(c))
                .collect();
            f
        };
        if !decision.disagreeing.is_empty() {
            let classes: Vec<String> = decision
                .disagreeing
                .iter()
                .map(|c| format!("{} ({}: {})", c.class.as_str(), c.confidence, c.source))
                .collect();
            let decided_by = match (&decision.clarification, decision.claim) {
                (Some(c), _) => format!("policy clarification: {}", c.reason),
                (None, Some(c)) => format!("{} claim from {}", c.confidence, c.source),
                (None, None) => "no claim".into(),
            };
            out.push(with_claim(
                base(
                    codes::SOURCES_DISAGREE,
                    format!(
                        "sources disagree about {}: {} decided ({decided_by}); also claimed: {}",
                        entry.name,
                        decision.class.as_str(),
                        classes.join("; ")
                    ),
                ),
                decision.claim,
            ));
        }
        let subject = format!("{verb} of {} ({})", model.label(), entry.name);
        for &(class, claim) in &decision.verdicts {
            let with_license = |f: Finding| with_claim(f, claim);
            match class {
                TermClass::Allowed => {}
                TermClass::Conditional => {
                    let claim_conditions: Vec<&Condition> = claim
                        .map(|c| c.conditions.iter().collect())
                        .unwrap_or_default();
                    if distributed {
                        let names: Vec<&String> =
                            target.map(|t| t.names.iter().collect()).unwrap_or_default();
                        for cond in &claim_conditions {
                            if let Condition::NamePrefix { prefix } = cond {
                                let ok = names
                                    .iter()
                                    .any(|n| n.to_lowercase().starts_with(&prefix.to_lowercase()));
                                if !ok {
                                    let mut f = with_license(base(
                                    codes::CONDITION_UNMET,
                                    format!(
                                        "{subject} trained {target_text}, which is distributed but not named \"{prefix}...\" as the terms require"
                                    ),
                                ));
                                    f.conditions = vec![cond.describe()];
                                    out.push(f);
                                }
                            }
                        }
                        let duties: Vec<String> = claim_conditions
                            .iter()
                            .filter(|c| !matches!(c, Condition::NamePrefix { .. }))
                            .map(|c| c.describe())
                            .collect();
                        if !duties.is_empty() {
                            let mut f = with_license(base(
                            codes::DUTIES,
                            format!("{target_text} is distributed and carries duties from {subject}"),
                        ));
                            f.conditions = duties;
                            out.push(f);
                        }
                    }
                }
                TermClass::InternalOnly => {
                    if distributed {
                        out.push(with_license(base(
                        codes::INTERNAL_ONLY_DISTRIBUTED,
                        format!("{subject} may train only models used inside the organisation, but {target_text} is distributed"),
                    )));
                    }
                }
                TermClass::ForbiddenCompeting => {
                    let vendor = model.vendor.clone().unwrap_or_default();
                    if ctx.policy.competes_with(&vendor) {
                        let excepted = claim.is_some_and(|c| c.internal_exception.is_some())
                            && target.is_some_and(|t| {
                                matches!(t.purpose, Some(Purpose::Classifier | Purpose::Embedding))
                            })
                            && !distributed;
                        if !excepted {
                            let mut f = with_license(base(
                            codes::FORBIDDEN_COMPETING,
                            format!("{subject} may not train models that compete with {vendor}, and policy says {target_text} competes"),
                        ));
                            if let Some(ex) = claim.and_then(|c| c.internal_exception.as_ref()) {
                                f.notes.push(format!("permitted exception not met: {ex}"));
                            }
                            out.push(f);
                        }
                    }
                }
                TermClass::ForbiddenOtherLlm => {
                    let exempt_family = claim
                        .and_then(|c| c.exempt_family.clone())
                        .map(|f| f.to_ascii_lowercase());
                    let families = families_of(ctx, run);
                    let exempt = exempt_family.as_ref().is_some_and(|f| families.contains(f));
                    if !exempt {
                        let mut f = with_license(base(
                        codes::FORBIDDEN_OTHER_LLM,
                        format!(
                            "{subject} may not improve any other LLM{}, but trained {target_text}{}",
                            exempt_family.as_ref().map(|f| format!(" (except {f} derivatives)")).unwrap_or_default(),
                            if families.is_empty() {
                                String::new()
                            } else {
                                format!(", a derivative of {}", families.iter().cloned().collect::<Vec<_>>().join(", "))
                            }
                        ),
                    ));
                        if !distributed {
                            f.notes.push("the target is not distributed, but the terms forbid the use itself".into());
                        }
                        out.push(f);
                    }
                }
                TermClass::NonCommercial => {
                    if ctx.policy.organisation.commercial {
                        out.push(with_license(base(
                        codes::NON_COMMERCIAL,
                        format!("{subject} is for non-commercial use only, and policy says the organisation's use is commercial"),
                    )));
                    }
                }
            }
        }
    }
}

/// Mark waived findings; report expired waivers that still match, and (for a whole-store
/// audit: a scoped one cannot know) waivers that matched nothing.
fn apply_waivers(ctx: &Ctx, findings: &mut Vec<Finding>, scoped: bool) {
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut expired_notes = Vec::new();
    for f in findings.iter_mut() {
        for w in ctx.view.waivers.values() {
            let matches = w.code == f.code
                && w.model.as_ref().is_none_or(|m| f.model.as_ref() == Some(m))
                && w.license.as_ref().is_none_or(|l| {
                    f.license
                        .as_ref()
                        .is_some_and(|fl| fl.id.eq_ignore_ascii_case(l))
                })
                && w.target
                    .as_ref()
                    .is_none_or(|t| f.target.as_ref() == Some(t));
            if !matches {
                continue;
            }
            if w.revoked || w.expires_at <= ctx.at {
                let why = if w.revoked {
                    "was revoked".to_string()
                } else {
                    format!("expired on {}", w.expires_at.format("%Y-%m-%d"))
                };
                f.notes
                    .push(format!("waiver {} {why}; the finding stands", w.waiver_id));
                let mut note = plain(
                    ctx.policy,
                    codes::WAIVER_EXPIRED,
                    format!("waiver {} for {} {why}: {}", w.waiver_id, w.code, w.reason),
                );
                note.waiver = Some(w.waiver_id.clone());
                note.run = f.run.clone();
                note.target = f.target.clone();
                note.target_label = f.target_label.clone();
                note.model = f.model.clone();
                note.model_label = f.model_label.clone();
                if !expired_notes.iter().any(|n: &Finding| {
                    n.waiver == note.waiver && n.run == note.run && n.target == note.target
                }) {
                    expired_notes.push(note);
                }
                continue;
            }
            f.status = Status::Waived;
            f.waiver = Some(w.waiver_id.clone());
            f.notes.push(format!(
                "waived by {} (approved by {}, until {}): {}",
                w.waiver_id,
                w.approved_by,
                w.expires_at.format("%Y-%m-%d"),
                w.reason
            ));
            used.insert(w.waiver_id.clone());
            break;
        }
    }
    findings.extend(expired_notes);
    for w in ctx.view.waivers.values() {
        if scoped || w.revoked || w.expires_at <= ctx.at || used.contains(&w.waiver_id) {
            continue;
        }
        let mut f = plain(
            ctx.policy,
            codes::WAIVER_UNUSED,
            format!(
                "waiver {} for {} matched no finding: {}",
                w.waiver_id, w.code, w.reason
            ),
        );
        f.waiver = Some(w.waiver_id.clone());
        f.model = w.model.clone();
        f.model_label = w
            .model
            .as_ref()
            .and_then(|m| ctx.view.artifacts.get(m))
            .map(|a| a.label());
        f.target = w.target.clone();
        f.target_label = w
            .target
            .as_ref()
            .and_then(|t| ctx.view.artifacts.get(t))
            .map(|a| a.label());
        findings.push(f);
    }
}
