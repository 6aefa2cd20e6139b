//! The lineage in scope as one self-contained SVG picture, laid out here (no Graphviz):
//!
//! 1. **Layers** by data flow, left to right: back edges of cycles (found by a depth-first walk)
//!    are turned round, then longest-path layering; sources are pulled right next to their
//!    first consumer so that a base model does not sit far left of the run that uses it.
//! 2. Edges spanning several layers get **dummy nodes**, one per layer crossed, so that they
//!    take part in ordering and run as smooth curves between the nodes.
//! 3. **Order** within each layer by the barycenter heuristic (alternate down and up sweeps,
//!    keeping the order with the fewest crossings), then adjacent swaps while they remove
//!    crossings.
//! 4. **Vertical positions**: each node wants the mean height of its neighbours; the nearest
//!    positions that keep the order and the spacing are an isotonic regression (pool adjacent
//!    violators), alternated left-to-right and right-to-left.
//!
//! Artifacts are rounded rectangles coloured by kind, runs smaller pills; edges are cubic
//! curves with the input role as label. Every node and edge on the evidence path of an active
//! error or warning (and the target it reached) is drawn in red, of a waived one in a muted
//! brown, dashed. Each node and edge has a `<title>` tooltip. Output is deterministic: same
//! input, same bytes. Above [`MAX_NODES`] nodes only the nodes on finding paths, their targets
//! and the root are drawn, and the picture says so.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::ExportInput;
use crate::audit::{Finding, Status};
use crate::graph::Edge;
use crate::policy::Severity;
use crate::records::Role;
use crate::view::short_id;

/// Above this many nodes in scope, only finding paths and the root are drawn.
pub const MAX_NODES: usize = 400;

pub const RESTRICTED: &str = "#d32f2f";
pub const WAIVED: &str = "#8d6e63";
const EDGE: &str = "#90a4ae";
const TEXT: &str = "#263238";
const MUTED_TEXT: &str = "#607d8b";
const FONT: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// Escape text for XML and HTML (content and quoted attributes). Characters XML 1.0 cannot
/// carry at all (control characters other than tab, newline and carriage return) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// How a finding marks its path in pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// An active error or warning.
    Restricted,
    /// A waived error or warning.
    Waived,
}

pub fn mark_of(f: &Finding) -> Option<Mark> {
    if !matches!(f.severity, Severity::Error | Severity::Warning) {
        return None;
    }
    Some(match f.status {
        Status::Active => Mark::Restricted,
        Status::Waived => Mark::Waived,
    })
}

/// Edge key: (from, to, role of an input edge).
pub type EdgeKey = (String, String, Option<Role>);

/// Nodes and edges on the paths of error and warning findings. `Restricted` wins over `Waived`.
#[derive(Debug, Default, Clone)]
pub struct Highlights {
    pub nodes: BTreeMap<String, Mark>,
    pub edges: BTreeMap<EdgeKey, Mark>,
    /// Finding codes per target checkpoint, with their mark.
    pub badges: BTreeMap<String, BTreeSet<(Mark, &'static str)>>,
}

impl Highlights {
    pub fn of(findings: &[&Finding]) -> Highlights {
        let mut h = Highlights::default();
        for f in findings {
            let Some(mark) = mark_of(f) else { continue };
            let put_node = |id: &str, h: &mut Highlights| {
                let e = h.nodes.entry(id.to_string()).or_insert(mark);
                *e = (*e).min(mark);
            };
            for (i, step) in f.path.iter().enumerate() {
                put_node(&step.id, &mut h);
                if let Some(next) = f.path.get(i + 1) {
                    let role = if step.node_type == "artifact" {
                        step.role
                    } else {
                        None
                    };
                    let e = h
                        .edges
                        .entry((step.id.clone(), next.id.clone(), role))
                        .or_insert(mark);
                    *e = (*e).min(mark);
                }
            }
            if let Some(t) = &f.target {
                put_node(t, &mut h);
                let run = f
                    .path
                    .last()
                    .map(|s| s.id.clone())
                    .or_else(|| f.run.clone());
                if let Some(run) = run {
                    let e = h.edges.entry((run, t.clone(), None)).or_insert(mark);
                    *e = (*e).min(mark);
                }
                h.badges
                    .entry(t.clone())
                    .or_default()
                    .insert((mark, f.code));
            }
        }
        h
    }

    pub fn node(&self, id: &str) -> Option<Mark> {
        self.nodes.get(id).copied()
    }

