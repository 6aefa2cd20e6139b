//! The lineage graph: artifacts and runs as nodes, data flow as edges (an input edge runs
//! from an artifact into the run that used it, carrying the role; an output edge from a run
//! to what it wrote). Walks keep visited sets, so cycles in recorded data never loop them;
//! cycles are found with Tarjan's algorithm and reported.

pub mod index;
pub mod render;

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::records::Role;
use crate::view::View;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Artifact(String),
    Run(String),
}

impl Node {
    pub fn id(&self) -> &str {
        match self {
            Node::Artifact(id) | Node::Run(id) => id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Artifact → run that used it.
    Input(Role),
    /// Run → artifact it wrote.
    Output,
}

impl Edge {
    pub fn role(self) -> Option<Role> {
        match self {
            Edge::Input(r) => Some(r),
            Edge::Output => None,
        }
    }
}

/// Which way a walk goes: against data flow (where did this come from) or with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Upstream,
    Downstream,
}

impl Walk {
    fn direction(self) -> Direction {
        match self {
            Walk::Upstream => Direction::Incoming,
            Walk::Downstream => Direction::Outgoing,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Walk::Upstream => "upstream",
            Walk::Downstream => "downstream",
        }
    }
}

pub struct LineageGraph {
    pub graph: DiGraph<Node, Edge>,
    index: HashMap<String, NodeIndex, ahash::RandomState>,
}

/// The nodes reached by a walk, in breadth-first order, with their depth (runs crossed).
#[derive(Debug, Clone)]
pub struct Closure {
    pub root: NodeIndex,
    pub walk: Walk,
    pub nodes: Vec<(NodeIndex, usize)>,
    /// Edges between reached nodes, in data-flow direction.
    pub edges: Vec<(NodeIndex, NodeIndex, Edge)>,
    /// True when `--depth` stopped the walk before it ran out of nodes.
    pub truncated: bool,
}

/// One hop of an explanation path, in data-flow direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub from: NodeIndex,
    pub to: NodeIndex,
    pub edge: Edge,
}

impl LineageGraph {
    pub fn build(view: &View) -> LineageGraph {
        let mut g = LineageGraph {
            graph: DiGraph::with_capacity(
                view.artifacts.len() + view.runs.len(),
                view.runs.len() * 4,
            ),
            index: HashMap::with_capacity_and_hasher(
                view.artifacts.len() + view.runs.len(),
                ahash::RandomState::new(),
            ),
        };
        for id in view.artifacts.keys() {
            g.add(Node::Artifact(id.clone()));
        }
        for run in view.runs.values() {
            let r = g.add(Node::Run(run.id.clone()));
            for input in &run.inputs {
                // A dangling reference still gets a node, so walks show it rather than hide it.
                let a = g.add_artifact(&input.artifact_id);
                g.graph.add_edge(a, r, Edge::Input(input.role));
            }
            for output in &run.outputs {
                let a = g.add_artifact(output);
                g.graph.add_edge(r, a, Edge::Output);
            }
        }
        g
    }

    /// The node of an artifact id, added if new (no copy of the id when it exists).
    fn add_artifact(&mut self, id: &str) -> NodeIndex {
        match self.index.get(id) {
            Some(&i) => i,
            None => self.add(Node::Artifact(id.to_string())),
        }
    }

    fn add(&mut self, node: Node) -> NodeIndex {
        if let Some(&i) = self.index.get(node.id()) {
            return i;
        }
        let id = node.id().to_string();
        let i = self.graph.add_node(node);
        self.index.insert(id, i);
        i
    }

    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    pub fn id(&self, n: NodeIndex) -> &str {
        self.graph[n].id()
    }

    /// Everything upstream or downstream of `root`, at most `depth` runs away.
    pub fn closure(&self, root: NodeIndex, walk: Walk, depth: Option<usize>) -> Closure {
        let dir = walk.direction();
        let mut seen: HashMap<NodeIndex, usize> = HashMap::new();
        let mut order = Vec::new();
        let mut queue = VecDeque::new();
        let mut truncated = false;
        seen.insert(root, 0);
        queue.push_back(root);
        while let Some(n) = queue.pop_front() {
            let d = seen[&n];
            order.push((n, d));
            for e in self.graph.edges_directed(n, dir) {
                let next = if dir == Direction::Incoming {
                    e.source()
                } else {
                    e.target()
                };
                if seen.contains_key(&next) {
                    continue;
                }
                let next_depth = if matches!(self.graph[next], Node::Run(_)) {
                    d + 1
                } else {
                    d
                };
                if depth.is_some_and(|limit| next_depth > limit) {
                    truncated = true;
                    continue;
                }
                seen.insert(next, next_depth);
                queue.push_back(next);
            }
        }
        // Edges among the reached nodes, from their own adjacency (not a scan of every edge in
        // the store), in the graph's edge order as before.
        let mut reached: Vec<_> = order
            .iter()
            .flat_map(|&(n, _)| self.graph.edges_directed(n, Direction::Outgoing))
            .filter(|e| seen.contains_key(&e.target()))
            .map(|e| (e.id(), e.source(), e.target(), *e.weight()))
            .collect();
        reached.sort_unstable_by_key(|e| e.0);
        let edges = reached.into_iter().map(|(_, s, t, w)| (s, t, w)).collect();
        Closure {
            root,
            walk,
            nodes: order,
            edges,
            truncated,
        }
    }

