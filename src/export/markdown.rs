//! The report for people, as Markdown: the verdict and counts, the lineage as a Mermaid
//! diagram (restricted paths highlighted), every finding with its evidence (run, target, model,
//! license, the deciding clause with its source and confidence, disagreeing claims, conditions,
//! the path), every artifact and run in scope, and the waivers.
//!
//! The facts gathered here ([`Counts`], [`artifact_rows`], [`run_rows`], [`waiver_rows`], the
//! per-finding lines) are shared with the HTML report, so both say the same.

use std::collections::BTreeSet;
use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::svg::{Highlights, Mark};
use super::ExportInput;
use crate::audit::{Finding, Status};
use crate::error::Result;
use crate::graph::render::{lineage_report, to_mermaid, LineageReport};
use crate::graph::{Closure, Walk};
use crate::policy::Severity;
use crate::records::{ArtifactKind, Distribution};
use crate::view::short_id;

/// Above this many nodes the Mermaid diagram is left out (Markdown viewers give up).
pub const MERMAID_MAX_NODES: usize = 200;

// ---------------------------------------------------------------------------------------------
// Facts shared with the HTML report.

/// Findings in scope by severity; waived ones counted apart, per severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub waived_errors: usize,
    pub waived_warnings: usize,
    pub waived_notes: usize,
}

impl Counts {
    pub fn of(findings: &[&Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            let waived = f.status == Status::Waived;
            match (f.severity, waived) {
                (Severity::Error, false) => c.errors += 1,
                (Severity::Warning, false) => c.warnings += 1,
                (Severity::Note, false) => c.notes += 1,
                (Severity::Error, true) => c.waived_errors += 1,
                (Severity::Warning, true) => c.waived_warnings += 1,
                (Severity::Note, true) => c.waived_notes += 1,
                (Severity::Allow, _) => {}
            }
        }
        c
    }

    pub fn waived(&self) -> usize {
        self.waived_errors + self.waived_warnings + self.waived_notes
    }

    /// `fail` with an active error, `warn` with an active warning, else `pass` (as the audit).
    pub fn verdict(&self) -> &'static str {
        if self.errors > 0 {
            "fail"
        } else if self.warnings > 0 {
            "warn"
        } else {
            "pass"
        }
    }

    /// (severity, active, waived) rows.
    pub fn rows(&self) -> [(&'static str, usize, usize); 3] {
        [
            ("error", self.errors, self.waived_errors),
            ("warning", self.warnings, self.waived_warnings),
            ("note", self.notes, self.waived_notes),
        ]
    }
}

/// `waived` for a waived finding, else its severity.
pub fn status_word(f: &Finding) -> &'static str {
    match f.status {
        Status::Waived => "waived",
        Status::Active => f.severity.as_str(),
    }
}

/// A name for people: artifact label, run name, else the short id.
pub fn label_of(input: &ExportInput, id: &str) -> String {
    if let Some(a) = input.view.artifacts.get(id) {
        return a.label();
    }
    if let Some(r) = input.view.runs.get(id) {
        return r.name.clone().unwrap_or_else(|| format!("{} run", r.kind));
    }
    short_id(id)
}

/// A run's name without a leading kind ("generate chat-pairs" of a generate run is
/// "chat-pairs"), for places that show the kind beside it.
pub fn short_run_name(kind: &str, name: &str) -> String {
    name.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(' '))
        .filter(|rest| !rest.trim().is_empty())
        .unwrap_or(name)
        .to_string()
}

/// What the report covers, for titles.
pub fn scope_title(input: &ExportInput) -> String {
    match &input.root {
        Some(r) => label_of(input, r),
        None => "whole store".to_string(),
    }
}

