//! A compact lineage index for whole-store questions: every artifact and run as a `u32`, edges in
//! compressed sparse rows (CSR) both ways, built straight from the segments' id and edge columns.
//!
//! [`LineageGraph`](super::LineageGraph) (petgraph over the merged [`View`](crate::view::View))
//! is the right tool for one lineage with labels; this index answers "what is upstream of X" and
//! "which runs have a restricted ancestor" over millions of records without building a record
//! per row: ids are interned into one byte arena, the columns are read in place, and only the
//! columns that carry identity and edges are decoded at all.

use std::collections::{HashMap, HashSet};

use arrow_array::{
    Array, ListArray, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
};
use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, ClaimSubject, TermClass};
use crate::error::Result;
use crate::records::{ArtifactKind, Channel, Role, RunKind};
use crate::store::backend::ObjectInfo;
use crate::store::Store;

pub(crate) mod cache;
mod ids;

use ids::{Ids, Warmer};

/// Node index in a [`LineageIndex`].
pub type NodeId = u32;

/// Role byte of an output edge (run → artifact it wrote); input edges carry the role's index.
pub const OUTPUT_EDGE: u8 = u8::MAX;
/// Kind byte of a run node; artifacts carry their kind's index, or [`UNRECORDED`].
pub const RUN_NODE: u8 = u8::MAX;
/// Kind byte of an artifact named by a run that no artifact record describes.
pub const UNRECORDED: u8 = u8::MAX - 1;

/// What an edge brings to the node it enters, by the audit's rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carries {
    /// The input model's own terms (a model used for its outputs or as base weights).
    pub model_terms: bool,
    /// Whatever already reached the node the edge leaves.
    pub upstream: bool,
}

/// [`Carries`] for every edge code (a role's index or [`OUTPUT_EDGE`]): evaluation data carries
/// nothing; a model used as generator, teacher, judge, reward model or base weights brings its
/// own terms; what reached an input travels on, except through a model used for its outputs
/// unless the policy's `restrictions_travel` is on; a run's outputs carry all it received.
pub fn edge_carries(restrictions_travel: bool) -> [Carries; 256] {
    let mut table = [Carries::default(); 256];
    for role in Role::ALL {
        table[role_code(*role) as usize] = match role {
            Role::EvalData => Carries::default(),
            Role::BaseWeights => Carries {
                model_terms: true,
                upstream: true,
            },
            Role::Generator | Role::Teacher | Role::Judge | Role::RewardModel => Carries {
                model_terms: true,
                upstream: restrictions_travel,
            },
            Role::TrainingData | Role::Source => Carries {
                model_terms: false,
                upstream: true,
            },
        };
    }
    table[OUTPUT_EDGE as usize] = Carries {
        model_terms: false,
        upstream: true,
    };
    table
}

/// The edge code of a role (its index in [`Role::ALL`]).
pub fn role_code(role: Role) -> u8 {
    Role::ALL
        .iter()
        .position(|r| *r == role)
        .expect("role in ALL") as u8
}

fn kind_code(kind: ArtifactKind) -> u8 {
    ArtifactKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("kind in ALL") as u8
}

/// What the index knows of an external model, to look its licenses up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelKey {
    pub vendor: String,
    pub model: String,
    pub revision: Option<String>,
    pub channel: Channel,
}

/// Edges in compressed sparse rows: node `n`'s neighbours are `to[off[n]..off[n + 1]]`.
#[derive(Default)]
struct Csr {
    off: Vec<u32>,
    to: Vec<NodeId>,
    role: Vec<u8>,
}

impl Csr {
    /// Rows from (row, target, role) entries, in the order `entries` yields them within a
    /// row (called twice: once to count each row, once to fill it).
    fn scatter<I: Iterator<Item = (NodeId, NodeId, u8)>>(
        nodes: usize,
        len: usize,
        entries: impl Fn() -> I,
    ) -> Csr {
        let mut off = vec![0u32; nodes + 1];
        for (from, _, _) in entries() {
            off[from as usize + 1] += 1;
        }
        for i in 0..nodes {
            off[i + 1] += off[i];
        }
        let mut fill = off.clone();
        let mut to = vec![0; len];
        let mut role = vec![0; len];
        for (from, target, r) in entries() {
            let at = fill[from as usize] as usize;
            to[at] = target;
            role[at] = r;
            fill[from as usize] += 1;
        }
        Csr { off, to, role }
    }

    /// From (from, to, role) triples, duplicates removed.
    fn build(nodes: usize, edges: &[(NodeId, NodeId, u8)]) -> Csr {
        let Csr {
            mut off,
            mut to,
            mut role,
        } = Csr::scatter(nodes, edges.len(), || edges.iter().copied());
        // Sort and de-duplicate each (short) row in place, compacting as we go.
        let mut w = 0usize;
        let mut row: Vec<(NodeId, u8)> = Vec::new();
        for n in 0..nodes {
            let (s, e) = (off[n] as usize, off[n + 1] as usize);
            off[n] = w as u32;
            row.clear();
            row.extend((s..e).map(|i| (to[i], role[i])));
            row.sort_unstable();
            row.dedup();
            for &(t, r) in &row {
                to[w] = t;
                role[w] = r;
                w += 1;
            }
        }
        off[nodes] = w as u32;
        to.truncate(w);
        role.truncate(w);
        Csr { off, to, role }
    }

    /// These rows (of a smaller index: nodes past them have none) with a few triples added:
    /// rows without new edges are copied in runs, the others merged, sorted and de-duplicated,
    /// as [`Csr::build`] of all the edges would make them.
    fn with_added(&self, nodes: usize, added: &[(NodeId, NodeId, u8)]) -> Csr {
        let extra = Csr::build(nodes, added);
        let rows = self.off.len().saturating_sub(1);
        // Old offset of row `n`'s start (rows past the old ones start at the end).
        let old_off = |n: usize| self.off[n.min(rows)] as usize;
        let mut out = Csr {
            off: Vec::with_capacity(nodes + 1),
            to: Vec::with_capacity(self.to.len() + extra.to.len()),
            role: Vec::with_capacity(self.to.len() + extra.to.len()),
        };
        let mut copied = 0usize;
        let mut row: Vec<(NodeId, u8)> = Vec::new();
        let changed = (0..nodes).filter(|&n| extra.off[n] != extra.off[n + 1]);
        for n in changed.chain(std::iter::once(nodes)) {
            // Rows copied..n keep their edges, shifted by what was added before them.
            let shift = out.to.len() as i64 - old_off(copied) as i64;
            out.off
                .extend((copied..n).map(|m| (old_off(m) as i64 + shift) as u32));
            out.to
                .extend_from_slice(&self.to[old_off(copied)..old_off(n)]);
            out.role
                .extend_from_slice(&self.role[old_off(copied)..old_off(n)]);
            if n == nodes {
                break;
            }
            out.off.push(out.to.len() as u32);
            row.clear();
            let (t, r) = (
                &self.to[old_off(n)..old_off(n + 1)],
                &self.role[old_off(n)..old_off(n + 1)],
            );
            row.extend(t.iter().copied().zip(r.iter().copied()));
            let (t, r) = extra.row(n as NodeId);
            row.extend(t.iter().copied().zip(r.iter().copied()));
            row.sort_unstable();
            row.dedup();
            out.to.extend(row.iter().map(|e| e.0));
            out.role.extend(row.iter().map(|e| e.1));
            copied = n + 1;
        }
        out.off.push(out.to.len() as u32);
        out
    }