    /// An input edge matches a path step with its role, or a path step that names no role.
    pub fn edge(&self, from: &str, to: &str, role: Option<Role>) -> Option<Mark> {
        let exact = self
            .edges
            .get(&(from.to_string(), to.to_string(), role))
            .copied();
        let any = self
            .edges
            .get(&(from.to_string(), to.to_string(), None))
            .copied();
        match (exact, any) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Text measurement (an estimate: the picture is self-contained, no font metrics at hand).

/// Advance widths (in em) close to DejaVu Sans, the widest of the usual sans-serif fallbacks:
/// labels sized for it fit in narrower fonts too.
fn char_em(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' | '\'' | '|' | '!' | 'I' => 0.28,
        '.' | ',' | ':' | ';' | ' ' => 0.32,
        'f' | 't' | '/' | '(' | ')' | '[' | ']' | '-' => 0.37,
        'r' => 0.41,
        'c' | 's' | 'z' => 0.53,
        'v' | 'x' | 'y' | 'k' | '_' => 0.59,
        'w' => 0.82,
        'm' => 0.98,
        'M' => 0.87,
        'W' => 1.0,
        '@' | '…' => 1.0,
        c if c.is_ascii_uppercase() => 0.72,
        c if c.is_ascii_digit() => 0.64,
        c if c.is_ascii() => 0.62,
        _ => 1.0,
    }
}

/// Estimated width of `s` at `size` px (bold text is about a tenth wider).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars().map(char_em).sum::<f64>() * size
}

pub fn bold_width(s: &str, size: f64) -> f64 {
    text_width(s, size) * 1.1
}

/// `s`, shortened with an ellipsis to fit `max` pixels at `size` (`bold`: in bold).
pub fn fit(s: &str, size: f64, max: f64, bold: bool) -> String {
    let scale = if bold { 1.1 } else { 1.0 };
    if text_width(s, size) * scale <= max {
        return s.to_string();
    }
    let budget = max - text_width("…", size) * scale;
    let mut out = String::new();
    let mut w = 0.0;
    for c in s.chars() {
        w += char_em(c) * size * scale;
        if w > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

// ---------------------------------------------------------------------------------------------
// Layout: pure geometry over node sizes and edges, so it can be tested on its own.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Curve(Point, Point),
    Line(Point, Point),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    pub layer: usize,
    /// Position within its layer (0 = top).
    pub order: usize,
    pub cx: f64,
    pub cy: f64,
    pub w: f64,
    pub h: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// From the edge's source to its target, in drawing order.
    pub segs: Vec<Seg>,
    /// Where its label goes (the middle of the segment entering the target).
    pub label_at: Point,
    /// Drawn against the layer order (a back edge of a cycle).
    pub reversed: bool,
    pub self_loop: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<Routed>,
    pub width: f64,
    pub height: f64,
    pub crossings: usize,
}

pub struct LayoutEdge {
    pub from: usize,
    pub to: usize,
    pub labeled: bool,
}

const GAP_PLAIN: f64 = 34.0;
const GAP_LABELED: f64 = 78.0;
const VGAP: f64 = 16.0;
const VGAP_DUMMY: f64 = 8.0;
const DUMMY_H: f64 = 2.0;

/// Lay out nodes of the given (width, height) joined by `edges`. Node indices order ties, so
/// callers pass nodes in a meaningful, deterministic order.
pub fn layout(sizes: &[(f64, f64)], edges: &[LayoutEdge]) -> Layout {
    let n = sizes.len();
    if n == 0 {
        return Layout {
            nodes: Vec::new(),
            edges: Vec::new(),
            width: 0.0,
            height: 0.0,
            crossings: 0,
        };
    }
    // --- 1. Break cycles: edges to a node on the depth-first stack are turned round.
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        if e.from != e.to {
            out[e.from].push(e.to);
        }
    }
    for o in &mut out {
        o.sort_unstable();
        o.dedup();
    }
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut back: BTreeSet<(usize, usize)> = BTreeSet::new();
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(top) = stack.last_mut() {
            let v = top.0;
            if let Some(&w) = out[v].get(top.1) {
                top.1 += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => {
                        back.insert((v, w));
                    }
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    // Layout direction of every (non-loop) edge.
    let dag_edge = |e: &LayoutEdge| -> (usize, usize, bool) {
        if back.contains(&(e.from, e.to)) {
            (e.to, e.from, true)
        } else {
            (e.from, e.to, false)
        }
    };
    let mut succ: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut pred: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for e in edges.iter().filter(|e| e.from != e.to) {
        let (a, b, _) = dag_edge(e);
        succ[a].insert(b);
        pred[b].insert(a);
    }

    // --- 2. Longest-path layering (Kahn's order, smallest index first), sources pulled right.
    let mut indeg: Vec<usize> = pred.iter().map(|p| p.len()).collect();
    let mut heap: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&v| indeg[v] == 0).map(Reverse).collect();
    let mut topo = Vec::with_capacity(n);
    while let Some(Reverse(v)) = heap.pop() {
        topo.push(v);
        for &w in &succ[v] {
            indeg[w] -= 1;
            if indeg[w] == 0 {
                heap.push(Reverse(w));
            }
        }
    }
    debug_assert_eq!(topo.len(), n, "cycles were broken");
    let mut layer = vec![0usize; n];
    for &v in &topo {
        for &w in &succ[v] {
            layer[w] = layer[w].max(layer[v] + 1);
        }
    }
    for &v in topo.iter().rev() {
        if pred[v].is_empty() {
            if let Some(m) = succ[v].iter().map(|&w| layer[w]).min() {
                layer[v] = m - 1;
            }
        }
    }

    // --- 3. Dummy nodes for long edges; chains in layout direction.
    let mut lsize: Vec<(f64, f64)> = sizes.to_vec();
    let mut is_dummy = vec![false; n];
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    let mut reversed_flags = Vec::with_capacity(edges.len());
    for e in edges {
        if e.from == e.to {
            chains.push(vec![e.from]);
            reversed_flags.push(false);
            continue;
        }
        let (a, b, rev) = dag_edge(e);
        let mut chain = vec![a];
        for l in layer[a] + 1..layer[b] {
            let d = lsize.len();
            lsize.push((0.0, DUMMY_H));
            is_dummy.push(true);
            layer.push(l);
            chain.push(d);
        }
        chain.push(b);
        chains.push(chain);
        reversed_flags.push(rev);
    }
    let total = lsize.len();
    let layer_count = layer.iter().max().map_or(0, |m| m + 1);
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); total];
    for chain in &chains {
        for pair in chain.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
    }

