//! Exposure propagation: what reaches every run, by which path. One pass in topological order
//! over a lineage ([`Flow`]): the full audit's graph over a view, or the store audit's lineage
//! index (`plan.rs`). Merging keeps one exposure per (model, channel, assignment span): the
//! shortest path, and of equally short ones the one with the smallest ids, so the evidence
//! does not depend on the order paths arrive in.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;

use super::{assignment_boundaries, is_licensed_model, run_time, Ctx};
use crate::catalog::ClaimSubject;
use crate::records::Role;

/// One restriction source reaching a node.
#[derive(Debug, Clone)]
pub(super) struct Exposure {
    pub(super) model: NodeIndex,
    pub(super) via: ClaimSubject,
    /// How the model first entered the lineage (outputs used, or weights derived from).
    pub(super) origin: ClaimSubject,
    pub(super) at: Option<DateTime<Utc>>,
    /// Which span of the model's license assignments `at` falls in (see
    /// [`Catalog::assignment_boundaries`](crate::catalog::Catalog::assignment_boundaries)):
    /// exposures of one model that differ only in a moment
    /// within one span meet the same terms, so they count as one (else a model used by
    /// thousands of runs would reach each descendant once per run).
    pub(super) epoch: Option<usize>,
    /// Graph nodes from the model to the current node, with the role used to leave each:
    /// the last step of a shared chain, so extending an exposure costs one link, not a copy.
    pub(super) path: Rc<Link>,
    /// Rows from the model in the nearest dataset on the path with a recorded composition.
    pub(super) share: Option<Share>,
    /// A dataset on the path whose recorded composition has no rows from the model: the
    /// restriction stops there (reported as L109, not judged).
    pub(super) cleared_by: Option<NodeIndex>,
}

/// How many rows of a dataset came from an exposure's model.
#[derive(Debug, Clone, Copy)]
pub(super) struct Share {
    pub(super) dataset: NodeIndex,
    pub(super) rows: u64,
    pub(super) total: u64,
    /// Rows whose source value is not mapped: they may or may not come from the model.
    pub(super) unmapped: u64,
}

/// One step of an exposure's path; `prev` leads back towards the model.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) node: NodeIndex,
    /// Role of the edge leaving this step (set when the path is extended past it).
    pub(super) role: Option<Role>,
    pub(super) prev: Option<Rc<Link>>,
    /// Steps from the model up to and including this one.
    pub(super) len: usize,
}

impl Link {
    pub(super) fn start(model: NodeIndex, role: Role) -> Rc<Link> {
        Rc::new(Link {
            node: model,
            role: Some(role),
            prev: None,
            len: 1,
        })
    }
}

impl Exposure {
    /// The path from the model to the current node, in data-flow order.
    pub(super) fn path(&self) -> Vec<(NodeIndex, Option<Role>)> {
        let mut steps = Vec::with_capacity(self.path.len);
        let mut link = Some(&self.path);
        while let Some(l) = link {
            steps.push((l.node, l.role));
            link = l.prev.as_ref();
        }
        steps.reverse();
        steps
    }

    pub(super) fn key(&self) -> (NodeIndex, ClaimSubject, Option<usize>) {
        (self.model, self.via, self.epoch)
    }

    pub(super) fn extended(&self, step: NodeIndex, role_into_step: Option<Role>) -> Exposure {
        let mut e = self.clone();
        let last = match (self.path.role, role_into_step) {
            (None, Some(role)) => Rc::new(Link {
                node: self.path.node,
                role: Some(role),
                prev: self.path.prev.clone(),
                len: self.path.len,
            }),
            _ => Rc::clone(&self.path),
        };
        e.path = Rc::new(Link {
            node: step,
            role: None,
            len: last.len + 1,
            prev: Some(last),
        });
        e
    }
}