    /// Every edge as (row, target, role), row by row.
    fn entries(&self) -> impl Iterator<Item = (NodeId, NodeId, u8)> + '_ {
        let rows = self.off.len().saturating_sub(1) as NodeId;
        (0..rows).flat_map(move |n| {
            let (targets, roles) = self.row(n);
            targets.iter().zip(roles).map(move |(&t, &r)| (n, t, r))
        })
    }

    /// The same edges the other way round. Rows come out sorted and free of duplicates, as
    /// [`Csr::build`] makes them: sources are visited in order, each row of `self` is sorted.
    fn transposed(&self, nodes: usize) -> Csr {
        Csr::scatter(nodes, self.to.len(), || {
            self.entries().map(|(n, t, r)| (t, n, r))
        })
    }

    fn row(&self, n: NodeId) -> (&[NodeId], &[u8]) {
        let (s, e) = (
            self.off[n as usize] as usize,
            self.off[n as usize + 1] as usize,
        );
        (&self.to[s..e], &self.role[s..e])
    }
}

/// A run's time as the view merges its records: the earliest start, else the end on the
/// latest record that has one, else when it was first recorded.
#[derive(Debug, Clone, Copy)]
struct RunClock {
    started: i64,
    /// (recorded at, ended at) of the latest record with an end.
    ended: (i64, i64),
    first_recorded: i64,
}

/// No time: an artifact's slot in [`LineageIndex::run_time`]'s table.
const NO_TIME: i64 = i64::MIN;

impl Default for RunClock {
    fn default() -> Self {
        RunClock {
            started: i64::MAX,
            ended: (i64::MIN, NO_TIME),
            first_recorded: i64::MAX,
        }
    }
}

impl RunClock {
    fn add(&mut self, started: Option<i64>, ended: Option<i64>, recorded: Option<i64>) {
        if let Some(s) = started {
            self.started = self.started.min(s);
        }
        let recorded = recorded.unwrap_or(i64::MIN);
        if let Some(e) = ended {
            // Of two records at the same moment the view takes the one with the larger record
            // id; this index does not read record ids and takes the later end.
            if (recorded, e) >= self.ended {
                self.ended = (recorded, e);
            }
        }
        if recorded != i64::MIN {
            self.first_recorded = self.first_recorded.min(recorded);
        }
    }

    fn time(&self) -> i64 {
        if self.started != i64::MAX {
            self.started
        } else if self.ended.1 != NO_TIME {
            self.ended.1
        } else if self.first_recorded != i64::MAX {
            self.first_recorded
        } else {
            NO_TIME
        }
    }
}

pub struct LineageIndex {
    ids: Ids,
    /// Per node: the artifact kind's index, [`UNRECORDED`], or [`RUN_NODE`].
    kinds: Vec<u8>,
    models: HashMap<NodeId, ModelKey>,
    /// Artifacts recorded with a vendor (models, even without a model name or channel).
    vendored: HashSet<NodeId>,
    /// License ids recorded on artifacts (license claims).
    claimed: HashMap<NodeId, Vec<String>>,
    /// What each run did (its first record's kind), by node; `None` for artifacts.
    run_kinds: Vec<Option<RunKind>>,
    /// How each run was dated by its records, from node `clock_base` on (the first run's node:
    /// artifacts come first and need none).
    clocks: Vec<RunClock>,
    clock_base: NodeId,
    /// Artifacts with at least one release record (whatever its distribution).
    released: HashSet<NodeId>,
    /// Datasets with a recorded row composition.
    composed: HashSet<NodeId>,
    /// Data-flow direction: artifact → run (input, with role), run → artifact (output).
    down: Csr,
    up: Csr,
    /// Every node in topological order; nodes from `placed` on are on or behind cycles.
    order: Vec<NodeId>,
    placed: usize,
    pub segments: usize,
}

fn strings<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
}

fn times<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a TimestampMicrosecondArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
}

fn lists<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a ListArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<ListArray>())
}

fn opt(col: Option<&StringArray>, row: usize) -> Option<&str> {
    col.filter(|c| !c.is_null(row)).map(|c| c.value(row))
}

/// A stored enum value: its exact spelling first (what mlprov writes, one comparison per
/// variant), else any spelling the parser accepts.
fn stored<T: Copy + std::str::FromStr>(
    all: &[T],
    name: fn(T) -> &'static str,
    text: &str,
) -> Option<T> {
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .or_else(|| text.parse().ok())
}

/// Which rows were recorded at or before `as_of` (every row without it).
fn visibility(b: &RecordBatch, as_of: Option<i64>) -> impl Fn(usize) -> bool + '_ {
    let column = as_of.and_then(|_| times(b, "recorded_at"));
    move |row| match (as_of, column) {
        (Some(limit), Some(t)) => t.is_null(row) || t.value(row) <= limit,
        _ => true,
    }
}

fn corrupt(store: &Store, table: &str, reason: String) -> crate::Error {
    crate::Error::CorruptSegment {
        path: store.dir().join(crate::store::SEGMENTS).join(table),
        reason,
    }
}

/// Segment bytes per node, to size the id table from a listing (see [`LineageIndex::build`]).
const BYTES_PER_NODE: u64 = 110;
/// Bytes of an id, to size the arena: a `blake3:` digest is 71.
const BYTES_PER_ID: usize = 72;

/// Rows whose ids are brought into cache together before they are interned (see
/// [`Warmer`]): a run row names about five ids, an artifact row one.
const WARM_RUN_ROWS: usize = 64;
const WARM_ARTIFACT_ROWS: usize = 256;