    // --- 4. Order within layers.
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    // Initial order: breadth-first from the first layer in index order, so connected nodes
    // start close together.
    {
        let mut placed = vec![false; total];
        let mut seeds: Vec<usize> = (0..total).collect();
        seeds.sort_by_key(|&v| (layer[v], v));
        for s in seeds {
            if placed[s] {
                continue;
            }
            let mut queue = std::collections::VecDeque::from([s]);
            placed[s] = true;
            while let Some(v) = queue.pop_front() {
                layers[layer[v]].push(v);
                for &w in down[v].iter().chain(up[v].iter()) {
                    if !placed[w] {
                        placed[w] = true;
                        queue.push_back(w);
                    }
                }
            }
        }
    }
    let mut pos = vec![0usize; total];
    let index_positions = |layers: &Vec<Vec<usize>>, pos: &mut Vec<usize>| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    index_positions(&layers, &mut pos);
    let crossings_between = |upper: &[usize], pos: &[usize]| -> usize {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &a in upper {
            for &b in &down[a] {
                pairs.push((pos[a], pos[b]));
            }
        }
        let mut c = 0;
        for i in 0..pairs.len() {
            for j in i + 1..pairs.len() {
                let (a1, b1) = pairs[i];
                let (a2, b2) = pairs[j];
                if (a1 < a2 && b1 > b2) || (a1 > a2 && b1 < b2) {
                    c += 1;
                }
            }
        }
        c
    };
    let total_crossings = |layers: &Vec<Vec<usize>>, pos: &[usize]| -> usize {
        layers.iter().map(|l| crossings_between(l, pos)).sum()
    };
    let mut best = layers.clone();
    let mut best_c = total_crossings(&layers, &pos);
    for sweep in 0..12 {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> = if downward {
            (1..layer_count).collect()
        } else {
            (0..layer_count.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let nbrs = if downward { &up } else { &down };
            let mut keyed: Vec<(f64, usize, usize)> = layers[l]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let ns = &nbrs[v];
                    let b = if ns.is_empty() {
                        i as f64
                    } else {
                        ns.iter().map(|&w| pos[w] as f64).sum::<f64>() / ns.len() as f64
                    };
                    (b, i, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            layers[l] = keyed.into_iter().map(|k| k.2).collect();
            for (i, &v) in layers[l].iter().enumerate() {
                pos[v] = i;
            }
        }
        let c = total_crossings(&layers, &pos);
        if c < best_c {
            best_c = c;
            best = layers.clone();
        }
    }
    layers = best;
    index_positions(&layers, &mut pos);
    // Adjacent exchanges while they remove crossings.
    let pair_crossings = |u: usize, v: usize, pos: &[usize]| -> usize {
        // Crossings among edges of u and v when u is above v.
        let mut c = 0;
        for nbrs in [&up, &down] {
            for &x in &nbrs[u] {
                for &y in &nbrs[v] {
                    if pos[x] > pos[y] {
                        c += 1;
                    }
                }
            }
        }
        c
    };
    for _ in 0..8 {
        let mut improved = false;
        for layer in layers.iter_mut() {
            for i in 0..layer.len().saturating_sub(1) {
                let (u, v) = (layer[i], layer[i + 1]);
                if pair_crossings(v, u, &pos) < pair_crossings(u, v, &pos) {
                    layer.swap(i, i + 1);
                    pos[u] = i + 1;
                    pos[v] = i;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    let crossings = total_crossings(&layers, &pos);

    // --- 5. Vertical positions.
    let sep = |a: usize, b: usize| -> f64 {
        let gap = if is_dummy[a] || is_dummy[b] {
            VGAP_DUMMY
        } else {
            VGAP
        };
        lsize[a].1 / 2.0 + gap + lsize[b].1 / 2.0
    };
    let mut y = vec![0.0f64; total];
    let tallest = layers
        .iter()
        .map(|l| stack_height(l, &lsize, &sep))
        .fold(0.0, f64::max);
    for l in &layers {
        let hgt = stack_height(l, &lsize, &sep);
        let mut cur = (tallest - hgt) / 2.0;
        for (i, &v) in l.iter().enumerate() {
            if i == 0 {
                cur += lsize[v].1 / 2.0;
            } else {
                cur += sep(l[i - 1], v);
            }
            y[v] = cur;
        }
    }
    let place = |l: &[usize], desired: &[f64], y: &mut [f64]| {
        // z_i = y_i - offset_i must not decrease: isotonic regression of desired - offset.
        let mut offsets = Vec::with_capacity(l.len());
        let mut off = 0.0;
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                off += sep(l[i - 1], v);
            }
            offsets.push(off);
        }
        let targets: Vec<f64> = desired.iter().zip(&offsets).map(|(d, o)| d - o).collect();
        let z = isotonic(&targets);
        for (i, &v) in l.iter().enumerate() {
            y[v] = z[i] + offsets[i];
        }
    };
    for pass in 0..10 {
        let (range, use_up, use_down): (Vec<usize>, bool, bool) = match pass % 2 {
            0 => ((1..layer_count).collect(), true, false),
            _ => (
                (0..layer_count.saturating_sub(1)).rev().collect(),
                false,
                true,
            ),
        };
        let (use_up, use_down) = if pass == 9 {
            (true, true)
        } else {
            (use_up, use_down)
        };
        let range: Vec<usize> = if pass == 9 {
            (0..layer_count).collect()
        } else {
            range
        };
        for l in range {
            let desired: Vec<f64> = layers[l]
                .iter()
                .map(|&v| {
                    let mut ns: Vec<usize> = Vec::new();
                    if use_up {
                        ns.extend(&up[v]);
                    }
                    if use_down {
                        ns.extend(&down[v]);
                    }
                    if ns.is_empty() {
                        y[v]
                    } else {
                        ns.iter().map(|&w| y[w]).sum::<f64>() / ns.len() as f64
                    }
                })
                .collect();
            place(&layers[l], &desired, &mut y);
        }
    }
    let top = (0..total)
        .map(|v| y[v] - lsize[v].1 / 2.0)
        .fold(f64::INFINITY, f64::min);
    for v in y.iter_mut() {
        *v -= top;
    }
    let height = (0..total)
        .map(|v| y[v] + lsize[v].1 / 2.0)
        .fold(0.0, f64::max);

    // --- 6. Columns: width of the widest node; gaps wide enough for role labels.
    let mut col_w = vec![12.0f64; layer_count];
    for v in 0..total {
        col_w[layer[v]] = col_w[layer[v]].max(lsize[v].0);
    }
    let mut labeled_gap = vec![false; layer_count];
    for (k, e) in edges.iter().enumerate() {
        if !e.labeled || e.from == e.to {
            continue;
        }
        // The segment touching the (original) target carries the label.
        let chain = &chains[k];
        let gap = if reversed_flags[k] {
            layer[chain[0]]
        } else {
            layer[chain[chain.len() - 2]]
        };
        labeled_gap[gap] = true;
    }
    let mut col_x = vec![0.0f64; layer_count];
    let mut x = 0.0;
    for l in 0..layer_count {
        col_x[l] = x;
        x += col_w[l];
        if l + 1 < layer_count {
            x += if labeled_gap[l] {
                GAP_LABELED
            } else {
                GAP_PLAIN
            };
        }
    }
    let width = x;
    let cx = |v: usize| col_x[layer[v]] + col_w[layer[v]] / 2.0;
    let exit = |v: usize| -> Point {
        if is_dummy[v] {
            Point {
                x: col_x[layer[v]] + col_w[layer[v]],
                y: y[v],
            }
        } else {
            Point {
                x: cx(v) + lsize[v].0 / 2.0,
                y: y[v],
            }
        }
    };
    let entry = |v: usize| -> Point {
        if is_dummy[v] {
            Point {
                x: col_x[layer[v]],
                y: y[v],
            }
        } else {
            Point {
                x: cx(v) - lsize[v].0 / 2.0,
                y: y[v],
            }
        }
    };

    // --- 7. Routes.
    let mut routed = Vec::with_capacity(edges.len());
    for (k, e) in edges.iter().enumerate() {
        if e.from == e.to {
            let v = e.from;
            let p = Point {
                x: cx(v) + lsize[v].0 / 2.0 - 14.0,
                y: y[v] - lsize[v].1 / 2.0,
            };
            let q = Point {
                x: p.x - 18.0,
                y: p.y,
            };
            routed.push(Routed {
                segs: vec![Seg::Curve(p, q)],
                label_at: Point {
                    x: p.x - 9.0,
                    y: p.y - 16.0,
                },
                reversed: false,
                self_loop: true,
            });
            continue;
        }
        let chain = &chains[k];
        let mut segs = Vec::new();
        for (i, pair) in chain.windows(2).enumerate() {
            if i > 0 {
                let d = pair[0];
                segs.push(Seg::Line(entry(d), exit(d)));
            }
            segs.push(Seg::Curve(exit(pair[0]), entry(pair[1])));
        }
        let rev = reversed_flags[k];
        if rev {
            segs.reverse();
            for s in &mut segs {
                *s = match *s {
                    Seg::Curve(a, b) => Seg::Curve(b, a),
                    Seg::Line(a, b) => Seg::Line(b, a),
                };
            }
        }
        let label_seg = *segs.last().expect("an edge has a segment");
        let label_at = match label_seg {
            Seg::Curve(a, b) | Seg::Line(a, b) => Point {
                x: (a.x + b.x) / 2.0,
                y: (a.y + b.y) / 2.0,
            },
        };
        routed.push(Routed {
            segs,
            label_at,
            reversed: rev,
            self_loop: false,
        });
    }

    let nodes = (0..n)
        .map(|v| PlacedNode {
            layer: layer[v],
            order: pos[v],
            cx: cx(v),
            cy: y[v],
            w: sizes[v].0,
            h: sizes[v].1,
        })
        .collect();
    Layout {
        nodes,
        edges: routed,
        width,
        height,
        crossings,
    }
}

fn stack_height(l: &[usize], size: &[(f64, f64)], sep: &dyn Fn(usize, usize) -> f64) -> f64 {
    let mut h = 0.0;
    for (i, &v) in l.iter().enumerate() {
        if i == 0 {
            h += size[v].1 / 2.0;
        } else {
            h += sep(l[i - 1], v);
        }
        if i + 1 == l.len() {
            h += size[v].1 / 2.0;
        }
    }
    h
}

/// Least-squares non-decreasing fit (pool adjacent violators).
fn isotonic(targets: &[f64]) -> Vec<f64> {
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(targets.len());
    for &t in targets {
        blocks.push((t, 1));
        while blocks.len() >= 2 {
            let (m2, c2) = blocks[blocks.len() - 1];
            let (m1, c1) = blocks[blocks.len() - 2];
            if m1 <= m2 {
                break;
            }
            blocks.pop();
            let last = blocks.last_mut().expect("two blocks");
            *last = (
                (m1 * c1 as f64 + m2 * c2 as f64) / (c1 + c2) as f64,
                c1 + c2,
            );
        }
    }
    blocks
        .into_iter()
        .flat_map(|(m, c)| std::iter::repeat_n(m, c))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The picture.

/// (fill, stroke) of an artifact kind.
pub fn kind_colours(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "dataset" => ("#e3f2fd", "#1e88e5"),
        "synthetic_dataset" => ("#ede7f6", "#7e57c2"),
        "checkpoint" => ("#e8f5e9", "#43a047"),
        "external_model" => ("#fff3e0", "#ef6c00"),
        "run" => ("#eceff1", "#78909c"),
        "other" => ("#f5f5f5", "#9e9e9e"),
        _ => ("#fafafa", "#9e9e9e"),
    }
}

const KIND_ORDER: &[&str] = &[
    "external_model",
    "checkpoint",
    "dataset",
    "synthetic_dataset",
    "other",
];

struct Shown {
    id: String,
    is_run: bool,
    kind: String,
    label: String,
    tooltip: String,
}

fn f1(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn pt(p: Point) -> String {
    format!("{},{}", f1(p.x), f1(p.y))
}

fn path_d(segs: &[Seg]) -> String {
    let mut d = String::new();
    for (i, s) in segs.iter().enumerate() {
        let (a, b) = match *s {
            Seg::Curve(a, b) | Seg::Line(a, b) => (a, b),
        };
        if i == 0 {
            let _ = write!(d, "M{}", pt(a));
        }
        match *s {
            Seg::Line(_, _) => {
                let _ = write!(d, " L{}", pt(b));
            }
            Seg::Curve(_, _) => {
                let dx = ((b.x - a.x) / 2.0).abs().max(24.0);
                let dir = if b.x >= a.x { 1.0 } else { -1.0 };
                let c1 = Point {
                    x: a.x + dir * dx,
                    y: a.y,
                };
                let c2 = Point {
                    x: b.x - dir * dx,
                    y: b.y,
                };
                let _ = write!(d, " C{} {} {}", pt(c1), pt(c2), pt(b));
            }
        }
    }
    d
}

/// Tooltip and label of one node.
fn describe(input: &ExportInput, id: &str, findings: &[&Finding]) -> Shown {
    let mut tip = String::new();
    let shown = if let Some(r) = input.view.runs.get(id) {
        let _ = writeln!(
            tip,
            "run {} \"{}\"",
            r.kind,
            r.name.as_deref().unwrap_or("")
        );
        let _ = writeln!(tip, "{}", r.id);
        let _ = write!(tip, "status: {}", r.status);
        if let Some(t) = r.started_at {
            let _ = write!(tip, "\nstarted {}", t.format("%Y-%m-%d %H:%M UTC"));
        }
        Shown {
            id: id.to_string(),
            is_run: true,
            kind: r.kind.to_string(),
            // The kind is written above the pill: "generate chat-pairs" shows as "chat-pairs".
            label: match r.name.as_deref() {
                Some(n) => super::markdown::short_run_name(r.kind.as_str(), n),
                None => r.kind.to_string(),
            },
            tooltip: tip,
        }
    } else if let Some(a) = input.view.artifacts.get(id) {
        let _ = writeln!(tip, "{} {}", a.kind, a.label());
        let _ = write!(tip, "{}", a.id);
        if a.names.len() > 1 {
            let _ = write!(
                tip,
                "\nnames: {}",
                a.names.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        for c in &a.license_claims {
            let v = c
                .license_version
                .as_deref()
                .map(|v| format!("@{v}"))
                .unwrap_or_default();
            let _ = write!(
                tip,
                "\nlicense: {}{v} ({}, {})",
                c.license_id, c.source, c.confidence
            );
        }
        if a.license_claims.is_empty() {
            tip.push_str("\nlicense: none recorded");
        }
        let at = input.view.as_of.unwrap_or(input.generated_at);
        if a.kind == crate::records::ArtifactKind::Checkpoint || !a.releases.is_empty() {
            let _ = write!(tip, "\ndistribution: {}", a.distribution_at(at));
        }
        Shown {
            id: id.to_string(),
            is_run: false,
            kind: a.kind.to_string(),
            label: a.label(),
            tooltip: tip,
        }
    } else {
        let _ = write!(tip, "unrecorded artifact\n{id}\nno record describes it");
        Shown {
            id: id.to_string(),
            is_run: false,
            kind: "unrecorded".into(),
            label: short_id(id),
            tooltip: tip,
        }
    };
    let mut shown = shown;
    for f in findings {
        let on_path = f.path.iter().any(|s| s.id == id) || f.target.as_deref() == Some(id);
        if on_path && mark_of(f).is_some() {
            let state = if f.status == Status::Waived {
                "waived "
            } else {
                ""
            };
            let _ = write!(
                shown.tooltip,
                "\n{state}{}[{}] {}",
                f.severity.as_str(),
                f.code,
                f.name
            );
        }
    }
    shown
}

const ART_H: f64 = 42.0;
const RUN_H: f64 = 38.0;
const PILL_H: f64 = 22.0;
const ART_MIN_W: f64 = 104.0;
const ART_MAX_W: f64 = 164.0;
const RUN_MIN_W: f64 = 64.0;
const RUN_MAX_W: f64 = 126.0;

fn node_size(s: &Shown) -> (f64, f64) {
    if s.is_run {
        let w = (text_width(&s.label, 11.0) + 22.0).clamp(RUN_MIN_W, RUN_MAX_W);
        (w, RUN_H)
    } else {
        let w = (bold_width(&s.label, 12.5).max(text_width(&s.kind, 10.0)) + 22.0)
            .clamp(ART_MIN_W, ART_MAX_W);
        (w, ART_H)
    }
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn overlap(&self, o: &Rect) -> f64 {
        let w = self.x1.min(o.x1) - self.x0.max(o.x0);
        let h = self.y1.min(o.y1) - self.y0.max(o.y0);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
}

fn label_box(at: Point, w: f64) -> Rect {
    Rect {
        x0: at.x - w / 2.0,
        y0: at.y - 6.5,
        x1: at.x + w / 2.0,
        y1: at.y + 6.5,
    }
}

/// The point at `t` of a segment as [`path_d`] draws it.
fn seg_point(seg: Seg, t: f64) -> Point {
    match seg {
        Seg::Line(a, b) => Point {
            x: a.x + (b.x - a.x) * t,
            y: a.y + (b.y - a.y) * t,
        },
        Seg::Curve(a, b) => {
            let dx = ((b.x - a.x) / 2.0).abs().max(24.0);
            let dir = if b.x >= a.x { 1.0 } else { -1.0 };
            let (c1, c2) = (
                Point {
                    x: a.x + dir * dx,
                    y: a.y,
                },
                Point {
                    x: b.x - dir * dx,
                    y: b.y,
                },
            );
            let u = 1.0 - t;
            let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
            Point {
                x: k0 * a.x + k1 * c1.x + k2 * c2.x + k3 * b.x,
                y: k0 * a.y + k1 * c1.y + k2 * c2.y + k3 * b.y,
            }
        }
    }
}

/// Where an edge's role label goes: along the segment entering the run, the first spot from
/// the middle outwards that no other label or node covers (else the least covered one).
fn place_label(edge: &Routed, w: f64, placed: &[Rect], nodes: &[Rect]) -> Point {
    let Some(&seg) = edge.segs.last() else {
        return edge.label_at;
    };
    if edge.self_loop {
        return edge.label_at;
    }
    let mut best = (f64::INFINITY, edge.label_at);
    for t in [0.5, 0.38, 0.62, 0.27, 0.73, 0.17, 0.83] {
        let at = seg_point(seg, t);
        let b = label_box(at, w);
        let cost: f64 = placed.iter().map(|r| r.overlap(&b)).sum::<f64>() * 2.0
            + nodes.iter().map(|r| r.overlap(&b)).sum::<f64>();
        if cost < best.0 {
            best = (cost, at);
        }
        if cost == 0.0 {
            break;
        }
    }
    best.1
}

/// The SVG picture of the lineage in scope.
pub fn render(input: &ExportInput) -> String {
    render_sized(input).0
}

/// The picture with its width and height in pixels.
pub fn render_sized(input: &ExportInput) -> (String, f64, f64) {
    let findings: Vec<&Finding> = input.findings().collect();
    let hl = Highlights::of(&findings);

    // Which nodes: everything in scope, or (above the cap) finding paths, targets and root.
    let in_graph: Vec<&String> = input
        .scope
        .iter()
        .filter(|id| input.graph.node(id).is_some())
        .collect();
    let total_nodes = in_graph.len();
    let capped = total_nodes > MAX_NODES;
    let keep: BTreeSet<String> = if capped {
        let mut k: BTreeSet<String> = BTreeSet::new();
        for f in &findings {
            k.extend(f.path.iter().map(|s| s.id.clone()));
            k.extend(f.target.clone());
        }
        k.extend(input.root.clone());
        k.retain(|id| input.scope.contains(id) && input.graph.node(id).is_some());
        k
    } else {
        in_graph.iter().map(|s| s.to_string()).collect()
    };

    let mut shown: Vec<Shown> = keep
        .iter()
        .map(|id| describe(input, id, &findings))
        .collect();
    // A meaningful, deterministic order: artifacts by kind and name, then runs by name.
    let rank = |s: &Shown| -> usize {
        if s.is_run {
            KIND_ORDER.len() + 1
        } else {
            KIND_ORDER
                .iter()
                .position(|k| *k == s.kind)
                .unwrap_or(KIND_ORDER.len())
        }
    };
    shown.sort_by(|a, b| (rank(a), &a.label, &a.id).cmp(&(rank(b), &b.label, &b.id)));
    let index: BTreeMap<&str, usize> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();

    // Edges between shown nodes, in a deterministic order.
    let mut graph_edges: Vec<(usize, usize, Option<Role>)> = Vec::new();
    for e in input.graph.graph.edge_references() {
        let (a, b) = (input.graph.id(e.source()), input.graph.id(e.target()));
        if let (Some(&ia), Some(&ib)) = (index.get(a), index.get(b)) {
            let role = match e.weight() {
                Edge::Input(r) => Some(*r),
                Edge::Output => None,
            };
            graph_edges.push((ia, ib, role));
        }
    }
    graph_edges.sort();
    graph_edges.dedup();

    let sizes: Vec<(f64, f64)> = shown.iter().map(node_size).collect();
    let lay_edges: Vec<LayoutEdge> = graph_edges
        .iter()
        .map(|&(a, b, r)| LayoutEdge {
            from: a,
            to: b,
            labeled: r.is_some(),
        })
        .collect();
    let lay = layout(&sizes, &lay_edges);

    // --- Header: title, note, legend.
    let margin = 18.0;
    let artifacts = shown.iter().filter(|s| !s.is_run).count();
    let runs = shown.len() - artifacts;
    let root_label = input.root.as_deref().map(|r| {
        shown
            .iter()
            .find(|s| s.id == r)
            .map(|s| s.label.clone())
            .unwrap_or_else(|| short_id(r))
    });
    let title = match &root_label {
        Some(l) => format!("Lineage of {l}"),
        None => "Lineage of the whole store".to_string(),
    };
    let subtitle = format!(
        "{artifacts} artifacts, {runs} runs · data flows left to right · hover a node for ids and licenses"
    );
    let note = capped.then(|| {
        format!(
            "{total_nodes} nodes in scope are too many to draw: showing only the {} on finding paths, their targets and the root",
            shown.len()
        )
    });
    let legend: Vec<(&str, &str, &str)> = vec![
        ("external model", "external_model", "box"),
        ("checkpoint", "checkpoint", "box"),
        ("dataset", "dataset", "box"),
        ("synthetic dataset", "synthetic_dataset", "box"),
        ("other", "other", "box"),
        ("run", "run", "pill"),
        (
            "restricted path (active error or warning)",
            RESTRICTED,
            "line",
        ),
        ("waived", WAIVED, "dashed"),
    ];
    let legend_widths: Vec<f64> = legend
        .iter()
        .map(|(t, _, _)| 30.0 + text_width(t, 11.0) + 18.0)
        .collect();
    let content_w = lay.width.max(560.0);
    let mut legend_rows: Vec<Vec<usize>> = vec![Vec::new()];
    let mut row_w = 0.0;
    for (i, w) in legend_widths.iter().enumerate() {
        if row_w + w > content_w && !legend_rows.last().expect("a row").is_empty() {
            legend_rows.push(Vec::new());
            row_w = 0.0;
        }
        legend_rows.last_mut().expect("a row").push(i);
        row_w += w;
    }
    let mut header_h = 50.0 + legend_rows.len() as f64 * 20.0 + 8.0;
    if note.is_some() {
        header_h += 18.0;
    }
    let graph_top = header_h + 14.0;
    let width = (content_w + 2.0 * margin).ceil();
    let height = (graph_top + lay.height + margin).ceil();
    let ox = margin + (content_w - lay.width) / 2.0;
    let oy = graph_top;
    let shift = |p: Point| Point {
        x: p.x + ox,
        y: p.y + oy,
    };

    let mut s = String::with_capacity(64 * 1024);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="mlprov-lineage" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="mlprov-lineage-title" font-family="{font}" font-size="12">"#,
        w = f1(width),
        h = f1(height),
        font = escape(FONT)
    );
    let _ = writeln!(
        s,
        r#"<title id="mlprov-lineage-title">{}</title>"#,
        escape(&format!("{title}: {subtitle}"))
    );
    s.push_str("<defs>\n");
    for (name, colour, size) in [
        ("edge", EDGE, 8),
        ("restricted", RESTRICTED, 10),
        ("waived", WAIVED, 9),
    ] {
        let _ = writeln!(
            s,
            r#"<marker id="mlprov-arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="{size}" markerHeight="{size}" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        );
    }
    s.push_str("</defs>\n");
    let _ = writeln!(
        s,
        r##"<rect class="background" x="0" y="0" width="{}" height="{}" fill="#ffffff"/>"##,
        f1(width),
        f1(height)
    );

    // Header.
    let _ = writeln!(
        s,
        r#"<text class="heading" x="{}" y="30" font-size="17" font-weight="700" fill="{TEXT}">{}</text>"#,
        f1(margin),
        escape(&title)
    );
    let _ = writeln!(
        s,
        r#"<text class="subtitle" x="{}" y="48" font-size="11.5" fill="{MUTED_TEXT}">{}</text>"#,
        f1(margin),
        escape(&subtitle)
    );
    let mut ly = 68.0;
    if let Some(note) = &note {
        let _ = writeln!(
            s,
            r#"<text class="cap-note" x="{}" y="{}" font-size="12" font-style="italic" fill="{RESTRICTED}">{}</text>"#,
            f1(margin),
            f1(ly - 2.0),
            escape(note)
        );
        ly += 18.0;
    }
    s.push_str("<g class=\"legend\">\n");
    for row in &legend_rows {
        let mut lx = margin;
        for &i in row {
            let (text, key, shape) = legend[i];
            match shape {
                "box" | "pill" => {
                    let (fill, stroke) = kind_colours(key);
                    let rx = if shape == "pill" { 6.0 } else { 3.0 };
                    let _ = write!(
                        s,
                        r#"<rect x="{}" y="{}" width="22" height="12" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>"#,
                        f1(lx),
                        f1(ly - 10.0)
                    );
                }
                _ => {
                    let dash = if shape == "dashed" {
                        r#" stroke-dasharray="5 3""#
                    } else {
                        ""
                    };
                    let _ = write!(
                        s,
                        r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="{key}" stroke-width="2.6"{dash}/>"#,
                        f1(lx),
                        f1(lx + 22.0),
                        y = f1(ly - 4.0)
                    );
                }
            }
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="11" fill="{TEXT}">{}</text>"#,
                f1(lx + 28.0),
                f1(ly),
                escape(text)
            );
            lx += legend_widths[i];
        }
        ly += 20.0;
    }
    s.push_str("</g>\n");

    // Edges: plain ones first, highlighted on top.
    let mut edge_marks: Vec<Option<Mark>> = Vec::with_capacity(graph_edges.len());
    for &(a, b, role) in &graph_edges {
        edge_marks.push(hl.edge(&shown[a].id, &shown[b].id, role));
    }
    let mut draw_order: Vec<usize> = (0..graph_edges.len()).collect();
    draw_order.sort_by_key(|&k| match edge_marks[k] {
        None => 0,
        Some(Mark::Waived) => 1,
        Some(Mark::Restricted) => 2,
    });
    s.push_str("<g class=\"edges\" fill=\"none\">\n");
    for &k in &draw_order {
        let (a, b, role) = graph_edges[k];
        let r = &lay.edges[k];
        let segs: Vec<Seg> = r
            .segs
            .iter()
            .map(|sg| match *sg {
                Seg::Curve(p, q) => Seg::Curve(shift(p), shift(q)),
                Seg::Line(p, q) => Seg::Line(shift(p), shift(q)),
            })
            .collect();
        let d = if r.self_loop {
            if let Seg::Curve(p, q) = segs[0] {
                format!(
                    "M{} C{} {} {}",
                    pt(p),
                    pt(Point {
                        x: p.x,
                        y: p.y - 26.0
                    }),
                    pt(Point {
                        x: q.x,
                        y: q.y - 26.0
                    }),
                    pt(q)
                )
            } else {
                String::new()
            }
        } else {
            path_d(&segs)
        };
        let (class, colour, width, marker, dash) = match edge_marks[k] {
            Some(Mark::Restricted) => ("edge restricted", RESTRICTED, 2.6, "restricted", ""),
            Some(Mark::Waived) => (
                "edge waived",
                WAIVED,
                2.2,
                "waived",
                r#" stroke-dasharray="6 4""#,
            ),
            None => ("edge", EDGE, 1.3, "edge", ""),
        };
        let dash = if r.reversed && dash.is_empty() {
            r#" stroke-dasharray="3 3""#
        } else {
            dash
        };
        let tip = format!(
            "{} → {}{}{}",
            shown[a].label,
            shown[b].label,
            role.map(|r| format!(" ({r})"))
                .unwrap_or_else(|| " (output)".into()),
            if r.reversed {
                " — closes a cycle"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            r#"<path class="{class}" data-from="{}" data-to="{}" d="{d}" stroke="{colour}" stroke-width="{width}"{dash} marker-end="url(#mlprov-arrow-{marker})"><title>{}</title></path>"#,
            escape(&shown[a].id),
            escape(&shown[b].id),
            escape(&tip)
        );
    }
    s.push_str("</g>\n<g class=\"edge-labels\" font-size=\"10\" text-anchor=\"middle\">\n");
    // Labels of highlighted edges are placed first, so they get the middle of their curve.
    let mut label_order: Vec<usize> = draw_order
        .iter()
        .copied()
        .filter(|&k| graph_edges[k].2.is_some())
        .collect();
    label_order.reverse();
    let obstacles: Vec<Rect> = lay
        .nodes
        .iter()
        .map(|p| Rect {
            x0: p.cx - p.w / 2.0,
            y0: p.cy - p.h / 2.0,
            x1: p.cx + p.w / 2.0,
            y1: p.cy + p.h / 2.0,
        })
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    let mut labels: Vec<(usize, Point)> = Vec::new();
    for &k in &label_order {
        let role = graph_edges[k].2.expect("labelled edges have roles");
        let bold = edge_marks[k] == Some(Mark::Restricted);
        let w = if bold {
            bold_width(role.as_str(), 10.0)
        } else {
            text_width(role.as_str(), 10.0)
        } + 4.0;
        let at = place_label(&lay.edges[k], w, &placed, &obstacles);
        placed.push(label_box(at, w));
        labels.push((k, at));
    }
    labels.sort_by_key(|(k, _)| draw_order.iter().position(|d| d == k));
    for (k, at) in labels {
        let role = graph_edges[k].2.expect("labelled edges have roles");
        let at = shift(at);
        let colour = match edge_marks[k] {
            Some(Mark::Restricted) => RESTRICTED,
            Some(Mark::Waived) => WAIVED,
            None => MUTED_TEXT,
        };
        let weight = if edge_marks[k] == Some(Mark::Restricted) {
            r#" font-weight="700""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="{colour}"{weight} stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" paint-order="stroke">{}</text>"##,
            f1(at.x),
            f1(at.y + 3.5),
            escape(role.as_str())
        );
    }
    s.push_str("</g>\n<g class=\"nodes\">\n");

    // Nodes.
    for (i, node) in shown.iter().enumerate() {
        let p = &lay.nodes[i];
        let (cx, cy) = (p.cx + ox, p.cy + oy);
        let mark = hl.node(&node.id);
        let is_root = input.root.as_deref() == Some(node.id.as_str());
        let mut class = String::from("node");
        class.push_str(if node.is_run { " run" } else { " artifact" });
        match mark {
            Some(Mark::Restricted) => class.push_str(" restricted"),
            Some(Mark::Waived) => class.push_str(" waived"),
            None => {}
        }
        if is_root {
            class.push_str(" root");
        }
        let _ = writeln!(
            s,
            r#"<g class="{class}" data-id="{}" data-kind="{}"><title>{}</title>"#,
            escape(&node.id),
            escape(&node.kind),
            escape(&node.tooltip)
        );
        let (fill, base_stroke) = kind_colours(if node.is_run { "run" } else { &node.kind });
        let (stroke, sw) = match mark {
            Some(Mark::Restricted) => (RESTRICTED, 2.6),
            Some(Mark::Waived) => (WAIVED, 2.2),
            None if is_root => (TEXT, 2.4),
            None => (base_stroke, 1.3),
        };
        let dash = match (mark, node.kind.as_str()) {
            (Some(Mark::Waived), _) => r#" stroke-dasharray="6 4""#,
            (None, "unrecorded") => r#" stroke-dasharray="4 3""#,
            _ => "",
        };
        if node.is_run {
            let top = cy - p.h / 2.0;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="9.5" text-anchor="middle" fill="{MUTED_TEXT}">{}</text>"#,
                f1(cx),
                f1(top + 9.0),
                escape(&node.kind)
            );
            let py = top + p.h - PILL_H;
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{PILL_H}" rx="{}" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
                f1(cx - p.w / 2.0),
                f1(py),
                f1(p.w),
                f1(PILL_H / 2.0)
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{TEXT}">{}</text>"#,
                f1(cx),
                f1(py + 15.0),
                escape(&fit(&node.label, 11.0, p.w - 16.0, false))
            );
        } else {
            let (x0, y0) = (cx - p.w / 2.0, cy - p.h / 2.0);
            let fill = if mark == Some(Mark::Restricted) {
                "#ffebee"
            } else {
                fill
            };
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash}/>"#,
                f1(x0),
                f1(y0),
                f1(p.w),
                f1(p.h)
            );
            let kind_text = node.kind.replace('_', " ");
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="10" fill="{MUTED_TEXT}">{}</text>"#,
                f1(x0 + 10.0),
                f1(y0 + 15.0),
                escape(&kind_text)
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" font-size="12.5" font-weight="600" fill="{TEXT}">{}</text>"#,
                f1(x0 + 10.0),
                f1(y0 + 32.0),
                escape(&fit(&node.label, 12.5, p.w - 20.0, true))
            );
            if let Some(codes) = hl.badges.get(&node.id) {
                let restricted: Vec<&str> = codes
                    .iter()
                    .filter(|c| c.0 == Mark::Restricted)
                    .map(|c| c.1)
                    .collect();
                let waived: Vec<&str> = codes
                    .iter()
                    .filter(|c| c.0 == Mark::Waived && !restricted.contains(&c.1))
                    .map(|c| c.1)
                    .collect();
                let mut text = restricted.join(" ");
                if !waived.is_empty() {
                    if !text.is_empty() {
                        text.push_str(" · ");
                    }
                    let _ = write!(text, "{} waived", waived.join(" "));
                }
                let colour = if restricted.is_empty() {
                    WAIVED
                } else {
                    RESTRICTED
                };
                let bw = bold_width(&text, 10.0) + 14.0;
                let bx = x0 + p.w - bw + 6.0;
                let by = y0 - 9.0;
                let _ = writeln!(
                    s,
                    r##"<g class="badge"><rect x="{}" y="{}" width="{}" height="16" rx="8" fill="{colour}"/><text x="{}" y="{}" font-size="10" font-weight="700" text-anchor="middle" fill="#ffffff">{}</text></g>"##,
                    f1(bx),
                    f1(by),
                    f1(bw),
                    f1(bx + bw / 2.0),
                    f1(by + 11.5),
                    escape(&text)
                );
            }
        }
        s.push_str("</g>\n");
    }
    s.push_str("</g>\n</svg>\n");
    (s, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: usize, to: usize) -> LayoutEdge {
        LayoutEdge {
            from,
            to,
            labeled: false,
        }
    }

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"<a href="x">&'b'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;b&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{1}b\nc"), "a\u{fffd}b\nc");
    }

