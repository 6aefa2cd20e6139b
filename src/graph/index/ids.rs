//! Interned ids: every artifact and run id once in one byte arena, found by one probe.
//!
//! [`Ids`] layers the ids added since an index was last written to the cache over the ids
//! read back from it, so a few new segments extend a cached index without copying its arena.

use super::NodeId;

/// The interned ids' bytes: built in memory, or mapped from the index cache file (no copy of
/// the largest part of the index when it is read back).
pub(super) enum Arena {
    Owned(Vec<u8>),
    Mapped {
        map: memmap2::Mmap,
        start: usize,
        end: usize,
    },
}

impl std::ops::Deref for Arena {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Arena::Owned(v) => v,
            Arena::Mapped { map, start, end } => &map[*start..*end],
        }
    }
}

impl Arena {
    fn push(&mut self, b: &[u8]) {
        if let Arena::Mapped { .. } = self {
            *self = Arena::Owned(self.to_vec());
        }
        if let Arena::Owned(v) = self {
            v.extend_from_slice(b);
        }
    }
}

/// Ids interned into one arena: no allocation per id, one probe per lookup.
pub(super) struct Interner {
    pub(super) bytes: Arena,
    /// Start of each id in `bytes`; id `i` ends where `i + 1` starts (one sentinel at the end).
    pub(super) starts: Vec<u32>,
    /// Open addressing: the id's 32-bit hash above node + 1, or 0 for an empty slot (a probe
    /// compares hashes without touching the arena).
    pub(super) slots: Vec<u64>,
    pub(super) len: usize,
}