/// The ids of one row's list of items (inputs' artifact ids, or outputs).
fn listed<'a>(
    list: Option<&'a ListArray>,
    items: Option<&'a StringArray>,
    row: usize,
) -> impl Iterator<Item = &'a str> + 'a {
    let range = match list {
        Some(l) if !l.is_null(row) => {
            let offs = l.value_offsets();
            offs[row] as usize..offs[row + 1] as usize
        }
        _ => 0..0,
    };
    items
        .into_iter()
        .flat_map(move |i| range.clone().map(move |j| i.value(j)))
}

/// The edges and order of a cached index being extended.
struct Earlier {
    down: Csr,
    up: Csr,
    order: Vec<NodeId>,
    placed: usize,
}

impl Earlier {
    /// The cached order followed by the new nodes in an order of their own, when that is a
    /// topological order of the whole: the cached one placed every node, and no new edge
    /// enters an old node. `None` otherwise (the order is worked out again).
    fn order_with_new_nodes(
        self,
        down: &Csr,
        up: &Csr,
        added: &[(NodeId, NodeId, u8)],
        nodes: usize,
    ) -> Option<(Vec<NodeId>, usize)> {
        let old = self.down.off.len().saturating_sub(1);
        if self.placed < old || added.iter().any(|&(_, to, _)| (to as usize) < old) {
            return None;
        }
        // Among the new nodes only edges from new nodes are still to be satisfied.
        let mut indegree: Vec<u32> = (old..nodes)
            .map(|v| {
                up.row(v as NodeId)
                    .0
                    .iter()
                    .filter(|&&u| u as usize >= old)
                    .count() as u32
            })
            .collect();
        let mut order = self.order;
        let start = order.len();
        order.extend(
            (old..nodes)
                .filter(|&v| indegree[v - old] == 0)
                .map(|v| v as NodeId),
        );
        let mut head = start;
        while head < order.len() {
            let v = order[head];
            head += 1;
            for &next in down.row(v).0 {
                let slot = &mut indegree[next as usize - old];
                *slot -= 1;
                if *slot == 0 {
                    order.push(next);
                }
            }
        }
        (order.len() == nodes).then_some((order, nodes))
    }
}

/// The index while segments are read into it.
struct Builder<'s> {
    store: &'s Store,
    limit: Option<i64>,
    ids: Ids,
    kinds: Vec<u8>,
    models: HashMap<NodeId, ModelKey>,
    vendored: HashSet<NodeId>,
    composed: HashSet<NodeId>,
    /// Edges read so far.
    edges: Vec<(NodeId, NodeId, u8)>,
    /// What the cached index being extended knew of edges and order.
    earlier: Option<Earlier>,
    run_kinds: Vec<Option<RunKind>>,
    /// Clocks of runs, from node `clock_base` on.
    run_clock: Vec<RunClock>,
    clock_base: Option<NodeId>,
    roles: Vec<(&'static str, u8)>,
    /// Artifact and run segments read into the index.
    segments: usize,
    warmer: Warmer,
}

impl<'s> Builder<'s> {
    fn new(store: &'s Store, limit: Option<i64>, nodes: usize) -> Self {
        Builder {
            store,
            limit,
            ids: Ids::with_capacity(nodes, nodes * BYTES_PER_ID),
            kinds: Vec::with_capacity(nodes),
            models: HashMap::new(),
            vendored: HashSet::new(),
            composed: HashSet::new(),
            edges: Vec::new(),
            earlier: None,
            run_kinds: Vec::new(),
            run_clock: Vec::new(),
            clock_base: None,
            roles: Self::roles(),
            segments: 0,
            warmer: Warmer::default(),
        }
    }

    fn roles() -> Vec<(&'static str, u8)> {
        Role::ALL
            .iter()
            .map(|r| (r.as_str(), role_code(*r)))
            .collect()
    }

    /// Carry on from an index read back from the cache, which `segments` artifact and run
    /// segments went into: what it found stays, new ids are numbered after its own. Claims
    /// and releases are read again in [`Builder::finish`]; the order is kept when it can be
    /// (see [`Earlier::order_with_new_nodes`]).
    fn resume(store: &'s Store, index: LineageIndex, segments: usize) -> Self {
        let LineageIndex {
            ids,
            kinds,
            models,
            vendored,
            run_kinds,
            clocks,
            clock_base,
            composed,
            down,
            up,
            order,
            placed,
            ..
        } = index;
        Builder {
            store,
            limit: None,
            ids,
            kinds,
            models,
            vendored,
            composed,
            edges: Vec::new(),
            earlier: Some(Earlier {
                down,
                up,
                order,
                placed,
            }),
            run_kinds,
            clock_base: (!clocks.is_empty()).then_some(clock_base),
            run_clock: clocks,
            roles: Self::roles(),
            segments,
            warmer: Warmer::default(),
        }
    }

    /// The clock of run node `r`.
    fn clock(&mut self, r: NodeId) -> &mut RunClock {
        let base = *self.clock_base.get_or_insert(r);
        if r < base {
            // A run whose id came first as an artifact's: the clocks start earlier.
            let gap = (base - r) as usize;
            self.run_clock
                .splice(0..0, std::iter::repeat_n(RunClock::default(), gap));
            self.clock_base = Some(r);
        }
        let slot = (r - self.clock_base.unwrap_or(r)) as usize;
        if self.run_clock.len() <= slot {
            self.run_clock.resize(slot + 1, RunClock::default());
        }
        &mut self.run_clock[slot]
    }

    fn node_of(&mut self, key: &str, kind: u8) -> NodeId {
        let (n, new) = self.ids.intern(key);
        if new {
            self.kinds.push(kind);
        }
        n
    }