    #[test]
    fn fit_shortens_with_an_ellipsis() {
        assert_eq!(fit("short", 12.0, 200.0, false), "short");
        let long = fit(&"x".repeat(100), 12.0, 100.0, true);
        assert!(
            long.ends_with('…') && bold_width(&long, 12.0) <= 100.0 + 0.01,
            "{long}"
        );
    }

    #[test]
    fn layers_follow_data_flow_and_pull_sources_right() {
        // 0 -> 1 -> 2 -> 3 ; 4 -> 3 (a source that feeds only the last node)
        let sizes = vec![(100.0, 40.0); 5];
        let l = layout(&sizes, &[e(0, 1), e(1, 2), e(2, 3), e(4, 3)]);
        let layers: Vec<usize> = l.nodes.iter().map(|n| n.layer).collect();
        assert_eq!(layers, vec![0, 1, 2, 3, 2]);
        assert!(l.nodes[0].cx < l.nodes[1].cx && l.nodes[1].cx < l.nodes[3].cx);
    }

    #[test]
    fn barycenter_ordering_removes_avoidable_crossings() {
        // Two parallel chains given in crossing order: 0->3, 1->2 plus 2,3 each to their own sink.
        let sizes = vec![(80.0, 30.0); 6];
        let l = layout(&sizes, &[e(0, 3), e(1, 2), e(3, 4), e(2, 5)]);
        assert_eq!(l.crossings, 0);
        // A long edge gets dummies and still crosses nothing it need not.
        let sizes = vec![(80.0, 30.0); 5];
        let l = layout(&sizes, &[e(0, 1), e(1, 2), e(2, 3), e(0, 3), e(4, 2)]);
        assert_eq!(l.crossings, 0);
        assert_eq!(
            l.edges[3].segs.len(),
            5,
            "0->3 spans three layers: curve, line, curve, line, curve"
        );
    }