/// What exposure propagation reads of a lineage. The full audit reads a
/// [`View`](crate::view::View) through its petgraph ([`Ctx`]); the store audit reads the
/// lineage index and only the few records propagation needs ([`plan`](super::plan)): one
/// propagation, two sources of the same facts.
pub(super) trait Flow {
    /// Nodes in topological order, grouped into strongly connected components (a component of
    /// several nodes, or of one node with an edge to itself, is a cycle).
    fn components(&self) -> Vec<(Vec<NodeIndex>, bool)>;
    fn node_count(&self) -> usize;
    fn is_run(&self, n: NodeIndex) -> bool;
    /// A run's inputs with the role each was used in.
    fn inputs(&self, run: NodeIndex) -> Vec<(NodeIndex, Role)>;
    fn outputs(&self, run: NodeIndex) -> Vec<NodeIndex>;
    /// When a run used its inputs (see [`run_time`]).
    fn run_time(&self, run: NodeIndex) -> Option<DateTime<Utc>>;
    fn is_licensed_model(&self, n: NodeIndex) -> bool;
    /// The dates at which the license assignments of `model` change.
    fn assignment_boundaries(&self, model: NodeIndex) -> Vec<DateTime<Utc>>;
    fn composition(&self, n: NodeIndex) -> Option<&crate::records::Composition>;
    /// How many run inputs read what reached `n`.
    fn consumers(&self, n: NodeIndex) -> usize;
    /// The records read: all of them for the full audit, the row compositions for the index.
    fn records(&self) -> &crate::view::View;
    /// Artifacts whose rows some recorded composition counts (what reached them is read when
    /// the composition is met).
    fn composition_sources(&self) -> Vec<NodeIndex> {
        self.records()
            .artifacts
            .values()
            .filter_map(|a| a.composition.as_ref())
            .flat_map(|c| &c.groups)
            .filter_map(|g| self.node(g.source.as_deref()?))
            .collect()
    }
    fn node(&self, id: &str) -> Option<NodeIndex>;
    fn id(&self, n: NodeIndex) -> &str;
    fn restrictions_travel(&self) -> bool;
}

impl Flow for Ctx<'_> {
    fn components(&self) -> Vec<(Vec<NodeIndex>, bool)> {
        let g = &self.graph.graph;
        // tarjan_scc yields components in reverse topological order.
        let mut sccs = petgraph::algo::tarjan_scc(g);
        sccs.reverse();
        sccs.into_iter()
            .map(|scc| {
                let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
                (scc, cyclic)
            })
            .collect()
    }

    fn node_count(&self) -> usize {
        self.graph.graph.node_count()
    }

    fn is_run(&self, n: NodeIndex) -> bool {
        self.run(n).is_some()
    }

    fn inputs(&self, run: NodeIndex) -> Vec<(NodeIndex, Role)> {
        self.run(run)
            .into_iter()
            .flat_map(|r| &r.inputs)
            .filter_map(|i| Some((self.graph.node(&i.artifact_id)?, i.role)))
            .collect()
    }

    fn outputs(&self, run: NodeIndex) -> Vec<NodeIndex> {
        self.graph
            .graph
            .neighbors_directed(run, petgraph::Direction::Outgoing)
            .collect()
    }

    fn run_time(&self, run: NodeIndex) -> Option<DateTime<Utc>> {
        self.run(run).and_then(run_time)
    }

    fn is_licensed_model(&self, n: NodeIndex) -> bool {
        self.artifact(n).is_some_and(is_licensed_model)
    }

    fn assignment_boundaries(&self, model: NodeIndex) -> Vec<DateTime<Utc>> {
        assignment_boundaries(self.catalog, self.artifact(model))
    }

    fn composition(&self, n: NodeIndex) -> Option<&crate::records::Composition> {
        self.artifact(n).and_then(|a| a.composition.as_ref())
    }

    fn consumers(&self, n: NodeIndex) -> usize {
        self.graph
            .graph
            .neighbors_directed(n, petgraph::Direction::Outgoing)
            .count()
    }

    fn records(&self) -> &crate::view::View {
        self.view
    }

    fn node(&self, id: &str) -> Option<NodeIndex> {
        self.graph.node(id)
    }

    fn id(&self, n: NodeIndex) -> &str {
        self.graph.id(n)
    }

    fn restrictions_travel(&self) -> bool {
        self.policy.organisation.restrictions_travel
    }
}

/// Each model's assignment boundaries, looked up once per propagation.
struct Epochs(RefCell<HashMap<NodeIndex, Vec<DateTime<Utc>>>>);