    /// The shortest data-flow path from `from` to `to`, if `from` reaches `to`.
    pub fn path(&self, from: NodeIndex, to: NodeIndex) -> Option<Vec<Hop>> {
        let mut parent: HashMap<NodeIndex, (NodeIndex, Edge)> = HashMap::new();
        let mut seen = HashSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            if n == to {
                let mut hops = Vec::new();
                let mut cur = to;
                while cur != from {
                    let (prev, edge) = parent[&cur];
                    hops.push(Hop {
                        from: prev,
                        to: cur,
                        edge,
                    });
                    cur = prev;
                }
                hops.reverse();
                return Some(hops);
            }
            for e in self.graph.edges_directed(n, Direction::Outgoing) {
                if seen.insert(e.target()) {
                    parent.insert(e.target(), (n, *e.weight()));
                    queue.push_back(e.target());
                }
            }
        }
        None
    }

    /// Every cycle (strongly connected component of more than one node, or a self-loop), as ids.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.graph.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut ids: Vec<String> = scc.iter().map(|&n| self.id(n).to_string()).collect();
                ids.sort();
                ids
            })
            .collect();
        out.sort();
        out
    }
}

/// A view of the records of every node `walk` reaches from `id` in the whole store (found on
/// the lineage index, read selectively): a walk from `id` in that direction, at any depth,
/// meets the same nodes, edges and cycles in it as in the view of every record, so a lineage
/// report of it is the same. `None` when the index does not know `id`.
pub fn closure_view(
    store: &crate::store::Store,
    id: &str,
    walk: Walk,
) -> crate::Result<Option<View>> {
    Ok(closure_snapshot(store, id, walk, &[])?.map(|s| View::build(&s, None)))
}

/// A view of the records of `id` and of the nodes one edge away (a run's inputs and outputs,
/// an artifact's producers and consumers): all that describing `id` names. `None` when the
/// index does not know `id`.
pub fn neighbourhood_view(store: &crate::store::Store, id: &str) -> crate::Result<Option<View>> {
    view_of(store, id, |index, root| {
        std::iter::once(root)
            .chain(index.edges(root).map(|(n, _)| n))
            .collect()
    })
}

/// The records (waivers aside) of every node upstream or downstream of `id`, as
/// [`closure_view`] reads them, and of the nodes `also` names.
pub fn closure_snapshot(
    store: &crate::store::Store,
    id: &str,
    walk: Walk,
    also: &[&str],
) -> crate::Result<Option<crate::store::Snapshot>> {
    records_of(store, id, |index, root| {
        let mut nodes = match walk {
            Walk::Upstream => index.upstream(root),
            Walk::Downstream => index.downstream(root),
        };
        nodes.extend(also.iter().filter_map(|a| index.node(a)));
        nodes
    })
}

/// A view of the records of the nodes `nodes` finds from `id` on the lineage index.
fn view_of(
    store: &crate::store::Store,
    id: &str,
    nodes: impl Fn(&index::LineageIndex, index::NodeId) -> Vec<index::NodeId>,
) -> crate::Result<Option<View>> {
    Ok(records_of(store, id, nodes)?.map(|s| View::build(&s, None)))
}