    fn artifacts(&mut self, b: &RecordBatch) -> Result<()> {
        let (store, limit) = (self.store, self.limit);
        let aid = strings(b, "artifact_id")
            .ok_or_else(|| corrupt(store, "artifacts", "column 'artifact_id' is missing".into()))?;
        let kind = strings(b, "kind")
            .ok_or_else(|| corrupt(store, "artifacts", "column 'kind' is missing".into()))?;
        let (vendor, model, revision, channel) = (
            strings(b, "vendor"),
            strings(b, "model"),
            strings(b, "revision"),
            strings(b, "channel"),
        );
        let composition = strings(b, "composition_column");
        let visible = visibility(b, limit);
        let rows = b.num_rows();
        for row in 0..rows {
            if row % WARM_ARTIFACT_ROWS == 0 {
                let block = row..(row + WARM_ARTIFACT_ROWS).min(rows);
                self.warmer.warm(&self.ids, block.map(|r| aid.value(r)));
            }
            if !visible(row) {
                continue;
            }
            let (n, new) = self.ids.intern(aid.value(row));
            // An id's kind is its first artifact record's. Artifacts are read before runs, so
            // only when extending an index can a run have named the id first.
            if new || matches!(self.kinds[n as usize], UNRECORDED | RUN_NODE) {
                let text = kind.value(row);
                let k = stored(ArtifactKind::ALL, ArtifactKind::as_str, text)
                    .ok_or_else(|| corrupt(store, "artifacts", format!("unknown kind '{text}'")))?;
                if new {
                    self.kinds.push(kind_code(k));
                } else {
                    self.kinds[n as usize] = kind_code(k);
                }
            }
            if opt(composition, row).is_some() {
                self.composed.insert(n);
            }
            if opt(vendor, row).is_some() {
                self.vendored.insert(n);
            }
            if let (Some(v), Some(m), Some(c)) =
                (opt(vendor, row), opt(model, row), opt(channel, row))
            {
                if let Ok(channel) = c.parse::<Channel>() {
                    self.models.entry(n).or_insert_with(|| ModelKey {
                        vendor: v.to_string(),
                        model: m.to_string(),
                        revision: opt(revision, row).map(str::to_string),
                        channel,
                    });
                }
            }
        }
        Ok(())
    }

    fn runs(&mut self, b: &RecordBatch) -> Result<()> {
        let (store, limit) = (self.store, self.limit);
        let run_id = strings(b, "run_id")
            .ok_or_else(|| corrupt(store, "runs", "column 'run_id' is missing".into()))?;
        let run_kind = strings(b, "kind")
            .ok_or_else(|| corrupt(store, "runs", "column 'kind' is missing".into()))?;
        let inputs = lists(b, "inputs");
        let outputs = lists(b, "outputs");
        let input_items = inputs.map(|l| {
            let s = l.values().as_any().downcast_ref::<StructArray>();
            (
                s.and_then(|s| s.column_by_name("artifact_id"))
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>()),
                s.and_then(|s| s.column_by_name("role"))
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>()),
            )
        });
        let output_items = outputs.and_then(|l| l.values().as_any().downcast_ref::<StringArray>());
        let (started, ended, recorded) = (
            times(b, "started_at"),
            times(b, "ended_at"),
            times(b, "recorded_at"),
        );
        let at = |col: Option<&TimestampMicrosecondArray>, row: usize| {
            col.filter(|c| !c.is_null(row)).map(|c| c.value(row))
        };
        let visible = visibility(b, limit);
        let input_ids = input_items.and_then(|(aids, _)| aids);
        let rows = b.num_rows();
        for row in 0..rows {
            if row % WARM_RUN_ROWS == 0 {
                let block = row..(row + WARM_RUN_ROWS).min(rows);
                self.warmer.warm(
                    &self.ids,
                    block.flat_map(|r| {
                        std::iter::once(run_id.value(r))
                            .chain(listed(inputs, input_ids, r))
                            .chain(listed(outputs, output_items, r))
                    }),
                );
            }
            if !visible(row) {
                continue;
            }
            let r = self.node_of(run_id.value(row), RUN_NODE);
            if self.run_kinds.len() <= r as usize {
                self.run_kinds.resize(r as usize + 1, None);
            }
            self.clock(r)
                .add(at(started, row), at(ended, row), at(recorded, row));
            if self.run_kinds[r as usize].is_none() {
                let kind = run_kind.value(row);
                self.run_kinds[r as usize] =
                    Some(stored(RunKind::ALL, RunKind::as_str, kind).ok_or_else(|| {
                        corrupt(store, "runs", format!("unknown run kind '{kind}'"))
                    })?);
            }
            if let (Some(list), Some((Some(aids), Some(rs)))) = (inputs, input_items) {
                if !list.is_null(row) {
                    let offs = list.value_offsets();
                    for j in offs[row] as usize..offs[row + 1] as usize {
                        let role = rs.value(j);
                        let code = self
                            .roles
                            .iter()
                            .find(|(name, _)| *name == role)
                            .map(|(_, c)| *c)
                            .ok_or_else(|| {
                                corrupt(store, "runs", format!("unknown role '{role}'"))
                            })?;
                        let a = self.node_of(aids.value(j), UNRECORDED);
                        self.edges.push((a, r, code));
                    }
                }
            }
            for output in listed(outputs, output_items, row) {
                let a = self.node_of(output, UNRECORDED);
                self.edges.push((r, a, OUTPUT_EDGE));
            }
        }
        Ok(())
    }
}