impl Epochs {
    /// The span of `model`'s license assignments that `at` falls in.
    fn of<F: Flow>(&self, flow: &F, model: NodeIndex, at: Option<DateTime<Utc>>) -> Option<usize> {
        let at = at?;
        let mut memo = self.0.borrow_mut();
        let bounds = memo
            .entry(model)
            .or_insert_with(|| flow.assignment_boundaries(model));
        Some(bounds.partition_point(|b| *b <= at))
    }
}

/// One pass in topological order; returns what reached each run `keep` selects.
pub(super) fn propagate<F: Flow>(
    flow: &F,
    keep: impl Fn(NodeIndex) -> bool,
) -> Vec<(NodeIndex, Vec<Exposure>)> {
    // Per graph node (vectors, not maps: one slot per node, looked up per edge).
    let mut at_node: Vec<Vec<Exposure>> = vec![Vec::new(); flow.node_count()];
    let mut per_run: Vec<(NodeIndex, Vec<Exposure>)> = Vec::new();
    let mut slot_of: Vec<Option<usize>> = vec![None; flow.node_count()];
    let epochs = Epochs(RefCell::new(HashMap::new()));
    // What reached a node is dropped once every run that reads it has (a large lineage would
    // otherwise hold every node's exposures to the end).
    let mut waiting: Vec<usize> = (0..flow.node_count())
        .map(|i| flow.consumers(NodeIndex::new(i)))
        .collect();
    for source in flow.composition_sources() {
        if let Some(w) = waiting.get_mut(source.index()) {
            *w = usize::MAX;
        }
    }

    for (scc, cyclic) in flow.components() {
        // In a cycle every member ends up with the union of what enters it; iterating the
        // members len+1 times reaches that fixpoint without special cases.
        let rounds = if cyclic { scc.len() + 1 } else { 1 };
        for _ in 0..rounds {
            for &n in &scc {
                if !flow.is_run(n) {
                    continue;
                }
                let inputs = flow.inputs(n);
                let incoming = run_inputs_exposures(flow, &epochs, n, &inputs, &at_node);
                if !cyclic {
                    for (a, _) in &inputs {
                        if let Some(w) = waiting.get_mut(a.index()).filter(|w| **w != usize::MAX) {
                            *w = w.saturating_sub(1);
                            if *w == 0 {
                                at_node[a.index()] = Vec::new();
                            }
                        }
                    }
                }
                for output in flow.outputs(n) {
                    let arriving: Vec<Exposure> = incoming
                        .iter()
                        .map(|e| {
                            through_composition(flow, output, e.extended(output, None), &at_node)
                        })
                        .collect();
                    for e in arriving {
                        merge(flow, &mut at_node[output.index()], e);
                    }
                }
                if !keep(n) {
                    continue;
                }
                if let Some(slot) = slot_of[n.index()].map(|i| &mut per_run[i]) {
                    for e in incoming {
                        merge(flow, &mut slot.1, e);
                    }
                } else {
                    slot_of[n.index()] = Some(per_run.len());
                    per_run.push((n, incoming));
                }
            }
        }
    }
    per_run
}

/// Adds an exposure unless an equal one is there; a path that is not cleared replaces one that
/// is, so a model that reaches a run both through filtered and unfiltered data is judged.
fn merge<F: Flow>(flow: &F, into: &mut Vec<Exposure>, e: Exposure) {
    match into.iter_mut().find(|x| x.key() == e.key()) {
        None => into.push(e),
        Some(x) if x.cleared_by.is_some() && e.cleared_by.is_none() => *x = e,
        // Of two equal exposures the shorter path is the better evidence; of two equally
        // short ones, the one whose steps read back from here have the smaller ids (and
        // roles), so the evidence does not depend on the order paths arrive in.
        Some(x)
            if x.cleared_by.is_some() == e.cleared_by.is_some()
                && (e.path.len < x.path.len
                    || (e.path.len == x.path.len && precedes(flow, &e.path, &x.path))) =>
        {
            *x = e
        }
        Some(_) => {}
    }
}

