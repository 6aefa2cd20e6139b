//! Lineage walks as reports: a serialisable structure (JSON, schema
//! `schemas/lineage.v1.schema.json`) and its text, DOT and Mermaid renderings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;
use serde::Serialize;

use super::{Closure, Edge, LineageGraph, Node, Walk};
use crate::records::{Distribution, Role, RunStatus};
use crate::view::{short_id, View};

pub const LINEAGE_SCHEMA: &str = "https://mlprov.dev/schemas/lineage.v1.schema.json";

#[derive(Debug, Clone, Serialize)]
pub struct LineageReport {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub root: String,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth_limit: Option<usize>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
    /// Cycles that touch this lineage, each as the ids involved.
    pub cycles: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineageNode {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: &'static str,
    /// Artifact kind or run kind; `unknown` for a reference no record describes.
    pub kind: String,
    pub label: String,
    pub depth: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineageEdge {
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

pub fn lineage_report(
    view: &View,
    graph: &LineageGraph,
    closure: &Closure,
    depth_limit: Option<usize>,
) -> LineageReport {
    let nodes = closure
        .nodes
        .iter()
        .map(|&(n, depth)| describe(view, graph, n, depth))
        .collect();
    let edges = closure
        .edges
        .iter()
        .map(|&(a, b, e)| LineageEdge {
            from: graph.id(a).to_string(),
            to: graph.id(b).to_string(),
            role: e.role(),
        })
        .collect();
    let reached: HashSet<&str> = closure.nodes.iter().map(|&(n, _)| graph.id(n)).collect();
    let cycles = graph
        .cycles()
        .into_iter()
        .filter(|c| c.iter().any(|id| reached.contains(id.as_str())))
        .collect();
    LineageReport {
        schema: LINEAGE_SCHEMA,
        root: graph.id(closure.root).to_string(),
        direction: closure.walk.as_str(),
        depth_limit,
        truncated: closure.truncated,
        as_of: view.as_of,
        nodes,
        edges,
        cycles,
    }
}

fn describe(view: &View, graph: &LineageGraph, n: NodeIndex, depth: usize) -> LineageNode {
    let base = |id: &str, node_type, kind: String, label: String| LineageNode {
        id: id.to_string(),
        node_type,
        kind,
        label,
        depth,
        names: Vec::new(),
        distribution: None,
        licenses: Vec::new(),
        status: None,
        started_at: None,
        ended_at: None,
    };
    match &graph.graph[n] {
        Node::Artifact(id) => match view.artifacts.get(id) {
            Some(a) => {
                let mut node = base(id, "artifact", a.kind.to_string(), a.label());
                node.names = a.names.iter().cloned().collect();
                node.distribution = Some(a.current_distribution(view.as_of));
                node.licenses = license_labels(a);
                node
            }
            None => base(
                id,
                "artifact",
                "unknown".into(),
                format!("unrecorded {}", short_id(id)),
            ),
        },
        Node::Run(id) => {
            let r = &view.runs[id];
            let mut node = base(id, "run", r.kind.to_string(), r.label());
            node.status = Some(r.status);
            node.started_at = r.started_at;
            node.ended_at = r.ended_at;
            node
        }
    }
}

fn license_labels(a: &crate::view::Artifact) -> Vec<String> {
    let mut out: Vec<String> = a
        .license_claims
        .iter()
        .map(|c| match &c.license_version {
            Some(v) => format!("{}@{v}", c.license_id),
            None => c.license_id.clone(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn node_line(node: &LineageNode) -> String {
    let mut line = format!("{} {}", node.kind, node.label);
    if node.node_type == "artifact" {
        let _ = write!(line, "  {}", short_id(&node.id));
        if !node.licenses.is_empty() {
            let _ = write!(line, "  license: {}", node.licenses.join(", "));
        }
        if let Some(d) = node.distribution.filter(|d| *d != Distribution::Internal) {
            let _ = write!(line, "  [{d}]");
        }
    } else {
        if node.label != node.id {
            let _ = write!(line, "  {}", node.id);
        }
        if let Some(s) = node.status.filter(|s| *s != RunStatus::Succeeded) {
            let _ = write!(line, "  ({s})");
        }
        if let Some(t) = node.started_at {
            let _ = write!(line, "  {}", t.format("%Y-%m-%d"));
        }
    }
    line
}

/// An indented tree from the root; a node reached twice is printed once, then referred to.
pub fn to_text(report: &LineageReport) -> String {
    let by_id: HashMap<&str, &LineageNode> =
        report.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut children: BTreeMap<&str, Vec<(&str, Option<Role>)>> = BTreeMap::new();
    for e in &report.edges {
        let (parent, child) = if report.direction == Walk::Upstream.as_str() {
            (e.to.as_str(), e.from.as_str())
        } else {
            (e.from.as_str(), e.to.as_str())
        };
        children.entry(parent).or_default().push((child, e.role));
    }
    for list in children.values_mut() {
        list.sort_by_key(|(id, role)| (by_id.get(id).map(|n| n.label.clone()), *role));
    }
    let mut out = String::new();
    let mut printed = HashSet::new();
    let root = report.root.as_str();
    let _ = writeln!(
        out,
        "{}",
        by_id
            .get(root)
            .map(|n| node_line(n))
            .unwrap_or_else(|| root.to_string())
    );
    printed.insert(root);
    // Depth-first, children in label order; `prefix` carries the tree guides.
    fn visit<'a>(
        id: &'a str,
        prefix: &str,
        children: &BTreeMap<&'a str, Vec<(&'a str, Option<Role>)>>,
        by_id: &HashMap<&str, &LineageNode>,
        printed: &mut HashSet<&'a str>,
        out: &mut String,
    ) {
        let Some(kids) = children.get(id) else { return };
        for (i, (child, role)) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            let branch = if last { "└─ " } else { "├─ " };
            let role_text = role.map(|r| format!("[{r}] ")).unwrap_or_default();
            let text = by_id
                .get(child)
                .map(|n| node_line(n))
                .unwrap_or_else(|| child.to_string());
            if !printed.insert(child) {
                let _ = writeln!(out, "{prefix}{branch}{role_text}{text}  (see above)");
                continue;
            }
            let _ = writeln!(out, "{prefix}{branch}{role_text}{text}");
            let next = format!("{prefix}{}", if last { "   " } else { "│  " });
            visit(child, &next, children, by_id, printed, out);
        }
    }
    visit(root, "", &children, &by_id, &mut printed, &mut out);
    if report.truncated {
        let _ = writeln!(
            out,
            "… more {} beyond --depth {}",
            report.direction,
            report.depth_limit.unwrap_or(0)
        );
    }
    for cycle in &report.cycles {
        let _ = writeln!(
            out,
            "warning: cycle in recorded lineage: {}",
            cycle
                .iter()
                .map(|id| short_id(id))
                .collect::<Vec<_>>()
                .join(" ↔ ")
        );
    }
    out
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn to_dot(report: &LineageReport) -> String {
    let mut out = String::from(
        "digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
    );
    let index: HashMap<&str, usize> = report
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    for (i, n) in report.nodes.iter().enumerate() {
        let shape = if n.node_type == "run" {
            "box, style=rounded"
        } else {
            "ellipse"
        };
        let _ = writeln!(
            out,
            "  n{i} [shape={shape}, label=\"{}\\n{}\", tooltip=\"{}\"];",
            escape_dot(&n.kind),
            escape_dot(&n.label),
            escape_dot(&n.id)
        );
    }
    for e in &report.edges {
        let (a, b) = (index[e.from.as_str()], index[e.to.as_str()]);
        match e.role {
            Some(r) => {
                let _ = writeln!(out, "  n{a} -> n{b} [label=\"{r}\"];");
            }
            None => {
                let _ = writeln!(out, "  n{a} -> n{b};");
            }
        }
    }
    out.push_str("}\n");
    out
}

fn escape_mermaid(s: &str) -> String {
    s.replace('"', "#quot;")
}

pub fn to_mermaid(report: &LineageReport) -> String {
    let mut out = String::from("flowchart LR\n");
    let index: HashMap<&str, usize> = report
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    for (i, n) in report.nodes.iter().enumerate() {
        let label = escape_mermaid(&format!("{}: {}", n.kind, n.label));
        if n.node_type == "run" {
            let _ = writeln!(out, "  n{i}([\"{label}\"])");
        } else {
            let _ = writeln!(out, "  n{i}[\"{label}\"]");
        }
    }
    for e in &report.edges {
        let (a, b) = (index[e.from.as_str()], index[e.to.as_str()]);
        match e.role {
            Some(r) => {
                let _ = writeln!(out, "  n{a} -->|{r}| n{b}");
            }
            None => {
                let _ = writeln!(out, "  n{a} --> n{b}");
            }
        }
    }
    out
}

/// "A --\[role\]--> run --> B" for an explanation path.
pub fn path_text(view: &View, graph: &LineageGraph, hops: &[super::Hop]) -> String {
    let label = |n: NodeIndex| match &graph.graph[n] {
        Node::Artifact(id) => view
            .artifacts
            .get(id)
            .map(|a| format!("{} {} ({})", a.kind, a.label(), short_id(id)))
            .unwrap_or_else(|| format!("unrecorded {}", short_id(id))),
        Node::Run(id) => view
            .runs
            .get(id)
            .map(|r| format!("{} run {} ({id})", r.kind, r.label()))
            .unwrap_or_default(),
    };
    let mut out = String::new();
    if let Some(first) = hops.first() {
        let _ = writeln!(out, "{}", label(first.from));
    }
    for hop in hops {
        let arrow = match hop.edge {
            Edge::Input(role) => format!("  └─[{role}]→ "),
            Edge::Output => "  └─[output]→ ".to_string(),
        };
        let _ = writeln!(out, "{arrow}{}", label(hop.to));
    }
    out
}
