//! The lineage index kept on local disk between commands, so a question about a large store
//! does not decode and intern every id again.
//!
//! The file is derived data: its name is a digest of the store's segment listing, so any
//! write or compaction (new segment names) makes it stale and the next load builds a fresh
//! one. It is written to a temporary name and renamed, carries a BLAKE3 checksum of its
//! bytes, and anything unreadable, stale or from another format version is ignored (the
//! index is rebuilt from the segments). `MLPROV_INDEX_CACHE=0` turns it off.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::{Arena, Csr, Interner, LineageIndex, ModelKey, NodeId};
use crate::progress::PhaseTimer;
use crate::records::{Channel, RunKind};
use crate::store::{Store, TABLES};

const MAGIC: &[u8; 16] = b"mlprov-index\0v3\0";

/// Whether the cache is in use (`MLPROV_INDEX_CACHE=0` turns it off).
pub fn enabled() -> bool {
    std::env::var("MLPROV_INDEX_CACHE").map_or(true, |v| v != "0")
}

/// Digest of every table's segment listing: the cache key.
pub fn listing_key(store: &Store) -> crate::error::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(MAGIC);
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    for table in TABLES {
        let mut keys: Vec<String> = store.segments(table)?.into_iter().map(|i| i.key).collect();
        keys.sort_unstable();
        for k in keys {
            hasher.update(k.as_bytes());
            hasher.update(b"\0");
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// The folder of one store's index cache (stores on object storage share the user's cache
/// folder, so each gets its own).
fn folder(store: &Store) -> PathBuf {
    let location = blake3::hash(store.describe().as_bytes()).to_hex();
    store.cache_dir().join("index").join(&location[..16])
}

pub fn read(store: &Store, key: &str, timer: &PhaseTimer) -> Option<LineageIndex> {
    let file = std::fs::File::open(folder(store).join(format!("{key}.idx"))).ok()?;
    // SAFETY: read-only map of a file only ever replaced by rename, never written in place;
    // were it changed under us anyway, the checksum below fails or decoding stops early,
    // and the index is rebuilt.
    let bytes = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    timer.phase("cache map");
    let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_rayon(body);
    if hasher.finalize().as_bytes() != sum {
        return None;
    }
    timer.phase("cache checksum");
    let (mut index, arena) = decode(body)?;
    // Checking and decoding brought every page of the file in; from here on only the ids
    // are read from it, a few at a time. Let the kernel take the pages back (they are read
    // again from the file when touched), so the whole file does not count as our memory.
    // SAFETY: the map is shared and read-only over a file never written in place; dropped
    // pages read back the same bytes.
    let _ = unsafe { bytes.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    index.ids.bytes = Arena::Mapped {
        map: bytes,
        start: arena.start,
        end: arena.end,
    };
    timer.phase("cache decode");
    Some(index)
}

/// Write the index for `key` and remove the store's older cache files. Failures are ignored:
/// the cache only saves time.
pub fn write(store: &Store, key: &str, index: &LineageIndex) {
    let dir = folder(store);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let mut body = encode(index);
    let sum = *blake3::hash(&body).as_bytes();
    body.extend_from_slice(&sum);
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let target = dir.join(format!("{key}.idx"));
    if std::fs::write(&tmp, &body).is_err() || std::fs::rename(&tmp, &target).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.path() != target {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

struct Out(Vec<u8>);

impl Out {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    /// A length, then every word's little-endian bytes.
    fn words<const N: usize, T: Copy>(&mut self, v: &[T], to_le: fn(T) -> [u8; N]) {
        self.u64(v.len() as u64);
        self.0.reserve(v.len() * N);
        for x in v {
            self.0.extend_from_slice(&to_le(*x));
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.words(v, u32::to_le_bytes);
    }
    fn u64s(&mut self, v: &[u64]) {
        self.words(v, u64::to_le_bytes);
    }
    fn set(&mut self, set: &HashSet<NodeId>) {
        let mut v: Vec<u32> = set.iter().copied().collect();
        v.sort_unstable();
        self.u32s(&v);
    }
    fn csr(&mut self, c: &Csr) {
        self.u32s(&c.off);
        self.u32s(&c.to);
        self.bytes(&c.role);
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
    fn str(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    /// A length, then that many little-endian words of `N` bytes.
    fn words<const N: usize, T>(&mut self, from_le: fn([u8; N]) -> T) -> Option<Vec<T>> {
        let n = self.len()?;
        let raw = self.take(n.checked_mul(N)?)?;
        Some(
            raw.chunks_exact(N)
                .map(|c| from_le(c.try_into().expect("N bytes")))
                .collect(),
        )
    }
    fn u32s(&mut self) -> Option<Vec<u32>> {
        self.words(u32::from_le_bytes)
    }
    fn u64s(&mut self) -> Option<Vec<u64>> {
        self.words(u64::from_le_bytes)
    }
    fn set(&mut self) -> Option<HashSet<NodeId>> {
        Some(self.u32s()?.into_iter().collect())
    }
    fn csr(&mut self, nodes: usize) -> Option<Csr> {
        let c = Csr {
            off: self.u32s()?,
            to: self.u32s()?,
            role: self.bytes()?.to_vec(),
        };
        // Every row must lie inside the edge arrays and point at a node.
        let edges = c.to.len();
        let sound = c.off.len() == nodes + 1
            && c.role.len() == edges
            && c.off.windows(2).all(|w| w[0] <= w[1])
            && c.off.last().is_some_and(|&e| e as usize == edges)
            && c.to.iter().all(|&t| (t as usize) < nodes);
        sound.then_some(c)
    }
}

fn encode(ix: &LineageIndex) -> Vec<u8> {
    let mut out = Out(Vec::with_capacity(
        ix.ids.bytes.len() + ix.ids.slots.len() * 8 + ix.down.to.len() * 10 + (1 << 20),
    ));
    out.0.extend_from_slice(MAGIC);
    out.bytes(&ix.ids.bytes);
    out.u32s(&ix.ids.starts);
    out.u64s(&ix.ids.slots);
    out.u64(ix.ids.len as u64);
    out.bytes(&ix.kinds);
    let mut models: Vec<(&NodeId, &ModelKey)> = ix.models.iter().collect();
    models.sort_unstable_by_key(|(n, _)| **n);
    out.u64(models.len() as u64);
    for (n, m) in models {
        out.u64(*n as u64);
        out.str(&m.vendor);
        out.str(&m.model);
        out.str(m.revision.as_deref().unwrap_or("\0"));
        out.str(m.channel.as_str());
    }
    out.set(&ix.vendored);
    let mut claimed: Vec<(&NodeId, &Vec<String>)> = ix.claimed.iter().collect();
    claimed.sort_unstable_by_key(|(n, _)| **n);
    out.u64(claimed.len() as u64);
    for (n, ids) in claimed {
        out.u64(*n as u64);
        out.u64(ids.len() as u64);
        for id in ids {
            out.str(id);
        }
    }
    let run_kinds: Vec<u8> = ix
        .run_kinds
        .iter()
        .map(|k| match k {
            None => 0,
            Some(k) => 1 + RunKind::ALL.iter().position(|x| x == k).expect("in ALL") as u8,
        })
        .collect();
    out.bytes(&run_kinds);
    out.u64s(&ix.run_times.iter().map(|&t| t as u64).collect::<Vec<u64>>());
    out.set(&ix.released);
    out.set(&ix.composed);
    out.csr(&ix.down);
    out.csr(&ix.up);
    out.u32s(&ix.order);
    out.u64(ix.placed as u64);
    out.u64(ix.segments as u64);
    out.0
}

/// The index (its arena still empty) and where the arena's bytes lie in `body`.
fn decode(body: &[u8]) -> Option<(LineageIndex, std::ops::Range<usize>)> {
    let mut r = In(body);
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let arena = r.bytes()?;
    let arena_start = arena.as_ptr() as usize - body.as_ptr() as usize;
    let ids = Interner {
        bytes: Arena::Owned(Vec::new()),
        starts: r.u32s()?,
        slots: r.u64s()?,
        len: r.len()?,
    };
    let nodes = ids.len;
    let sound_ids = ids.starts.len() == nodes + 1
        && ids.starts.windows(2).all(|w| w[0] <= w[1])
        && ids
            .starts
            .last()
            .is_some_and(|&e| e as usize == arena.len())
        && ids.slots.len().is_power_of_two()
        && ids.slots.iter().all(|&v| (v as u32) as usize <= nodes)
        && std::str::from_utf8(arena).is_ok();
    if !sound_ids {
        return None;
    }
    let kinds = r.bytes()?.to_vec();
    let mut models = HashMap::new();
    for _ in 0..r.len()? {
        let n = r.u64()? as NodeId;
        let vendor = r.str()?;
        let model = r.str()?;
        let revision = Some(r.str()?).filter(|s| s != "\0");
        let channel: Channel = r.str()?.parse().ok()?;
        models.insert(
            n,
            ModelKey {
                vendor,
                model,
                revision,
                channel,
            },
        );
    }
    let vendored = r.set()?;
    let mut claimed = HashMap::new();
    for _ in 0..r.len()? {
        let n = r.u64()? as NodeId;
        let count = r.len()?;
        let mut ids = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            ids.push(r.str()?);
        }
        claimed.insert(n, ids);
    }
    let run_kinds = r
        .bytes()?
        .iter()
        .map(|&b| match b {
            0 => Some(None),
            b => RunKind::ALL.get(b as usize - 1).map(|k| Some(*k)),
        })
        .collect::<Option<Vec<Option<RunKind>>>>()?;
    let run_times: Vec<i64> = r.u64s()?.into_iter().map(|t| t as i64).collect();
    let released = r.set()?;
    let composed = r.set()?;
    let down = r.csr(nodes)?;
    let up = r.csr(nodes)?;
    let order = r.u32s()?;
    let placed = r.len()?;
    let segments = r.len()?;
    let in_range = |n: &NodeId| (*n as usize) < nodes;
    let sound = kinds.len() == nodes
        && run_kinds.len() <= nodes
        && run_times.len() <= nodes
        && r.0.is_empty()
        && order.len() == nodes
        && placed <= nodes
        && order.iter().all(in_range)
        && models.keys().all(in_range)
        && claimed.keys().all(in_range)
        && vendored.iter().all(in_range)
        && released.iter().all(in_range)
        && composed.iter().all(in_range);
    let index = LineageIndex {
        ids,
        kinds,
        models,
        vendored,
        claimed,
        run_kinds,
        run_times,
        released,
        composed,
        down,
        up,
        order,
        placed,
        segments,
    };
    sound.then_some((index, arena_start..arena_start + arena.len()))
}