impl Builder<'_> {
    /// Read artifact and run segments (artifacts first: an id's kind is set when an artifact
    /// record first names it). `false` when one vanished meanwhile (a compaction merged it):
    /// what was read is then incomplete; start over.
    fn read(&mut self, artifacts: &[ObjectInfo], runs: &[ObjectInfo]) -> Result<bool> {
        let store = self.store;
        // Segments are decoded a chunk at a time while the previous chunk is interned (on the
        // other core), so the table's decoded columns are never all in memory at once.
        let Some(sa) = store.stream_segments(
            "artifacts",
            artifacts,
            &[
                "artifact_id",
                "kind",
                "vendor",
                "model",
                "revision",
                "channel",
                "composition_column",
                "recorded_at",
            ],
            &mut |batch| self.artifacts(&batch),
        )?
        else {
            return Ok(false);
        };
        let Some(sr) = store.stream_segments(
            "runs",
            runs,
            &[
                "run_id",
                "kind",
                "inputs",
                "outputs",
                "started_at",
                "ended_at",
                "recorded_at",
            ],
            &mut |batch| self.runs(&batch),
        )?
        else {
            return Ok(false);
        };
        self.segments += sa + sr;
        Ok(true)
    }

    /// The index: license claims and releases read (all of them: a claim only counts for an
    /// id some record names), edges in rows both ways, nodes in order.
    fn finish(self, timer: &crate::progress::PhaseTimer) -> Result<LineageIndex> {
        let Builder {
            store,
            limit,
            ids,
            kinds,
            models,
            vendored,
            composed,
            edges,
            earlier,
            run_kinds,
            run_clock,
            clock_base,
            segments,
            ..
        } = self;
        let (claims, releases) = rayon::join(
            || {
                store.load_columns(
                    "license_claims",
                    &["artifact_id", "license_id", "recorded_at"],
                )
            },
            || store.load_columns("releases", &["artifact_id", "recorded_at"]),
        );
        let (claims, sc) = claims?;
        let (releases, sl) = releases?;

        let mut claimed: HashMap<NodeId, Vec<String>> = HashMap::new();
        for b in &claims {
            let (Some(aid), Some(lic)) = (strings(b, "artifact_id"), strings(b, "license_id"))
            else {
                continue;
            };
            let visible = visibility(b, limit);
            for row in 0..b.num_rows() {
                if !visible(row) {
                    continue;
                }
                if let Some(n) = ids.find(aid.value(row)) {
                    let v = claimed.entry(n).or_default();
                    if !v.iter().any(|l| l == lic.value(row)) {
                        v.push(lic.value(row).to_string());
                    }
                }
            }
        }

        let mut released = HashSet::new();
        for b in &releases {
            let Some(aid) = strings(b, "artifact_id") else {
                continue;
            };
            let visible = visibility(b, limit);
            for row in (0..b.num_rows()).filter(|&row| visible(row)) {
                if let Some(n) = ids.find(aid.value(row)) {
                    released.insert(n);
                }
            }
        }

        let nodes = ids.len();
        let (down, up, order) = match earlier {
            None => {
                let down = Csr::build(nodes, &edges);
                drop(edges);
                let up = down.transposed(nodes);
                (down, up, None)
            }
            Some(earlier) => {
                let reversed: Vec<_> = edges.iter().map(|&(a, b, r)| (b, a, r)).collect();
                let down = earlier.down.with_added(nodes, &edges);
                let up = earlier.up.with_added(nodes, &reversed);
                let order = earlier.order_with_new_nodes(&down, &up, &edges, nodes);
                (down, up, order)
            }
        };
        timer.phase("csr");
        let mut index = LineageIndex {
            ids,
            kinds,
            models,
            vendored,
            claimed,
            run_kinds,
            clocks: run_clock,
            clock_base: clock_base.unwrap_or_default(),
            released,
            composed,
            down,
            up,
            order: Vec::new(),
            placed: 0,
            segments: segments + sc + sl,
        };
        (index.order, index.placed) = order.unwrap_or_else(|| index.compute_topological_order());
        timer.phase("order");
        Ok(index)
    }
}

impl LineageIndex {
    /// The index of a store, as of a moment (records recorded later are ignored). The
    /// index of the store as it is now is kept in the local cache folder and reused while
    /// the segment listing is unchanged; after a few writes it is extended with the new
    /// segments instead of built again (see `cache`).
    pub fn load(store: &Store, as_of: Option<DateTime<Utc>>) -> Result<LineageIndex> {
        if as_of.is_some() || !cache::enabled() {
            return Self::build(store, as_of);
        }
        let timer = crate::progress::PhaseTimer::new("index");
        let listing = cache::Listing::of(store)?;
        timer.phase("listing");
        if let Some(index) = cache::read(store, &listing.key(), &timer) {
            return Ok(index);
        }
        if let Some((base, added)) = cache::read_base(store, &listing, &timer) {
            let mut builder = Builder::resume(store, base, added.read);
            let new_nodes = (added.bytes / BYTES_PER_NODE) as usize;
            builder
                .ids
                .reserve_added(new_nodes, new_nodes * BYTES_PER_ID);
            if builder.read(&added.artifacts, &added.runs)? {
                timer.phase("extend");
                let index = builder.finish(&timer)?;
                if added.worth_writing {
                    cache::write_if_listed(store, &listing, &index);
                    timer.phase("cache write");
                }
                return Ok(index);
            }
        }
        let index = Self::build(store, None)?;
        cache::write_if_listed(store, &listing, &index);
        Ok(index)
    }

    /// Build and cache the index of the store as it is now, unless the cache already holds it.
    /// `mlprov compact` calls this: a compaction renames every segment, so otherwise the next
    /// question builds the index from the segments (1.2–1.4 s on the 1M-artifact bench store)
    /// and writes the cache. Local stores only: for a store on object storage the cache is the
    /// compacting machine's own. Returns whether a cached index now matches the listing.
    pub fn refresh_cache(store: &Store) -> Result<bool> {
        if store.url().is_some() || !cache::enabled() {
            return Ok(false);
        }
        // A compaction that merged nothing leaves the cached index as it was: not decoded again.
        if !cache::holds(store, &cache::Listing::of(store)?) {
            Self::load(store, None)?;
        }
        // Listed again: a writer may have added a segment while the index was built.
        Ok(cache::holds(store, &cache::Listing::of(store)?))
    }

    /// Build the index from the store's segments (again from the start if a compaction
    /// removes a segment while it is read).
    pub fn build(store: &Store, as_of: Option<DateTime<Utc>>) -> Result<LineageIndex> {
        for _attempt in 0..8 {
            if let Some(index) = Self::try_build(store, as_of)? {
                return Ok(index);
            }
        }
        Err(crate::Error::Io {
            path: store.dir().to_path_buf(),
            action: "reading store",
            source: std::io::Error::other(
                "segments kept vanishing while reading (is a compaction loop running?)",
            ),
        })
    }

    /// The index, or `None` when a segment vanished while it was read.
    fn try_build(store: &Store, as_of: Option<DateTime<Utc>>) -> Result<Option<LineageIndex>> {
        let timer = crate::progress::PhaseTimer::new("index");
        let (artifacts, runs) = (store.segments("artifacts")?, store.segments("runs")?);
        // Sized from the segments' bytes, so the id table is not rehashed and copied as it
        // grows: about 110 bytes per node in bulk-written zstd segments (200 in the snappy
        // segments of earlier versions, for which the table is then twice what it needs).
        let bytes: u64 = artifacts.iter().chain(&runs).map(|i| i.size).sum();
        let limit = as_of.map(|t| t.timestamp_micros());
        let mut b = Builder::new(store, limit, (bytes / BYTES_PER_NODE) as usize);
        if !b.read(&artifacts, &runs)? {
            return Ok(None);
        }
        timer.phase("segments");
        b.finish(&timer).map(Some)
    }