    #[test]
    fn nodes_in_a_layer_never_overlap() {
        // A fan: one source into many runs.
        let mut edges = Vec::new();
        for i in 1..12 {
            edges.push(e(0, i));
            edges.push(e(i, 12));
        }
        let sizes = vec![(120.0, 40.0); 13];
        let l = layout(&sizes, &edges);
        let mut layer1: Vec<&PlacedNode> = l.nodes.iter().filter(|n| n.layer == 1).collect();
        layer1.sort_by(|a, b| a.cy.total_cmp(&b.cy));
        for w in layer1.windows(2) {
            assert!(
                w[1].cy - w[0].cy >= 40.0 + VGAP - 1e-6,
                "{} {}",
                w[0].cy,
                w[1].cy
            );
        }
        // The hub sits in the middle of its fan.
        let mid = (layer1[0].cy + layer1[layer1.len() - 1].cy) / 2.0;
        assert!((l.nodes[0].cy - mid).abs() < 1.0);
    }

    #[test]
    fn cycles_are_laid_out_without_looping() {
        let sizes = vec![(80.0, 30.0); 3];
        let l = layout(&sizes, &[e(0, 1), e(1, 2), e(2, 0), e(1, 1)]);
        assert_eq!(l.nodes.len(), 3);
        assert!(l.edges[2].reversed);
        assert!(l.edges[3].self_loop);
    }