fn hash_bytes(b: &[u8]) -> u64 {
    // FxHash over 8-byte words: ids are hex digests and UUIDs, so this spreads well.
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &x in chunks.remainder() {
        h = (h.rotate_left(5) ^ x as u64).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// A hint to the CPU to bring `p`'s cache line in; never faults, whatever the address.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint and never dereferences the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Interner {
    pub(super) fn with_capacity(ids: usize, bytes: usize) -> Self {
        let mut i = Interner {
            bytes: Arena::Owned(Vec::with_capacity(bytes)),
            starts: Vec::with_capacity(ids + 1),
            slots: vec![0; (ids.max(16) * 2).next_power_of_two()],
            len: 0,
        };
        i.starts.push(0);
        i
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, id: NodeId) -> &str {
        // Only whole `&str`s are ever pushed.
        std::str::from_utf8(self.bytes_of(id)).expect("interned ids are UTF-8")
    }

    pub(super) fn bytes_of(&self, id: NodeId) -> &[u8] {
        let (s, e) = (
            self.starts[id as usize] as usize,
            self.starts[id as usize + 1] as usize,
        );
        &self.bytes[s..e]
    }

    /// First of three steps that bring a lookup's memory into cache ahead of it (see
    /// [`Warmer`]): the slot `h` lands on.
    fn warm_slot(&self, h: u64) {
        let slot = h as usize & (self.slots.len() - 1);
        prefetch(self.slots.as_ptr().wrapping_add(slot));
    }

    /// Second step: the node whose tag matches (the slot's line is in cache by now), and its
    /// start offset. `None` for a key not interned yet, which needs nothing more.
    fn warm_start(&self, h: u64) -> Option<NodeId> {
        let n = self.walk(h, |_| true).ok()?;
        prefetch(self.starts.as_ptr().wrapping_add(n as usize));
        Some(n)
    }

    /// Third step: the node's bytes in the arena (its start is in cache by now).
    fn warm_bytes(&self, n: NodeId) {
        let (Some(&s), Some(&e)) = (self.starts.get(n as usize), self.starts.get(n as usize + 1))
        else {
            return;
        };
        let base = self.bytes.as_ptr();
        prefetch(base.wrapping_add(s as usize));
        if e > s {
            prefetch(base.wrapping_add(e as usize - 1));
        }
    }

    /// `key`'s node, or the empty slot (and hash tag) where it would go.
    fn probe(&self, key: &str) -> std::result::Result<NodeId, (usize, u64)> {
        let h = hash_bytes(key.as_bytes());
        self.walk(h, |n| self.bytes_of(n) == key.as_bytes())
            .map_err(|slot| (slot, tag(h)))
    }

    /// The slots from where hash `h` lands: the first node whose tag matches and that `is`
    /// accepts, else the empty slot that ends the run.
    fn walk(
        &self,
        h: u64,
        mut is: impl FnMut(NodeId) -> bool,
    ) -> std::result::Result<NodeId, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                v if v & !0xFFFF_FFFF == tag(h) && is((v as u32) - 1) => return Ok((v as u32) - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    pub(super) fn find(&self, key: &str) -> Option<NodeId> {
        self.probe(key).ok()
    }

    /// The node of `key`, and whether it was new.
    pub(super) fn intern(&mut self, key: &str) -> (NodeId, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let (slot, tag) = match self.probe(key) {
            Ok(n) => return (n, false),
            Err(free) => free,
        };
        let n = self.len as NodeId;
        self.bytes.push(key.as_bytes());
        self.starts.push(self.bytes.len() as u32);
        self.slots[slot] = tag | (n as u64 + 1);
        self.len += 1;
        (n, true)
    }

    fn grow(&mut self) {
        let mut slots = vec![0u64; self.slots.len() * 2];
        for n in 0..self.len as NodeId {
            place(&mut slots, self.bytes_of(n), n);
        }
        self.slots = slots;
    }
}

/// Put node `n`, whose id is `key`, in the first empty slot from where its hash lands.
fn place(slots: &mut [u64], key: &[u8], n: NodeId) {
    let h = hash_bytes(key);
    let mask = slots.len() - 1;
    let mut slot = h as usize & mask;
    while slots[slot] != 0 {
        slot = (slot + 1) & mask;
    }
    slots[slot] = tag(h) | (n as u64 + 1);
}

/// A slot holds its id's hash tag (the hash's upper 32 bits) above node + 1.
fn tag(h: u64) -> u64 {
    (h >> 32) << 32
}

/// The ids of an index: those read back from the cache file (`base`, never changed) and those
/// interned since (`added`, numbered after the base's). A freshly built index has an empty base.
pub(super) struct Ids {
    pub(super) base: Interner,
    pub(super) added: Interner,
}

impl Ids {
    pub(super) fn with_capacity(ids: usize, bytes: usize) -> Self {
        Ids {
            base: Interner::with_capacity(0, 0),
            added: Interner::with_capacity(ids, bytes),
        }
    }

    /// Ids read back from a cache file, to be extended.
    pub(super) fn over(base: Interner) -> Self {
        Ids {
            base,
            added: Interner::with_capacity(0, 0),
        }
    }

    /// Room for about `ids` new ids of `bytes` bytes (before extending with added segments).
    pub(super) fn reserve_added(&mut self, ids: usize, bytes: usize) {
        if self.added.len() == 0 {
            self.added = Interner::with_capacity(ids, bytes);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.base.len() + self.added.len()
    }

    fn split(&self, id: NodeId) -> (&Interner, NodeId) {
        match id.checked_sub(self.base.len() as NodeId) {
            Some(local) => (&self.added, local),
            None => (&self.base, id),
        }
    }

    pub(super) fn get(&self, id: NodeId) -> &str {
        let (layer, local) = self.split(id);
        layer.get(local)
    }

    /// The layer a lookup of an id goes to first: the base when there is one (a cached
    /// index being extended, where most ids are found), else the ids interned so far.
    fn first_layer(&self) -> &Interner {
        if self.base.len() == 0 {
            &self.added
        } else {
            &self.base
        }
    }

    /// An id table over every id, base and added, numbered as here: what one interner of all
    /// of them would hold (an extended index is written to the cache as one layer).
    pub(super) fn merged_slots(&self) -> Vec<u64> {
        let size = (self.len().max(16) * 2).next_power_of_two();
        let base = self.base.len() as NodeId;
        // The base's table, when it has room for the added ids too (as interning them into it
        // would have put them); else one table placing every id again.
        let (mut slots, placed) = if self.base.slots.len() >= size {
            (self.base.slots.clone(), base)
        } else {
            (vec![0u64; size], 0)
        };
        for n in placed..self.len() as NodeId {
            place(&mut slots, self.get(n).as_bytes(), n);
        }
        slots
    }

    pub(super) fn find(&self, key: &str) -> Option<NodeId> {
        if self.base.len() > 0 {
            if let Some(n) = self.base.find(key) {
                return Some(n);
            }
        }
        let local = self.added.find(key)?;
        Some(self.base.len() as NodeId + local)
    }

    /// The node of `key`, and whether it was new.
    pub(super) fn intern(&mut self, key: &str) -> (NodeId, bool) {
        if self.base.len() > 0 {
            if let Some(n) = self.base.find(key) {
                return (n, false);
            }
        }
        let (local, new) = self.added.intern(key);
        (self.base.len() as NodeId + local, new)
    }
}

/// Interning millions of random ids is a chain of cache misses: the slot, then the node's
/// start offset, then its bytes, each needing the one before. A `Warmer` takes a block of ids
/// about to be interned through those three steps together, so the misses of the whole block
/// overlap instead of following one another; interning them next finds everything in cache.
/// Only hints: what it leaves cold is merely slower.
#[derive(Default)]
pub(super) struct Warmer {
    hashes: Vec<u64>,
    found: Vec<NodeId>,
}

impl Warmer {
    pub(super) fn warm<'k>(&mut self, ids: &Ids, keys: impl Iterator<Item = &'k str>) {
        // Without a prefetch instruction the steps would only repeat each lookup.
        if !cfg!(target_arch = "x86_64") {
            return;
        }
        let layer = ids.first_layer();
        self.hashes.clear();
        self.found.clear();
        for key in keys {
            let h = hash_bytes(key.as_bytes());
            layer.warm_slot(h);
            self.hashes.push(h);
        }
        for &h in &self.hashes {
            if let Some(n) = layer.warm_start(h) {
                self.found.push(n);
            }
        }
        for &n in &self.found {
            layer.warm_bytes(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_ids_number_added_ids_after_the_base() {
        let mut base = Interner::with_capacity(2, 16);
        base.intern("a");
        base.intern("b");
        let mut ids = Ids::over(base);
        // Warming is only a hint: ids found, absent and repeated leave the answers as they are.
        Warmer::default().warm(&ids, ["b", "c", "c", "a", ""].into_iter());
        assert_eq!(ids.intern("b"), (1, false));
        assert_eq!(ids.intern("c"), (2, true));
        assert_eq!(ids.intern("c"), (2, false));
        assert_eq!(ids.intern("a"), (0, false));
        assert_eq!(
            (ids.find("c"), ids.find("a"), ids.find("z")),
            (Some(2), Some(0), None)
        );
        assert_eq!((ids.get(0), ids.get(2), ids.len()), ("a", "c", 3));
    }

    #[test]
    fn interner_finds_what_it_stored_across_growth() {
        let mut i = Interner::with_capacity(4, 16);
        let keys: Vec<String> = (0..1000).map(|n| format!("blake3:{n:064}")).collect();
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(i.intern(k), (n as NodeId, true));
        }
        let mut warmer = Warmer::default();
        let ids = Ids::over(i);
        warmer.warm(&ids, keys.iter().map(String::as_str).chain(["blake3:nope"]));
        let mut i = ids.base;
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(i.find(k), Some(n as NodeId));
            assert_eq!(i.intern(k), (n as NodeId, false));
            assert_eq!(i.get(n as NodeId), k);
        }
        assert_eq!(i.find("blake3:nope"), None);
    }
}