    /// Everything the index says, by id rather than node number, in a stable order: two
    /// indexes of one store must give the same lines however their nodes were numbered.
    #[cfg(test)]
    pub(crate) fn fingerprint(&self) -> Vec<String> {
        let edges = |row: (&[NodeId], &[u8])| {
            let mut e: Vec<(&str, u8)> = row
                .0
                .iter()
                .zip(row.1)
                .map(|(&t, &r)| (self.id(t), r))
                .collect();
            e.sort_unstable();
            e
        };
        let mut lines: Vec<String> = (0..self.node_count() as NodeId)
            .map(|n| {
                let mut claimed = self.claimed_licenses(n).to_vec();
                claimed.sort_unstable();
                format!(
                    "{} kind={} model={:?} vendored={} claimed={claimed:?} run={:?} at={:?} \
                     released={} composed={} up={:?} down={:?}",
                    self.id(n),
                    self.kinds[n as usize],
                    self.model(n),
                    self.vendored.contains(&n),
                    self.run_kind(n),
                    self.run_time(n),
                    self.has_release(n),
                    self.has_composition(n),
                    edges(self.up.row(n)),
                    edges(self.down.row(n)),
                )
            })
            .collect();
        lines.sort_unstable();
        lines.push(format!("placed={} segments={}", self.placed, self.segments));
        lines
    }

    /// Whether this index was read from a cache file (and maybe extended).
    #[cfg(test)]
    pub(crate) fn is_from_cache(&self) -> bool {
        self.ids.base.len() > 0
    }

    /// Whether this index is a cached one extended with newer segments.
    #[cfg(test)]
    pub(crate) fn is_extended(&self) -> bool {
        self.ids.base.len() > 0 && self.ids.added.len() > 0
    }

    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    pub fn edge_count(&self) -> usize {
        self.down.to.len()
    }

    pub fn node(&self, id: &str) -> Option<NodeId> {
        self.ids.find(id)
    }

    pub fn id(&self, n: NodeId) -> &str {
        self.ids.get(n)
    }

    pub fn is_run(&self, n: NodeId) -> bool {
        self.kinds[n as usize] == RUN_NODE
    }

    /// The artifact kind of a node (`None` for runs and unrecorded artifacts).
    pub fn artifact_kind(&self, n: NodeId) -> Option<ArtifactKind> {
        ArtifactKind::ALL
            .get(self.kinds[n as usize] as usize)
            .copied()
    }

    pub fn model(&self, n: NodeId) -> Option<&ModelKey> {
        self.models.get(&n)
    }

    /// Whether an artifact record describes this node (runs name artifacts nobody recorded).
    pub fn is_recorded_artifact(&self, n: NodeId) -> bool {
        !self.is_run(n) && self.kinds[n as usize] != UNRECORDED
    }

    /// License ids recorded on an artifact.
    pub fn claimed_licenses(&self, n: NodeId) -> &[String] {
        self.claimed.get(&n).map(Vec::as_slice).unwrap_or(&[])
    }

    /// What a run did (`None` for artifacts).
    pub fn run_kind(&self, n: NodeId) -> Option<RunKind> {
        self.run_kinds.get(n as usize).copied().flatten()
    }

    /// When a run used its inputs, as the audit dates it: its earliest start, else its end,
    /// else when it was first recorded (`None` for artifacts).
    pub fn run_time(&self, n: NodeId) -> Option<DateTime<Utc>> {
        let slot = n.checked_sub(self.clock_base)?;
        let t = self.clocks.get(slot as usize)?.time();
        if t == NO_TIME {
            return None;
        }
        DateTime::from_timestamp_micros(t)
    }

    /// Whether any release record names the artifact.
    pub fn has_release(&self, n: NodeId) -> bool {
        self.released.contains(&n)
    }

    /// Whether the artifact is a dataset with a recorded row composition.
    pub fn has_composition(&self, n: NodeId) -> bool {
        self.composed.contains(&n)
    }

