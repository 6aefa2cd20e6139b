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

    /// Ask the CPU for the slot `key` hashes to, ahead of interning it: interning millions of
    /// ids is a chain of cache misses, and this overlaps them.
    pub(super) fn prefetch(&self, key: &str) {
        let slot = hash_bytes(key.as_bytes()) as usize & (self.slots.len() - 1);
        #[cfg(target_arch = "x86_64")]
        #[allow(unused_unsafe)]
        // SAFETY: a prefetch is only a hint; the address is inside `slots`.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(slot) as *const i8);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// `key`'s node, or the empty slot (and hash tag) where it would go.
    fn probe(&self, key: &str) -> std::result::Result<NodeId, (usize, u64)> {
        let h = hash_bytes(key.as_bytes());
        let tag = (h >> 32) << 32;
        let mask = self.slots.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            match self.slots[slot] {
                0 => return Err((slot, tag)),
                v if v & !0xFFFF_FFFF == tag => {
                    let n = (v as u32) - 1;
                    if self.bytes_of(n) == key.as_bytes() {
                        return Ok(n);
                    }
                }
                _ => {}
            }
            slot = (slot + 1) & mask;
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
        let size = self.slots.len() * 2;
        let mut slots = vec![0u64; size];
        let mask = size - 1;
        for n in 0..self.len {
            let h = hash_bytes(self.bytes_of(n as NodeId));
            let mut slot = h as usize & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = ((h >> 32) << 32) | (n as u64 + 1);
        }
        self.slots = slots;
    }
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

    /// Where a lookup of `key` will go first (see [`Interner::prefetch`]).
    pub(super) fn prefetch(&self, key: &str) {
        if self.base.len() == 0 {
            self.added.prefetch(key);
        } else {
            self.base.prefetch(key);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_ids_number_added_ids_after_the_base() {
        let mut base = Interner::with_capacity(2, 16);
        base.intern("a");
        base.intern("b");
        let mut ids = Ids::over(base);
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
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(i.find(k), Some(n as NodeId));
            assert_eq!(i.intern(k), (n as NodeId, false));
            assert_eq!(i.get(n as NodeId), k);
        }
        assert_eq!(i.find("blake3:nope"), None);
    }
}
