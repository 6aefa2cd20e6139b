//! Reports and interchange: the lineage and audit of a checkpoint, a run or the whole store,
//! rendered for people (Markdown, self-contained HTML with an SVG lineage picture), for CI
//! (SARIF 2.1.0) and for other systems (OpenLineage 2-0-2 events, W3C PROV-JSON, SPDX 3.0.1
//! AI/Dataset, CycloneDX 1.6 ML-BOM). Every machine format is checked by its official
//! validator in the test suite.

pub mod cyclonedx;
pub mod html;
pub mod markdown;
pub mod openlineage;
pub mod parquet;
pub mod prov;
pub mod sarif;
pub mod spdx;
pub mod svg;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::audit::AuditReport;
use crate::graph::{LineageGraph, Node, Walk};
use crate::view::View;

/// The tool name and version written into every export.
pub const PRODUCER: &str = concat!("https://mlprov.dev/mlprov/", env!("CARGO_PKG_VERSION"));
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// "vendor/model@rev through channel" and "N bytes in M files", for descriptions.
pub fn model_and_size_facts(a: &crate::view::Artifact) -> Vec<String> {
    let mut facts = Vec::new();
    if let (Some(v), Some(m)) = (&a.vendor, &a.model) {
        facts.push(format!(
            "{v}/{m}@{} through {}",
            a.revision.as_deref().unwrap_or("unversioned"),
            a.channel
                .map(|c| c.as_str())
                .unwrap_or("an unrecorded channel")
        ));
    }
    if let Some(size) = a.size_bytes {
        let files = a
            .file_count
            .map(|n| format!(" in {n} files"))
            .unwrap_or_default();
        facts.push(format!("{size} bytes{files}"));
    }
    facts
}

/// Everything an exporter reads. Exporters are pure: same input, same output (ids and
/// timestamps come from here, never from the clock).
pub struct ExportInput<'a> {
    pub view: &'a View,
    pub graph: &'a LineageGraph,
    pub audit: &'a AuditReport,
    /// The checkpoint or run reported on; `None` for the whole store.
    pub root: Option<String>,
    /// Ids (artifacts and runs) in scope: the root's upstream closure, or everything.
    pub scope: BTreeSet<String>,
    pub generated_at: DateTime<Utc>,
}

impl<'a> ExportInput<'a> {
    pub fn new(
        view: &'a View,
        graph: &'a LineageGraph,
        audit: &'a AuditReport,
        root: Option<String>,
        generated_at: DateTime<Utc>,
    ) -> Self {
        let scope = match root.as_deref().and_then(|r| graph.node(r)) {
            Some(n) => graph
                .closure(n, Walk::Upstream, None)
                .nodes
                .iter()
                .map(|(n, _)| graph.id(*n).to_string())
                .collect(),
            None => graph
                .graph
                .node_indices()
                .map(|n| graph.id(n).to_string())
                .collect(),
        };
        ExportInput {
            view,
            graph,
            audit,
            root,
            scope,
            generated_at,
        }
    }

    /// Artifacts in scope that have records.
    pub fn artifacts(&self) -> impl Iterator<Item = &'a crate::view::Artifact> + '_ {
        self.view
            .artifacts
            .values()
            .filter(|a| self.scope.contains(&a.id))
    }

    /// How many artifacts (recorded or not) and runs are in scope.
    pub fn scope_counts(&self) -> (usize, usize) {
        let artifacts = self.scope.iter().filter(|id| self.is_artifact(id)).count();
        (artifacts, self.runs().count())
    }

    /// Runs in scope.
    pub fn runs(&self) -> impl Iterator<Item = &'a crate::view::Run> + '_ {
        self.view
            .runs
            .values()
            .filter(|r| self.scope.contains(&r.id))
    }

    /// Findings about runs or targets in scope.
    pub fn findings(&self) -> impl Iterator<Item = &'a crate::audit::Finding> + '_ {
        self.audit.findings.iter().filter(|f| {
            self.root.is_none()
                || f.run.as_ref().is_some_and(|r| self.scope.contains(r))
                || f.target.as_ref().is_some_and(|t| self.scope.contains(t))
        })
    }

    /// Whether a graph node is an artifact (as opposed to a run).
    pub fn is_artifact(&self, id: &str) -> bool {
        self.graph
            .node(id)
            .is_some_and(|n| matches!(self.graph.graph[n], Node::Artifact(_)))
    }
}