/// Whether path `a` comes before the equally long path `b`: compared step by step from
/// their ends, by node id, then by the role leaving the step.
fn precedes<F: Flow>(flow: &F, a: &Link, b: &Link) -> bool {
    let (mut a, mut b) = (Some(a), Some(b));
    while let (Some(x), Some(y)) = (a, b) {
        if !std::ptr::eq(x, y) {
            let order = flow
                .id(x.node)
                .cmp(flow.id(y.node))
                .then_with(|| x.role.map(role_rank).cmp(&y.role.map(role_rank)));
            if order != std::cmp::Ordering::Equal {
                return order == std::cmp::Ordering::Less;
            }
        } else {
            return false;
        }
        (a, b) = (x.prev.as_deref(), y.prev.as_deref());
    }
    false
}

fn role_rank(role: Role) -> usize {
    Role::ALL
        .iter()
        .position(|r| *r == role)
        .unwrap_or(usize::MAX)
}

/// An exposure arriving at `node`: if the node is a dataset with a recorded composition, count
/// the rows that came from the exposure's model (groups mapped to the model itself, or to an
/// artifact the model's restriction reached); with every row's source mapped and none from
/// the model, the restriction is cleared here.
fn through_composition<F: Flow>(
    flow: &F,
    node: NodeIndex,
    mut e: Exposure,
    at_node: &[Vec<Exposure>],
) -> Exposure {
    if e.cleared_by.is_some() {
        return e;
    }
    let Some(composition) = flow.composition(node) else {
        return e;
    };
    let mut rows = 0;
    let mut unmapped = 0;
    for group in &composition.groups {
        if !group.mapped {
            unmapped += group.rows;
            continue;
        }
        let Some(source) = group.source.as_deref().and_then(|s| flow.node(s)) else {
            continue;
        };
        let carries = source == e.model
            || at_node.get(source.index()).is_some_and(|es| {
                es.iter()
                    .any(|x| x.model == e.model && x.cleared_by.is_none())
            });
        if carries {
            rows += group.rows;
        }
    }
    if rows == 0 && unmapped == 0 {
        e.cleared_by = Some(node);
    } else {
        e.share = Some(Share {
            dataset: node,
            rows,
            total: composition.rows,
            unmapped,
        });
    }
    e
}

fn run_inputs_exposures<F: Flow>(
    flow: &F,
    epochs: &Epochs,
    run_node: NodeIndex,
    inputs: &[(NodeIndex, Role)],
    at_node: &[Vec<Exposure>],
) -> Vec<Exposure> {
    let mut incoming: Vec<Exposure> = Vec::new();
    // Read only when an exposure starts (or is re-stamped) here.
    let when = std::cell::OnceCell::new();
    let when = || *when.get_or_init(|| flow.run_time(run_node));
    for &(a_node, role) in inputs {
        let inherited = at_node
            .get(a_node.index())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let through = |e: &Exposure| e.extended(run_node, Some(role));
        let fresh = |via: ClaimSubject, at: Option<DateTime<Utc>>| Exposure {
            model: a_node,
            via,
            origin: via,
            at,
            epoch: epochs.of(flow, a_node, at),
            path: Link::start(a_node, role),
            share: None,
            cleared_by: None,
        };
        match role {
            Role::Generator | Role::Teacher | Role::Judge | Role::RewardModel => {
                if flow.is_licensed_model(a_node) {
                    let e = fresh(ClaimSubject::Outputs, when());
                    merge(flow, &mut incoming, e.extended(run_node, None));
                }
                if flow.restrictions_travel() {
                    // What a derivative generates are outputs of everything it derives from.
                    for e in inherited {
                        let mut e = through(e);
                        e.via = ClaimSubject::Outputs;
                        e.at = when();
                        e.epoch = epochs.of(flow, e.model, e.at);
                        merge(flow, &mut incoming, e);
                    }
                }
            }
            Role::BaseWeights => {
                if flow.is_licensed_model(a_node) {
                    let e = fresh(ClaimSubject::Weights, when());
                    merge(flow, &mut incoming, e.extended(run_node, None));
                }
                // A derivative carries everything its base carried.
                for e in inherited {
                    merge(flow, &mut incoming, through(e));
                }
            }
            Role::TrainingData | Role::Source => {
                for e in inherited {
                    merge(flow, &mut incoming, through(e));
                }
            }
            Role::EvalData => {}
        }
    }
    incoming
}