    #[test]
    fn layout_is_deterministic() {
        let mut edges = Vec::new();
        for i in 0..30usize {
            edges.push(e(i, (i * 7 + 3) % 31 + 31));
            edges.push(e((i * 5) % 31 + 31, 62 + i % 9));
        }
        let sizes: Vec<(f64, f64)> = (0..71)
            .map(|i| (60.0 + (i % 5) as f64 * 20.0, 30.0 + (i % 2) as f64 * 10.0))
            .collect();
        let a = layout(&sizes, &edges);
        let b = layout(&sizes, &edges);
        assert_eq!(a, b);
    }

    #[test]
    fn isotonic_pools_violators() {
        assert_eq!(isotonic(&[1.0, 3.0, 2.0, 4.0]), vec![1.0, 2.5, 2.5, 4.0]);
        assert_eq!(isotonic(&[3.0, 2.0, 1.0]), vec![2.0, 2.0, 2.0]);
    }

    /// The demo's whole store: highlighted L101 path, tooltips, deterministic bytes, and XML
    /// that a strict parser could read (checked in tests/report_formats.rs).
    #[test]
    fn demo_picture_highlights_restricted_paths() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let view = crate::view::View::build(&built.store.load().unwrap(), None);
        let policy = crate::policy::Policy::locate(None, &built.project).unwrap();
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let report = crate::audit::audit(&view, &catalog, &policy, &Default::default());
        let graph = crate::graph::LineageGraph::build(&view);
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let input = ExportInput::new(&view, &graph, &report, None, at);
        let svg = render(&input);
        assert_eq!(svg, render(&input), "deterministic");
        let l101 = report.findings.iter().find(|f| f.code == "L101").unwrap();
        for step in &l101.path {
            let needle = format!(
                r#"class="node {} restricted" data-id="{}""#,
                step.node_type,
                escape(&step.id)
            );
            let alt = format!(
                r#"class="node {} restricted root" data-id="{}""#,
                step.node_type,
                escape(&step.id)
            );
            assert!(
                svg.contains(&needle) || svg.contains(&alt),
                "{} not highlighted",
                step.label
            );
        }
        let first = &l101.path[0];
        let second = &l101.path[1];
        assert!(svg.contains(&format!(
            r#"<path class="edge restricted" data-from="{}" data-to="{}""#,
            escape(&first.id),
            escape(&second.id)
        )));
        assert!(
            svg.contains("class=\"edge waived\""),
            "the waived L104 path is muted"
        );
        assert!(svg.contains("<title>"));
        assert_eq!(svg.matches("<g class=\"node ").count(), input.scope.len());
    }

    /// Above the cap only finding paths (with their targets) and the root are drawn, and the
    /// picture says so.
    #[test]
    fn large_scopes_show_only_finding_paths() {
        use crate::audit::{AuditReport, PathStep, Summary};
        use crate::records::{
            id, ArtifactKind, ArtifactRecord, RunInput, RunKind, RunRecord, RunStatus,
        };
        let art = |i: usize| ArtifactRecord {
            name: Some(format!("d{i}")),
            ..ArtifactRecord::new(id::file(&format!("{i:064x}")), ArtifactKind::Dataset)
        };
        let run = |i: usize| RunRecord {
            record_id: format!("r{i}"),
            run_id: format!("run:00000000-0000-7000-8000-{i:012}"),
            kind: RunKind::Transform,
            name: Some(format!("step {i}")),
            status: RunStatus::Succeeded,
            started_at: None,
            ended_at: None,
            inputs: vec![RunInput {
                artifact_id: art(i).artifact_id,
                role: Role::Source,
            }],
            outputs: vec![art(i + 1).artifact_id],
            recorded_at: crate::records::now(),
            recorded_by: "t@h".into(),
        };
        let snap = crate::store::Snapshot {
            artifacts: (0..=260).map(art).collect(),
            runs: (0..260).map(run).collect(),
            ..Default::default()
        };
        let view = crate::view::View::build(&snap, None);
        let graph = crate::graph::LineageGraph::build(&view);
        let step = |id: String, node_type: &'static str, role| PathStep {
            label: id.clone(),
            id,
            node_type,
            kind: "x".into(),
            role,
        };
        let (d7, r7, d8) = (art(7).artifact_id, run(7).run_id, art(8).artifact_id);
        let finding = Finding {
            code: "L107",
            name: "unknown-license",
            severity: Severity::Warning,
            status: Status::Active,
            message: "m".into(),
            run: Some(r7.clone()),
            target: Some(d8.clone()),
            target_label: None,
            target_distribution: None,
            model: Some(d7.clone()),
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
            path: vec![
                step(d7.clone(), "artifact", Some(Role::Source)),
                step(r7.clone(), "run", None),
            ],
            waiver: None,
            notes: Vec::new(),
        };
        let report = AuditReport {
            schema: crate::audit::AUDIT_SCHEMA,
            verdict: "warn",
            as_of: None,
            policy: None,
            trust: Default::default(),
            summary: Summary::default(),
            findings: vec![finding],
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let root = art(200).artifact_id;
        let input = ExportInput::new(&view, &graph, &report, None, at);
        assert!(input.scope.len() > MAX_NODES);
        let svg = render(&input);
        assert_eq!(svg.matches("<g class=\"node ").count(), 3);
        assert!(svg.contains("class=\"cap-note\""));
        assert!(svg.contains(&format!(
            r#"<path class="edge restricted" data-from="{d7}" data-to="{r7}""#
        )));
        assert!(svg.contains(&format!(
            r#"<path class="edge restricted" data-from="{r7}" data-to="{d8}""#
        )));
        // With a root, the root is drawn too (its upstream is 401 nodes).
        let input = ExportInput::new(&view, &graph, &report, Some(root.clone()), at);
        assert!(input.scope.len() > MAX_NODES);
        let svg = render(&input);
        assert_eq!(svg.matches("<g class=\"node ").count(), 4);
        assert!(svg.contains(&format!(r#"root" data-id="{root}""#)));
    }
}