/// The records of the nodes `nodes` finds from `id` on the lineage index.
fn records_of(
    store: &crate::store::Store,
    id: &str,
    nodes: impl Fn(&index::LineageIndex, index::NodeId) -> Vec<index::NodeId>,
) -> crate::Result<Option<crate::store::Snapshot>> {
    let index = index::LineageIndex::load(store, None)?;
    let Some(root) = index.node(id) else {
        return Ok(None);
    };
    let nodes = nodes(&index, root);
    let ids: HashSet<&str> = nodes.iter().map(|&n| index.id(n)).collect();
    let keep = |id: &str| ids.contains(id);
    store
        .load_selected(&crate::store::Selected {
            artifacts: &keep,
            about_artifacts: &keep,
            runs: &keep,
        })
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crate::store::Snapshot;

    #[test]
    fn lineage_reports_of_a_closure_view_equal_those_of_the_whole_store() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        // A run that closes a cycle (output back to input of a recorded run), so cycles are
        // compared too.
        let before = View::build(&built.store.load().unwrap(), None);
        let closing = before
            .runs
            .values()
            .find(|r| !r.inputs.is_empty() && !r.outputs.is_empty())
            .unwrap();
        let mut cycle = crate::records::Batch::default();
        cycle.runs.push(RunRecord {
            record_id: String::new(),
            run_id: id::derived_run(b"closes a cycle"),
            kind: RunKind::Transform,
            name: None,
            status: RunStatus::Succeeded,
            started_at: None,
            ended_at: None,
            inputs: vec![RunInput {
                artifact_id: closing.outputs[0].clone(),
                role: Role::Source,
            }],
            outputs: vec![closing.inputs[0].artifact_id.clone()],
            recorded_at: now(),
            recorded_by: "test".into(),
        });
        built.store.append(cycle).unwrap();
        let view = View::build(&built.store.load().unwrap(), None);
        assert!(!LineageGraph::build(&view).cycles().is_empty());
        let whole = LineageGraph::build(&view);
        let mut compared = 0;
        for id in view.artifacts.keys().chain(view.runs.keys()) {
            for walk in [Walk::Upstream, Walk::Downstream] {
                let part = closure_view(&built.store, id, walk).unwrap().unwrap();
                let graph = LineageGraph::build(&part);
                for depth in [None, Some(1), Some(3)] {
                    let report = |v: &View, g: &LineageGraph| {
                        let closure = g.closure(g.node(id).unwrap(), walk, depth);
                        serde_json::to_value(render::lineage_report(v, g, &closure, depth)).unwrap()
                    };
                    assert_eq!(
                        report(&view, &whole),
                        report(&part, &graph),
                        "{id} {walk:?} {depth:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 50);
    }

    fn art(n: u8) -> ArtifactRecord {
        crate::records::testing::dataset(n)
    }

    fn run(n: u8, inputs: &[(u8, Role)], outputs: &[u8]) -> RunRecord {
        RunRecord {
            record_id: format!("r{n}"),
            run_id: format!("run:00000000-0000-7000-8000-0000000000{n:02}"),
            kind: RunKind::Transform,
            name: None,
            status: RunStatus::Succeeded,
            started_at: None,
            ended_at: None,
            inputs: inputs
                .iter()
                .map(|(a, role)| RunInput {
                    artifact_id: art(*a).artifact_id,
                    role: *role,
                })
                .collect(),
            outputs: outputs.iter().map(|a| art(*a).artifact_id).collect(),
            recorded_at: now(),
            recorded_by: "u@h".into(),
        }
    }

    fn graph(runs: Vec<RunRecord>) -> LineageGraph {
        let snap = Snapshot {
            artifacts: (0..6).map(art).collect(),
            runs,
            ..Default::default()
        };
        LineageGraph::build(&View::build(&snap, None))
    }

    #[test]
    fn closures_depths_and_paths() {
        // 0 -> r1 -> 1 -> r2 -> 2 ; 3 -> r2
        let g = graph(vec![
            run(1, &[(0, Role::Source)], &[1]),
            run(2, &[(1, Role::TrainingData), (3, Role::BaseWeights)], &[2]),
        ]);
        let a2 = g.node(&art(2).artifact_id).unwrap();
        let up = g.closure(a2, Walk::Upstream, None);
        assert_eq!(up.nodes.len(), 6);
        assert!(!up.truncated);
        let shallow = g.closure(a2, Walk::Upstream, Some(1));
        assert_eq!(shallow.nodes.len(), 4); // 2, r2, 1, 3
        assert!(shallow.truncated);
        let a0 = g.node(&art(0).artifact_id).unwrap();
        let path = g.path(a0, a2).unwrap();
        assert_eq!(path.len(), 4);
        assert_eq!(path[2].edge, Edge::Input(Role::TrainingData));
        assert!(g.path(a2, a0).is_none());
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn cycles_are_reported_and_walks_terminate() {
        let g = graph(vec![
            run(1, &[(0, Role::Source)], &[1]),
            run(2, &[(1, Role::Source)], &[0]),
        ]);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), 4);
        let a0 = g.node(&art(0).artifact_id).unwrap();
        assert_eq!(g.closure(a0, Walk::Upstream, None).nodes.len(), 4);
    }
}