/// The moment distributions are judged at: the view's as-of, else the report's time.
pub fn judged_at(input: &ExportInput) -> chrono::DateTime<chrono::Utc> {
    input.view.as_of.unwrap_or(input.generated_at)
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub struct ArtifactRow {
    pub kind: String,
    pub name: String,
    /// Other names of the same content.
    pub aliases: Vec<String>,
    pub id: String,
    pub size: String,
    /// "license@version (source, confidence)" per claim.
    pub claims: Vec<String>,
    pub distribution: Option<Distribution>,
    pub location: Option<String>,
}

/// Every artifact in scope (unrecorded references included), by kind then name.
pub fn artifact_rows(input: &ExportInput) -> Vec<ArtifactRow> {
    let at = judged_at(input);
    let mut rows: Vec<ArtifactRow> = input
        .artifacts()
        .map(|a| {
            let name = a.label();
            ArtifactRow {
                kind: a.kind.to_string(),
                aliases: a.names.iter().filter(|n| **n != name).cloned().collect(),
                name,
                id: a.id.clone(),
                size: match (a.size_bytes, a.file_count) {
                    (Some(b), Some(1)) => format!("{} in 1 file", human_size(b)),
                    (Some(b), Some(n)) => format!("{} in {n} files", human_size(b)),
                    (Some(b), None) => human_size(b),
                    (None, _) => "—".into(),
                },
                claims: a
                    .license_claims
                    .iter()
                    .map(|c| {
                        let v = c
                            .license_version
                            .as_deref()
                            .map(|v| format!("@{v}"))
                            .unwrap_or_default();
                        format!("{}{v} ({}, {})", c.license_id, c.source, c.confidence)
                    })
                    .collect(),
                distribution: (a.kind == ArtifactKind::Checkpoint || !a.releases.is_empty())
                    .then(|| a.distribution_at(at)),
                location: a.locations.iter().next().cloned(),
            }
        })
        .collect();
    for id in &input.scope {
        if input.is_artifact(id) && !input.view.artifacts.contains_key(id) {
            rows.push(ArtifactRow {
                kind: "unrecorded".into(),
                name: short_id(id),
                aliases: Vec::new(),
                id: id.clone(),
                size: "—".into(),
                claims: Vec::new(),
                distribution: None,
                location: None,
            });
        }
    }
    rows.sort_by(|a, b| (&a.kind, &a.name, &a.id).cmp(&(&b.kind, &b.name, &b.id)));
    rows
}

/// One source of a dataset's recorded composition, for the report tables.
pub struct CompositionRow {
    pub value: String,
    pub rows: u64,
    pub share: f64,
    /// The artifact the rows came from, "original", or "unmapped".
    pub origin: String,
}

/// Datasets in scope with a recorded composition: (label, id, column, total rows, sources).
pub fn composition_tables(
    input: &ExportInput,
) -> Vec<(String, String, String, u64, Vec<CompositionRow>)> {
    let mut out: Vec<_> = input
        .artifacts()
        .filter_map(|a| a.composition.as_ref().map(|c| (a, c)))
        .map(|(a, c)| {
            let rows = c
                .groups
                .iter()
                .map(|g| CompositionRow {
                    value: g.value.clone().unwrap_or_else(|| "(null)".into()),
                    rows: g.rows,
                    share: if c.rows == 0 {
                        0.0
                    } else {
                        g.rows as f64 / c.rows as f64
                    },
                    origin: match (&g.source, g.mapped) {
                        (Some(src), _) => label_of(input, src),
                        (None, true) => "original".into(),
                        (None, false) => "unmapped".into(),
                    },
                })
                .collect();
            (a.label(), a.id.clone(), c.column.clone(), c.rows, rows)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

pub struct RunRow {
    pub kind: String,
    pub name: String,
    pub id: String,
    pub status: String,
    pub started: String,
    /// "label (role)".
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Every run in scope, by start time then name.
pub fn run_rows(input: &ExportInput) -> Vec<RunRow> {
    let mut runs: Vec<&crate::view::Run> = input.runs().collect();
    runs.sort_by(|a, b| (a.started_at, &a.name, &a.id).cmp(&(b.started_at, &b.name, &b.id)));
    runs.into_iter()
        .map(|r| RunRow {
            kind: r.kind.to_string(),
            name: r.name.clone().unwrap_or_default(),
            id: r.id.clone(),
            status: r.status.to_string(),
            started: r
                .started_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "—".into()),
            inputs: r
                .inputs
                .iter()
                .map(|i| format!("{} ({})", label_of(input, &i.artifact_id), i.role))
                .collect(),
            outputs: r.outputs.iter().map(|o| label_of(input, o)).collect(),
        })
        .collect()
}

pub struct WaiverRow {
    pub id: String,
    /// `active`, `unused`, `expired` or `revoked`.
    pub state: &'static str,
    pub code: String,
    pub model: Option<String>,
    pub license: Option<String>,
    pub target: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub expires: String,
    /// Findings in this report the waiver waives.
    pub waives: usize,
}

/// Every waiver in the store with its state at the report's moment.
pub fn waiver_rows(input: &ExportInput) -> Vec<WaiverRow> {
    let at = judged_at(input);
    let findings: Vec<&Finding> = input.findings().collect();
    let mut rows: Vec<WaiverRow> = input
        .view
        .waivers
        .values()
        .map(|w| {
            let waives = findings
                .iter()
                .filter(|f| {
                    f.status == Status::Waived && f.waiver.as_deref() == Some(w.waiver_id.as_str())
                })
                .count();
            let used_anywhere = input.audit.findings.iter().any(|f| {
                f.status == Status::Waived && f.waiver.as_deref() == Some(w.waiver_id.as_str())
            });
            let state = if w.revoked {
                "revoked"
            } else if w.expires_at <= at {
                "expired"
            } else if used_anywhere {
                "active"
            } else {
                "unused"
            };
            WaiverRow {
                id: w.waiver_id.clone(),
                state,
                code: w.code.clone(),
                model: w.model.as_ref().map(|m| label_of(input, m)),
                license: w.license.clone(),
                target: w.target.as_ref().map(|t| label_of(input, t)),
                reason: w.reason.clone(),
                approved_by: w.approved_by.clone(),
                expires: w.expires_at.format("%Y-%m-%d").to_string(),
                waives,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.code, &a.expires, &a.id).cmp(&(&b.code, &b.expires, &b.id)));
    rows
}

/// One line per fact of a finding, as (heading, plain text, ids to show as code). Both reports
/// render these, so they carry the same content.
pub struct FindingFacts {
    pub run: Option<(String, String)>,
    pub target: Option<(String, String, String)>,
    pub model: Option<(String, String, String)>,
    pub license: Option<String>,
    pub clarification: Option<String>,
    /// (clause heading, quote or summary, is a verbatim quote, source line).
    pub clause: Option<(String, String, bool, String)>,
    pub disagreeing: Vec<String>,
    pub conditions: Vec<String>,
    /// (kind, label, is run, role leaving the step).
    pub path: Vec<(String, String, bool, Option<String>)>,
    pub waiver: Option<String>,
    pub notes: Vec<String>,
}

pub fn finding_facts(input: &ExportInput, f: &Finding) -> FindingFacts {
    let run = f.run.as_ref().map(|r| (label_of(input, r), r.clone()));
    let target = f.target.as_ref().map(|t| {
        let dist = f
            .target_distribution
            .map(|d| format!("distribution {d}"))
            .unwrap_or_default();
        (
            f.target_label.clone().unwrap_or_else(|| label_of(input, t)),
            t.clone(),
            dist,
        )
    });
    let model = f.model.as_ref().map(|m| {
        let mut extra = Vec::new();
        if let Some(c) = f.channel {
            extra.push(format!("{c} channel"));
        }
        if let Some(v) = f.via {
            extra.push(format!("its {} reached this run", v.as_str()));
        }
        if let Some(t) = f.generated_at {
            extra.push(format!("generated {}", t.format("%Y-%m-%d")));
        }
        (
            f.model_label.clone().unwrap_or_else(|| label_of(input, m)),
            m.clone(),
            extra.join("; "),
        )
    });
    let license = f.license.as_ref().map(|l| {
        let v = l
            .version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        format!("{}{v} [{}] — {}", l.name, l.id, l.basis)
    });
    let clarification = f.clarification.as_ref().map(|c| {
        let by = c
            .approved_by
            .as_deref()
            .map(|a| format!(", approved by {a}"))
            .unwrap_or_default();
        format!("read as {}{by}: {}", c.class.as_str(), c.reason)
    });
    let clause = f.claim.as_ref().map(|c| {
        let heading = match &c.clause {
            Some(cl) => format!("clause {cl} ({})", c.class.as_str()),
            None => format!("claim {} ({})", c.id, c.class.as_str()),
        };
        let (text, verbatim) = match &c.quote {
            Some(q) => (q.clone(), true),
            None => (c.summary.clone(), false),
        };
        (
            heading,
            text,
            verbatim,
            format!("{} ({}, read {})", c.source, c.confidence, c.read),
        )
    });
    let disagreeing = f
        .disagreeing_claims
        .iter()
        .map(|d| {
            format!(
                "{} — {} ({}, {})",
                d.class.as_str(),
                d.summary,
                d.confidence,
                d.source
            )
        })
        .collect();
    let path = f
        .path
        .iter()
        .map(|s| {
            (
                s.kind.clone(),
                s.label.clone(),
                s.node_type == "run",
                s.role.map(|r| r.to_string()),
            )
        })
        .collect();
    FindingFacts {
        run,
        target,
        model,
        license,
        clarification,
        clause,
        disagreeing,
        conditions: f.conditions.clone(),
        path,
        waiver: f.waiver.clone(),
        notes: f.notes.clone(),
    }
}

/// The lineage in scope as a report for diagrams: the root's upstream, or every node of the
/// store. `None` above [`MERMAID_MAX_NODES`].
pub fn scope_lineage(input: &ExportInput) -> Option<LineageReport> {
    let g = input.graph;
    let closure = match input.root.as_deref().and_then(|r| g.node(r)) {
        Some(n) => g.closure(n, Walk::Upstream, None),
        None => {
            let nodes: Vec<_> = g
                .graph
                .node_indices()
                .filter(|&n| input.scope.contains(g.id(n)))
                .map(|n| (n, 0))
                .collect();
            let keep: BTreeSet<_> = nodes.iter().map(|(n, _)| *n).collect();
            let edges = g
                .graph
                .edge_references()
                .filter(|e| keep.contains(&e.source()) && keep.contains(&e.target()))
                .map(|e| (e.source(), e.target(), *e.weight()))
                .collect();
            let root = nodes.first()?.0;
            Closure {
                root,
                walk: Walk::Upstream,
                nodes,
                edges,
                truncated: false,
            }
        }
    };
    if closure.nodes.len() > MERMAID_MAX_NODES {
        return None;
    }
    Some(lineage_report(input.view, g, &closure, None))
}

/// Mermaid for the lineage, with the restricted (and waived) paths styled.
pub fn mermaid(report: &LineageReport, hl: &Highlights) -> String {
    let mut out = to_mermaid(report);
    let mut restricted = Vec::new();
    let mut waived = Vec::new();
    for (i, n) in report.nodes.iter().enumerate() {
        match hl.node(&n.id) {
            Some(Mark::Restricted) => restricted.push(format!("n{i}")),
            Some(Mark::Waived) => waived.push(format!("n{i}")),
            None => {}
        }
    }
    let mut red_links = Vec::new();
    let mut muted_links = Vec::new();
    for (i, e) in report.edges.iter().enumerate() {
        match hl.edge(&e.from, &e.to, e.role) {
            Some(Mark::Restricted) => red_links.push(i.to_string()),
            Some(Mark::Waived) => muted_links.push(i.to_string()),
            None => {}
        }
    }
    let _ = writeln!(
        out,
        "  classDef restricted fill:#ffebee,stroke:{},stroke-width:3px",
        super::svg::RESTRICTED
    );
    let _ = writeln!(
        out,
        "  classDef waived stroke:{},stroke-width:2px,stroke-dasharray:6 4",
        super::svg::WAIVED
    );
    if !restricted.is_empty() {
        let _ = writeln!(out, "  class {} restricted", restricted.join(","));
    }
    if !waived.is_empty() {
        let _ = writeln!(out, "  class {} waived", waived.join(","));
    }
    if !red_links.is_empty() {
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:{},stroke-width:3px",
            red_links.join(","),
            super::svg::RESTRICTED
        );
    }
    if !muted_links.is_empty() {
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:{},stroke-width:2px,stroke-dasharray:6 4",
            muted_links.join(","),
            super::svg::WAIVED
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Markdown escaping.

/// Inline text: no line breaks, Markdown punctuation escaped (pipes are left to [`cell`]).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in one_line(s).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that holds any text: fenced by more backticks than it contains.
pub fn code(s: &str) -> String {
    let s = one_line(s);
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if s.starts_with('`') || s.ends_with('`') || longest > 0 {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A table cell from already-formatted inline Markdown: pipes escaped, line breaks as `<br>`.
pub fn cell(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('|', "\\|")
        .replace('\n', "<br>")
}

fn one_line(s: &str) -> String {
    s.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

fn row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        out.push(' ');
        out.push_str(&cell(c));
        out.push_str(" |");
    }
    out.push('\n');
}

// ---------------------------------------------------------------------------------------------

pub fn render(input: &ExportInput) -> Result<String> {
    let findings: Vec<&Finding> = input.findings().collect();
    let counts = Counts::of(&findings);
    let hl = Highlights::of(&findings);
    let mut s = String::new();

    let _ = writeln!(s, "# mlprov report: {}\n", text(&scope_title(input)));
    let scope = match &input.root {
        Some(r) => format!("the upstream of {} {}", text(&label_of(input, r)), code(r)),
        None => "every artifact and run in the store".to_string(),
    };
    let (artifacts, runs) = input.scope_counts();
    // Hard line breaks (a trailing backslash) keep the facts on their own lines.
    let mut lines = vec![
        format!(
            "Generated {} by mlprov {}",
            input
                .generated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            super::VERSION
        ),
        format!("Scope: {scope} ({artifacts} artifacts, {runs} runs)"),
    ];
    if let Some(t) = input.view.as_of {
        lines.push(format!(
            "As of {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    let trust = serde_json::to_value(input.audit.trust)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    lines.push(match &input.audit.policy {
        Some(p) => format!("Policy {} · trust {trust}", code(p)),
        None => format!("Built-in policy defaults · trust {trust}"),
    });
    let _ = writeln!(s, "{}\n", lines.join("\\\n"));

    let _ = writeln!(s, "## Verdict: **{}**\n", counts.verdict().to_uppercase());
    let _ = writeln!(
        s,
        "{} errors, {} warnings, {} notes active; {} waived.\n",
        counts.errors,
        counts.warnings,
        counts.notes,
        counts.waived()
    );
    s.push_str("| severity | active | waived |\n|---|---:|---:|\n");
    for (sev, active, waived) in counts.rows() {
        row(
            &mut s,
            &[sev.to_string(), active.to_string(), waived.to_string()],
        );
    }
    s.push('\n');

    s.push_str("## Lineage\n\n");
    match scope_lineage(input) {
        Some(report) => {
            s.push_str(
                "Data flows left to right; nodes and links on the path of an active error or warning are red, of a waived one dashed.\n\n",
            );
            s.push_str("```mermaid\n");
            s.push_str(&mermaid(&report, &hl));
            s.push_str("```\n\n");
        }
        None => {
            let _ = writeln!(
                s,
                "The lineage has more than {MERMAID_MAX_NODES} nodes, too many for a diagram; the HTML report draws the finding paths, and the tables below list everything.\n"
            );
        }
    }

    let _ = writeln!(s, "## Findings ({})\n", findings.len());
    if findings.is_empty() {
        s.push_str("No findings.\n\n");
    }
    for (i, f) in findings.iter().enumerate() {
        finding_md(&mut s, input, i + 1, f);
    }

    let rows = artifact_rows(input);
    let _ = writeln!(s, "## Artifacts ({})\n", rows.len());
    s.push_str("| kind | name | id | size | license claims (source, confidence) | distribution |\n|---|---|---|---|---|---|\n");
    for r in &rows {
        let mut name = text(&r.name);
        if !r.aliases.is_empty() {
            let _ = write!(name, "\n(also {})", text(&r.aliases.join(", ")));
        }
        let claims = if r.claims.is_empty() {
            "none recorded".to_string()
        } else {
            r.claims
                .iter()
                .map(|c| text(c))
                .collect::<Vec<_>>()
                .join("\n")
        };
        row(
            &mut s,
            &[
                text(&r.kind),
                name,
                code(&r.id),
                text(&r.size),
                claims,
                r.distribution
                    .map(|d| text(d.as_str()))
                    .unwrap_or_else(|| "—".into()),
            ],
        );
    }
    s.push('\n');

    let compositions = composition_tables(input);
    if !compositions.is_empty() {
        s.push_str("## Dataset composition\n\n");
        for (label, id, column, total, rows) in &compositions {
            let _ = writeln!(
                s,
                "**{}** ({}) — {} rows by `{}`\n",
                text(label),
                code(id),
                crate::audit::group_digits(*total),
                text(column)
            );
            s.push_str("| source value | rows | share | from |\n|---|---:|---:|---|\n");
            for r in rows {
                row(
                    &mut s,
                    &[
                        text(&r.value),
                        crate::audit::group_digits(r.rows),
                        format!("{:.1}%", 100.0 * r.share),
                        text(&r.origin),
                    ],
                );
            }
            s.push('\n');
        }
    }

    let runs = run_rows(input);
    let _ = writeln!(s, "## Runs ({})\n", runs.len());
    s.push_str("| kind | name | id | status | started | inputs (role) | outputs |\n|---|---|---|---|---|---|---|\n");
    for r in &runs {
        row(
            &mut s,
            &[
                text(&r.kind),
                text(&r.name),
                code(&r.id),
                text(&r.status),
                text(&r.started),
                r.inputs
                    .iter()
                    .map(|i| text(i))
                    .collect::<Vec<_>>()
                    .join("\n"),
                r.outputs
                    .iter()
                    .map(|o| text(o))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ],
        );
    }
    s.push('\n');

    let waivers = waiver_rows(input);
    let _ = writeln!(s, "## Waivers ({})\n", waivers.len());
    if waivers.is_empty() {
        s.push_str("No waivers.\n");
    } else {
        s.push_str("| waiver | state | code | model | license | target | reason | approved by | expires | waives here |\n|---|---|---|---|---|---|---|---|---|---:|\n");
        for w in &waivers {
            let opt = |o: &Option<String>| o.as_deref().map(text).unwrap_or_else(|| "any".into());
            row(
                &mut s,
                &[
                    code(&w.id),
                    format!("**{}**", w.state),
                    text(&w.code),
                    opt(&w.model),
                    opt(&w.license),
                    opt(&w.target),
                    text(&w.reason),
                    text(&w.approved_by),
                    text(&w.expires),
                    w.waives.to_string(),
                ],
            );
        }
    }
    Ok(s)
}

fn finding_md(s: &mut String, input: &ExportInput, n: usize, f: &Finding) {
    let word = match f.status {
        Status::Waived => format!("waived {}", f.severity.as_str()),
        Status::Active => f.severity.as_str().to_string(),
    };
    let _ = writeln!(s, "### {n}. {} {} — {}\n", code(f.code), text(f.name), word);
    let _ = writeln!(s, "{}\n", text(&f.message));
    let facts = finding_facts(input, f);
    if let Some((label, id)) = &facts.run {
        let _ = writeln!(s, "- **Run:** {} {}", text(label), code(id));
    }
    if let Some((label, id, extra)) = &facts.target {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {}", text(extra))
        };
        let _ = writeln!(s, "- **Target:** {} {}{extra}", text(label), code(id));
    }
    if let Some((label, id, extra)) = &facts.model {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" — {}", text(extra))
        };
        let _ = writeln!(s, "- **Model:** {} {}{extra}", text(label), code(id));
    }
    if let Some(l) = &facts.license {
        let _ = writeln!(s, "- **License:** {}", text(l));
    }
    if let Some(c) = &facts.clarification {
        let _ = writeln!(s, "- **Policy clarification:** {}", text(c));
    }
    if let Some((heading, body, verbatim, source)) = &facts.clause {
        // A verbatim quote is the blockquote itself; a summary says it is one.
        let summary = if *verbatim {
            ""
        } else {
            " (summary, not a verbatim quote)"
        };
        let _ = writeln!(
            s,
            "- **Deciding {}**{summary} — source: {}\n",
            text(heading),
            text(source)
        );
        for line in body.lines() {
            let _ = writeln!(s, "  > {}", text(line));
        }
        s.push('\n');
    }
    if !facts.disagreeing.is_empty() {
        s.push_str("- **Disagreeing claims:**\n");
        for d in &facts.disagreeing {
            let _ = writeln!(s, "  - {}", text(d));
        }
    }
    if !facts.conditions.is_empty() {
        s.push_str("- **Conditions:**\n");
        for c in &facts.conditions {
            let _ = writeln!(s, "  - {}", text(c));
        }
    }
    if !facts.path.is_empty() {
        let mut line = String::new();
        for (i, (kind, label, is_run, role)) in facts.path.iter().enumerate() {
            if i > 0 {
                line.push_str(" → ");
            }
            if *is_run {
                let _ = write!(line, "{} run “{}”", text(kind), text(label));
            } else {
                let _ = write!(line, "{} **{}**", text(kind), text(label));
            }
            if let Some(r) = role {
                let _ = write!(line, " —{}", text(r));
            }
        }
        let _ = writeln!(s, "- **Path:** {line}");
    }
    if let Some(w) = &facts.waiver {
        let _ = writeln!(s, "- **Waiver:** {}", code(w));
    }
    for note in &facts.notes {
        let _ = writeln!(s, "- **Note:** {}", text(note));
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_escape_pipes_and_line_breaks() {
        assert_eq!(cell("a|b\nc\r\nd"), "a\\|b<br>c<br>d");
        // Text keeps backslashes escaped, so a pipe after one still stays inside the cell.
        assert_eq!(cell(&text("x\\|y")), "x\\\\\\|y");
        assert_eq!(cell(&code("a|b")), "`a\\|b`");
    }

    #[test]
    fn inline_text_and_code_are_escaped() {
        assert_eq!(text("**bold** <b>\nnext"), "\\*\\*bold\\*\\* \\<b\\> next");
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x\ny"), "`x y`");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn counts_and_verdict() {
        let c = Counts {
            warnings: 1,
            waived_errors: 2,
            ..Default::default()
        };
        assert_eq!(c.verdict(), "warn");
        assert_eq!(c.waived(), 2);
        assert_eq!(Counts::default().verdict(), "pass");
    }

    /// A table row built from hostile names keeps its column count.
    #[test]
    fn hostile_names_do_not_break_tables() {
        let mut s = String::new();
        row(&mut s, &[text("a | b"), code("x|`y"), text("line\nbreak")]);
        let line = s.trim_end();
        assert!(!line.contains('\n'));
        // Unescaped pipes: the row's own four delimiters only.
        let bytes = line.as_bytes();
        let delimiters = (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count();
        assert_eq!(delimiters, 4, "{line}");
    }
}