    /// Inputs of a run (artifact, role) or producers of an artifact (run, `OUTPUT_EDGE`).
    pub fn upstream_edges(&self, n: NodeId) -> impl Iterator<Item = (NodeId, u8)> + '_ {
        let (to, role) = self.up.row(n);
        to.iter().copied().zip(role.iter().copied())
    }

    /// Consumers of an artifact (run, role) or outputs of a run (artifact, `OUTPUT_EDGE`).
    pub fn downstream_edges(&self, n: NodeId) -> impl Iterator<Item = (NodeId, u8)> + '_ {
        let (to, role) = self.down.row(n);
        to.iter().copied().zip(role.iter().copied())
    }

    /// Every edge of a node, upstream then downstream (a run's inputs and outputs).
    pub fn edges(&self, n: NodeId) -> impl Iterator<Item = (NodeId, u8)> + '_ {
        self.upstream_edges(n).chain(self.downstream_edges(n))
    }

    /// Every node upstream of `root` (itself included), breadth first.
    pub fn upstream(&self, root: NodeId) -> Vec<NodeId> {
        self.walk(root, &self.up)
    }

    /// Every node downstream of `root` (itself included), breadth first.
    pub fn downstream(&self, root: NodeId) -> Vec<NodeId> {
        self.walk(root, &self.down)
    }

    fn walk(&self, root: NodeId, csr: &Csr) -> Vec<NodeId> {
        let mut seen = vec![0u64; self.node_count().div_ceil(64)];
        let mut order = vec![root];
        seen[root as usize / 64] |= 1 << (root % 64);
        let mut head = 0;
        while head < order.len() {
            let n = order[head];
            head += 1;
            for &next in csr.row(n).0 {
                let (w, b) = (next as usize / 64, 1u64 << (next % 64));
                if seen[w] & b == 0 {
                    seen[w] |= b;
                    order.push(next);
                }
            }
        }
        order
    }

    /// Nodes in topological order (inputs before runs, runs before outputs), then the nodes on
    /// or behind cycles, which no order can place; the second value is where those start.
    /// Worked out once, when the index is built (and kept in its cache file).
    pub fn topological_order(&self) -> (&[NodeId], usize) {
        (&self.order, self.placed)
    }

    fn compute_topological_order(&self) -> (Vec<NodeId>, usize) {
        let n = self.node_count();
        let mut indegree: Vec<u32> = (0..n)
            .map(|i| self.up.off[i + 1] - self.up.off[i])
            .collect();
        let mut order: Vec<NodeId> = (0..n as NodeId)
            .filter(|&i| indegree[i as usize] == 0)
            .collect();
        let mut head = 0;
        while head < order.len() {
            let v = order[head];
            head += 1;
            for &next in self.down.row(v).0 {
                indegree[next as usize] -= 1;
                if indegree[next as usize] == 0 {
                    order.push(next);
                }
            }
        }
        let placed = order.len();
        if placed < n {
            order.extend((0..n as NodeId).filter(|&i| indegree[i as usize] > 0));
        }
        (order, placed)
    }

    /// Licenses governing a model node: recorded claims, then catalog assignments (any date).
    pub fn licenses<'c>(
        &self,
        catalog: &'c Catalog,
        n: NodeId,
    ) -> Vec<&'c crate::catalog::LicenseEntry> {
        let mut out: Vec<&crate::catalog::LicenseEntry> = Vec::new();
        for id in self.claimed.get(&n).into_iter().flatten() {
            if let Some(e) = catalog.license(id) {
                if !out.iter().any(|x| x.id == e.id) {
                    out.push(e);
                }
            }
        }
        if let Some(m) = self.models.get(&n) {
            for a in
                catalog.assignments(&m.vendor, &m.model, m.revision.as_deref(), m.channel, None)
            {
                if let Some(e) = catalog.license(&a.license) {
                    if !out.iter().any(|x| x.id == e.id) {
                        out.push(e);
                    }
                }
            }
        }
        out
    }

    /// Every node [`is_licensed_model`](Self::is_licensed_model) holds for, sorted: found from
    /// the few nodes that carry a vendor, a claim or the external-model kind, not by asking
    /// every node.
    pub fn licensed_models(&self) -> Vec<NodeId> {
        let external = kind_code(ArtifactKind::ExternalModel);
        let mut out: Vec<NodeId> = self
            .vendored
            .iter()
            .chain(self.claimed.keys())
            .copied()
            .chain(
                self.kinds
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k == external)
                    .map(|(n, _)| n as NodeId),
            )
            .filter(|&n| !self.is_run(n))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether an artifact is a model whose own terms matter (as the audit decides it: an
    /// external model, a vendor's model, or anything carrying license claims).
    pub fn is_licensed_model(&self, n: NodeId) -> bool {
        self.artifact_kind(n) == Some(ArtifactKind::ExternalModel)
            || self.vendored.contains(&n)
            || self.claimed.contains_key(&n)
    }

    /// Models whose terms restrict training on their outputs or weights: under some license
    /// that governs them, the most restrictive claim (primary claims first, as the default
    /// trust rule reads them) is anything but "allowed".
    pub fn restricted_models(&self, catalog: &Catalog) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self
            .licensed_models()
            .into_iter()
            .filter(|&n| {
                self.licenses(catalog, n).iter().any(|entry| {
                    ClaimSubject::ALL.iter().any(|&subject| {
                        let mut claims: Vec<_> = entry.claims_about(subject).collect();
                        if claims.is_empty() {
                            claims = entry.claims_about(ClaimSubject::Outputs).collect();
                        }
                        let primary: Vec<_> = claims
                            .iter()
                            .copied()
                            .filter(|c| c.confidence == crate::records::Confidence::Primary)
                            .collect();
                        let pool = if primary.is_empty() {
                            &claims
                        } else {
                            &primary
                        };
                        pool.iter()
                            .map(|c| c.class)
                            .max_by_key(|c| c.restrictiveness())
                            .is_some_and(|c| c != TermClass::Allowed)
                    })
                })
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Which runs have a restricted model upstream, along the edges that carry restrictions
    /// (the audit's propagation rules: evaluation data carries nothing; what a model generates
    /// carries its own terms, and, when `restrictions_travel`, everything the model derives
    /// from). One pass in topological order over a bitset per node, one bit per restricted
    /// model; nodes on cycles are iterated to a fixpoint.
    pub fn restricted_runs(&self, catalog: &Catalog, restrictions_travel: bool) -> Vec<NodeId> {
        let models = self.restricted_models(catalog);
        let words = models.len().div_ceil(64).max(1);
        let n = self.node_count();
        // Per node, its model's bit (a vector, not a map: looked up once per edge).
        let mut bit_of: Vec<u32> = vec![u32::MAX; self.node_count()];
        for (i, &m) in models.iter().enumerate() {
            bit_of[m as usize] = i as u32;
        }
        let mut bits = vec![0u64; n * words];
        let (order, placed) = self.topological_order();
        let carries = edge_carries(restrictions_travel);
        let mut acc = vec![0u64; words];
        let mut step = |v: NodeId, bits: &mut Vec<u64>| -> bool {
            acc.iter_mut().for_each(|w| *w = 0);
            let (from, roles) = self.up.row(v);
            for (&u, &role) in from.iter().zip(roles) {
                let c = carries[role as usize];
                if c.model_terms {
                    let b = bit_of[u as usize] as usize;
                    if b != u32::MAX as usize {
                        acc[b / 64] |= 1 << (b % 64);
                    }
                }
                if !c.upstream {
                    continue;
                }
                let src = &bits[u as usize * words..u as usize * words + words];
                for (a, s) in acc.iter_mut().zip(src) {
                    *a |= *s;
                }
            }
            let dst = &mut bits[v as usize * words..v as usize * words + words];
            let changed = dst.iter().zip(&acc).any(|(d, a)| d | a != *d);
            for (d, a) in dst.iter_mut().zip(&acc) {
                *d |= *a;
            }
            changed
        };
        for &v in &order[..placed] {
            step(v, &mut bits);
        }
        // Cycles: repeat over the rest until nothing changes (unions only grow).
        loop {
            let mut changed = false;
            for &v in &order[placed..] {
                changed |= step(v, &mut bits);
            }
            if !changed {
                break;
            }
        }
        (0..n as NodeId)
            .filter(|&v| {
                self.is_run(v)
                    && bits[v as usize * words..v as usize * words + words]
                        .iter()
                        .any(|w| *w != 0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;

    #[test]
    fn transposed_rows_equal_rows_built_the_other_way() {
        // Duplicates, one pair with two roles, self-loops and nodes without edges.
        let edges: Vec<(NodeId, NodeId, u8)> = vec![
            (0, 3, 1),
            (2, 3, 0),
            (0, 3, 1),
            (0, 3, 2),
            (3, 5, OUTPUT_EDGE),
            (4, 4, 0),
            (5, 1, 3),
            (2, 1, 3),
        ];
        let down = Csr::build(7, &edges);
        let reversed: Vec<(NodeId, NodeId, u8)> =
            edges.iter().map(|&(a, b, r)| (b, a, r)).collect();
        let up = Csr::build(7, &reversed);
        let transposed = down.transposed(7);
        assert_eq!(transposed.off, up.off);
        assert_eq!(transposed.to, up.to);
        assert_eq!(transposed.role, up.role);
    }

    #[test]
    fn rows_with_added_edges_equal_rows_built_from_all_edges() {
        let before = [(0, 1, 2), (0, 3, 1), (2, 3, 0), (3, 0, 1), (3, 2, 0)];
        let added = [
            (0, 1, 2),
            (5, 0, 1),
            (0, 2, 0),
            (4, 3, 0),
            (2, 3, 1),
            (5, 0, 1),
        ];
        let grown = Csr::build(4, &before).with_added(6, &added);
        let all: Vec<_> = before.iter().chain(&added).copied().collect();
        let all = Csr::build(6, &all);
        assert_eq!(
            (&grown.off, &grown.to, &grown.role),
            (&all.off, &all.to, &all.role)
        );
        assert_eq!(grown.row(0).0, &[1, 2, 3]);
        let nothing = Csr::build(4, &before).with_added(4, &[]);
        assert_eq!(nothing.to, Csr::build(4, &before).to);
    }

    #[test]
    fn index_matches_the_store_and_finds_restricted_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        let model_id = id::external_model(
            "meta-llama",
            "Llama-3.1-70B-Instruct",
            Some("main"),
            Channel::Weights,
        );
        let mut model = ArtifactRecord::new(model_id.clone(), ArtifactKind::ExternalModel);
        model.vendor = Some("meta-llama".into());
        model.model = Some("Llama-3.1-70B-Instruct".into());
        model.revision = Some("main".into());
        model.channel = Some(Channel::Weights);
        let data = |n: u8| crate::records::testing::dataset(n);
        let run = |name: &str, inputs: Vec<(String, Role)>, out: String| RunRecord {
            record_id: String::new(),
            run_id: id::derived_run(name.as_bytes()),
            kind: RunKind::Generate,
            name: Some(name.into()),
            status: RunStatus::Succeeded,
            started_at: None,
            ended_at: None,
            inputs: inputs
                .into_iter()
                .map(|(artifact_id, role)| RunInput { artifact_id, role })
                .collect(),
            outputs: vec![out],
            recorded_at: now(),
            recorded_by: "u@h".into(),
        };
        let (d0, d1, d2, d3) = (data(0), data(1), data(2), data(3));
        let batch = Batch {
            artifacts: vec![model, d0.clone(), d1.clone(), d2.clone(), d3.clone()],
            runs: vec![
                // model generates d1 from d0; d1 feeds d2; d3 only evaluates against d1.
                run(
                    "gen",
                    vec![
                        (model_id.clone(), Role::Generator),
                        (d0.artifact_id.clone(), Role::Source),
                    ],
                    d1.artifact_id.clone(),
                ),
                run(
                    "mix",
                    vec![(d1.artifact_id.clone(), Role::TrainingData)],
                    d2.artifact_id.clone(),
                ),
                run(
                    "eval",
                    vec![(d1.artifact_id.clone(), Role::EvalData)],
                    d3.artifact_id.clone(),
                ),
            ],
            ..Default::default()
        };
        store.append(batch).unwrap();
        let index = LineageIndex::load(&store, None).unwrap();
        assert_eq!(index.node_count(), 8);
        assert_eq!(index.edge_count(), 7);
        let catalog = Catalog::builtin().unwrap();
        let m = index.node(&model_id).unwrap();
        assert_eq!(index.restricted_models(&catalog), vec![m]);
        let flagged: Vec<&str> = index
            .restricted_runs(&catalog, true)
            .into_iter()
            .map(|n| index.id(n))
            .collect();
        let gen = id::derived_run(b"gen");
        let mix = id::derived_run(b"mix");
        assert_eq!(flagged.len(), 2);
        assert!(flagged.contains(&gen.as_str()) && flagged.contains(&mix.as_str()));
        let up = index.upstream(index.node(&d2.artifact_id).unwrap());
        assert_eq!(up.len(), 6); // d2, mix, d1, gen, model, d0

        // The second load comes from the cache file and answers the same.
        let cached_files = || -> Vec<std::path::PathBuf> {
            let root = store.cache_dir().join("index");
            std::fs::read_dir(&root)
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
                .map(|e| e.path())
                .collect()
        };
        assert_eq!(cached_files().len(), 1);
        let again = LineageIndex::load(&store, None).unwrap();
        assert!(
            matches!(again.ids.base.bytes, ids::Arena::Mapped { .. }),
            "the ids come mapped from the cache file (its checksum holds)"
        );
        assert_eq!(again.node_count(), 8);
        assert_eq!(
            again.restricted_runs(&catalog, true),
            index.restricted_runs(&catalog, true)
        );
        assert_eq!(
            again.upstream(again.node(&d2.artifact_id).unwrap()).len(),
            6
        );
        assert!(again.is_licensed_model(m) && again.model(m) == index.model(m));

        // A new segment: the next load sees the new record (the cached index is extended with
        // it; its file stays until a build writes the next one).
        let d4 = data(4);
        store
            .append(Batch {
                artifacts: vec![d4.clone()],
                ..Default::default()
            })
            .unwrap();
        let grown = LineageIndex::load(&store, None).unwrap();
        assert!(grown.node(&d4.artifact_id).is_some());
        assert_eq!(cached_files().len(), 1, "one cache file per store");

        // A damaged cache file is ignored, not trusted.
        let file = cached_files().pop().unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&file, &bytes).unwrap();
        let rebuilt = LineageIndex::load(&store, None).unwrap();
        assert_eq!(rebuilt.node_count(), 9);
        assert_eq!(rebuilt.edge_count(), 7);

        // Cut short, or changed with a checksum that matches (a bug, not a disk): never a
        // panic; a file that does not hold together is rebuilt.
        let file = cached_files().pop().unwrap();
        let good = std::fs::read(&file).unwrap();
        let body = good.len() - 32;
        for at in (0..body).step_by(body / 97 + 1) {
            for cut in [false, true] {
                let mut bytes = good.clone();
                if cut {
                    bytes.truncate(at);
                } else {
                    bytes[at] = bytes[at].wrapping_add(1);
                    let sum = *blake3::hash(&bytes[..body]).as_bytes();
                    bytes[body..].copy_from_slice(&sum);
                }
                std::fs::write(&file, &bytes).unwrap();
                let loaded = LineageIndex::load(&store, None).unwrap();
                assert!(loaded.node_count() >= 9 || !cut, "cut at {at}");
                let _ = loaded.restricted_runs(&catalog, true);
                std::fs::write(&file, &good).unwrap();
            }
        }
    }
}
