//! The lineage index kept on local disk between commands, so a question about a large store
//! does not decode and intern every id again.
//!
//! The file is derived data: its name is a digest of the store's segment listing, and it
//! starts with that listing. After writes (new segments named after those it was built from)
//! the next load extends it with the new segments, reading only those; once they are a
//! sixteenth of what the file covers (or 64 segments) the extended index replaces the file,
//! so a store growing between loads is extended by what it gained rather than indexed from
//! scratch. After a compaction (segments renamed), more than 512 new segments, or more new
//! bytes than the file covers, the index is built again and the file replaced. It is written to a
//! temporary name and renamed, carries a BLAKE3 checksum of its bytes, and anything
//! unreadable, inconsistent, stale or from another format version is ignored (the index is
//! rebuilt from the segments). `MLPROV_INDEX_CACHE=0` turns it off.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ids::{Arena, Ids, Interner};
use super::{Csr, LineageIndex, ModelKey, NodeId, RunClock};
use crate::progress::PhaseTimer;
use crate::records::{Channel, RunKind};
use crate::store::backend::ObjectInfo;
use crate::store::{Store, TABLES};

const MAGIC: &[u8; 16] = b"mlprov-index\0v4\0";

/// A cached index is extended with at most this many added segments (each is a request on
/// object storage); past that it is built again ...
const EXTEND_MAX_SEGMENTS: usize = 512;
/// ... and with at most as many bytes as it was built from (or this many, on a small store).
const EXTEND_ANY_BYTES: u64 = 8 << 20;
/// An extended index is written back (replacing the file it was read from) once its added
/// segments hold at least this share of the bytes it was built from, or are this many:
/// writing costs about what the whole file is, extending again on every load costs what
/// the added segments are.
const WRITE_EXTENDED_SHARE: u64 = 16;
const WRITE_EXTENDED_SEGMENTS: usize = 64;

/// Whether the cache is in use (`MLPROV_INDEX_CACHE=0` turns it off).
pub fn enabled() -> bool {
    std::env::var("MLPROV_INDEX_CACHE").map_or(true, |v| v != "0")
}

/// Every table's segments, as listed (sorted by key), in the order of [`TABLES`].
pub struct Listing(Vec<Vec<ObjectInfo>>);

impl PartialEq for Listing {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.keys().zip(other.keys()).all(|(a, b)| a.eq(b))
    }
}

impl Listing {
    pub fn of(store: &Store) -> crate::error::Result<Listing> {
        TABLES
            .iter()
            .map(|t| store.segments(t))
            .collect::<crate::error::Result<_>>()
            .map(Listing)
    }

    fn keys(&self) -> impl Iterator<Item = impl Iterator<Item = &str>> {
        self.0.iter().map(|t| t.iter().map(|i| i.key.as_str()))
    }

    fn table(&self, name: &str) -> &[ObjectInfo] {
        TABLES
            .iter()
            .position(|t| *t == name)
            .and_then(|i| self.0.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// The cache key: a digest of every key listed.
    pub fn key(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(MAGIC);
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        for table in self.keys() {
            for k in table {
                hasher.update(k.as_bytes());
                hasher.update(b"\0");
            }
            hasher.update(b"\x01");
        }
        hasher.finalize().to_hex().to_string()
    }

    /// The artifact and run segments listed after those an index was built from, when they
    /// are all that changed there (none gone, each added one named after the last it read:
    /// new segment names sort last, so the records reach the index in listing order as a
    /// build would read them) and not too many. Extending reads only them, never more than a
    /// build would, however much the store grew. Claims and releases are read whole on every
    /// load, waivers are not in the index: they may change freely.
    fn added_since(&self, built: &[Vec<String>]) -> Option<Added> {
        let mut added = Added::default();
        let (mut read_bytes, mut added_bytes) = (0u64, 0u64);
        for (name, out) in [
            ("artifacts", &mut added.artifacts),
            ("runs", &mut added.runs),
        ] {
            let before = built.get(TABLES.iter().position(|t| *t == name)?)?;
            let now = self.table(name);
            let (kept, new) = now.split_at_checked(before.len())?;
            if !kept.iter().map(|i| &i.key).eq(before.iter()) {
                return None;
            }
            read_bytes += kept.iter().map(|i| i.size).sum::<u64>();
            added_bytes += new.iter().map(|i| i.size).sum::<u64>();
            added.read += kept.len();
            out.extend_from_slice(new);
        }
        let segments = added.artifacts.len() + added.runs.len();
        // No artifact or run segment added (claims, releases or waivers changed): written, or
        // every load would repeat the extension's work for nothing new.
        added.worth_writing = added_bytes.saturating_mul(WRITE_EXTENDED_SHARE) >= read_bytes
            || segments >= WRITE_EXTENDED_SEGMENTS
            || segments == 0;
        added.bytes = added_bytes;
        // More added than read: a build reads little more than the extension would, and sizes
        // its id table for all of it.
        (segments <= EXTEND_MAX_SEGMENTS && added_bytes <= read_bytes.max(EXTEND_ANY_BYTES))
            .then_some(added)
    }
}

/// Segments to extend a cached index with, and how many it was built from.
#[derive(Default)]
pub struct Added {
    pub artifacts: Vec<ObjectInfo>,
    pub runs: Vec<ObjectInfo>,
    pub read: usize,
    /// Whether the extended index should be written (see [`WRITE_EXTENDED_SHARE`]).
    pub worth_writing: bool,
    /// The added segments' bytes (to size the id table for their new ids).
    pub bytes: u64,
}

/// The folder of one store's index cache (stores on object storage share the user's cache
/// folder, so each gets its own).
fn folder(store: &Store) -> PathBuf {
    let location = blake3::hash(store.describe().as_bytes()).to_hex();
    store.cache_dir().join("index").join(&location[..16])
}

/// The index cached for exactly this listing's key.
pub fn read(store: &Store, key: &str, timer: &PhaseTimer) -> Option<LineageIndex> {
    open(&folder(store).join(format!("{key}.idx")), timer).map(|(_, index)| index)
}

/// Whether a cache file for exactly this listing exists.
pub fn holds(store: &Store, listing: &Listing) -> bool {
    folder(store)
        .join(format!("{}.idx", listing.key()))
        .is_file()
}

/// The store's last cached index, when the store has only grown a little since: the index
/// and the segments to extend it with.
pub fn read_base(
    store: &Store,
    listing: &Listing,
    timer: &PhaseTimer,
) -> Option<(LineageIndex, Added)> {
    let newest = std::fs::read_dir(folder(store))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".idx"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?;
    let mut file = std::fs::File::open(newest.path()).ok()?;
    // Only the listing at the head is needed to tell whether the file is worth reading whole.
    listing.added_since(&read_listing(&mut file)?)?;
    // The listing of the file as checked and read whole (it may have been replaced meanwhile).
    let (built, index) = open(&newest.path(), timer)?;
    Some((index, listing.added_since(&built)?))
}

fn read_listing(file: &mut std::fs::File) -> Option<Vec<Vec<String>>> {
    use std::io::Read;
    // Magic, the version's length and bytes, the listing's length and bytes.
    let mut head = vec![0u8; MAGIC.len() + 8];
    file.read_exact(&mut head).ok()?;
    let version = usize::try_from(u64::from_le_bytes(head[MAGIC.len()..].try_into().ok()?)).ok()?;
    if version > 256 {
        return None;
    }
    let mut rest = vec![0u8; version + 8];
    file.read_exact(&mut rest).ok()?;
    let listed = usize::try_from(u64::from_le_bytes(rest[version..].try_into().ok()?)).ok()?;
    head.extend_from_slice(&rest);
    if listed > 64 << 20 {
        return None;
    }
    let start = head.len();
    head.resize(start + listed, 0);
    file.read_exact(&mut head[start..]).ok()?;
    header(&mut In(&head))
}

/// Magic, mlprov version and the listing the index was built from.
fn header(r: &mut In<'_>) -> Option<Vec<Vec<String>>> {
    if r.take(MAGIC.len())? != MAGIC || r.bytes()? != env!("CARGO_PKG_VERSION").as_bytes() {
        return None;
    }
    let mut listed = In(r.bytes()?);
    let mut tables = Vec::with_capacity(TABLES.len());
    for _ in TABLES {
        let n = listed.len()?;
        let mut keys = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            keys.push(listed.str()?);
        }
        tables.push(keys);
    }
    listed.0.is_empty().then_some(tables)
}

/// Map, check and decode one cache file.
fn open(path: &Path, timer: &PhaseTimer) -> Option<(Vec<Vec<String>>, LineageIndex)> {
    let file = std::fs::File::open(path).ok()?;
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
    let (built, mut index, arena) = decode(body)?;
    // Checking and decoding brought every page of the file in; from here on only the ids
    // are read from it, a few at a time. Let the kernel take the pages back (they are read
    // again from the file when touched), so the whole file does not count as our memory.
    // SAFETY: the map is shared and read-only over a file never written in place; dropped
    // pages read back the same bytes.
    let _ = unsafe { bytes.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    index.ids.base.bytes = Arena::Mapped {
        map: bytes,
        start: arena.start,
        end: arena.end,
    };
    timer.phase("cache decode");
    Some((built, index))
}

/// [`write`], if no segment came or went since `listing` was taken (then the index, built or
/// extended from it, is exactly the listing's).
pub fn write_if_listed(store: &Store, listing: &Listing, index: &LineageIndex) {
    if matches!(Listing::of(store), Ok(now) if now == *listing) {
        write(store, listing, index);
    }
}

/// Write the index built from `listing` and remove the store's older cache files. Failures
/// are ignored: the cache only saves time.
fn write(store: &Store, listing: &Listing, index: &LineageIndex) {
    // Ids are found by u32 offsets into one arena.
    if u32::try_from(index.ids.base.bytes.len() + index.ids.added.bytes.len()).is_err() {
        return;
    }
    let dir = folder(store);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let target = dir.join(format!("{}.idx", listing.key()));
    // Streamed to the file and hashed on the way: the body is about half the index's size,
    // and building it in memory first raised a first question's peak from ~600 to ~890 MiB
    // on the 1M-artifact bench store.
    let written = std::fs::File::create(&tmp).and_then(|file| {
        let mut out = Out::new(std::io::BufWriter::with_capacity(1 << 20, file));
        encode(&mut out, listing, index);
        let (file, sum) = out.finish()?;
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        std::io::Write::write_all(&mut file, &sum)
    });
    if written.is_err() || std::fs::rename(&tmp, &target).is_err() {
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

/// A word kept little-endian in the file.
trait Word: bytemuck::Pod {
    /// To (and from: the same swap) little-endian.
    fn le(self) -> Self;
}

impl Word for u32 {
    fn le(self) -> Self {
        self.to_le()
    }
}

impl Word for u64 {
    fn le(self) -> Self {
        self.to_le()
    }
}

/// The cache file's writer: every byte goes to `sink` and into the checksum; the first write
/// error is kept and returned by [`Out::finish`].
struct Out<W: std::io::Write> {
    sink: W,
    sum: blake3::Hasher,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> Out<W> {
    fn new(sink: W) -> Self {
        Out {
            sink,
            sum: blake3::Hasher::new(),
            error: None,
        }
    }
    /// The sink, and the BLAKE3 of everything written, which the file ends with.
    fn finish(self) -> std::io::Result<(W, [u8; 32])> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.sink, *self.sum.finalize().as_bytes())),
        }
    }
    fn put(&mut self, b: &[u8]) {
        if self.error.is_none() {
            self.sum.update(b);
            if let Err(e) = self.sink.write_all(b) {
                self.error = Some(e);
            }
        }
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.put(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    /// A length, then every word's little-endian bytes.
    fn words<T: Word>(&mut self, v: &[T]) {
        self.u64(v.len() as u64);
        self.words_raw(v);
    }
    /// Every word's little-endian bytes (a length written before, for words in several runs).
    fn words_raw<T: Word>(&mut self, v: &[T]) {
        if cfg!(target_endian = "little") {
            self.put(bytemuck::cast_slice(v));
        } else {
            for &x in v {
                self.put(bytemuck::bytes_of(&x.le()));
            }
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.words(v);
    }
    fn u64s(&mut self, v: &[u64]) {
        self.words(v);
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
    /// A length, then that many little-endian words: their bytes.
    fn raw<T: Word>(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n.checked_mul(std::mem::size_of::<T>())?)
    }
    fn u32s(&mut self) -> Option<Vec<u32>> {
        self.raw::<u32>().map(words_of)
    }
    fn set(&mut self) -> Option<HashSet<NodeId>> {
        Some(self.u32s()?.into_iter().collect())
    }
    /// Offsets, targets and roles of compressed sparse rows, as bytes.
    fn raw_csr(&mut self) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
        Some((self.raw::<u32>()?, self.raw::<u32>()?, self.bytes()?))
    }
}

/// Little-endian words (copied as they are on a little-endian machine: one copy, not a
/// conversion per word).
fn words_of<T: Word>(raw: &[u8]) -> Vec<T> {
    let mut v: Vec<T> = bytemuck::pod_collect_to_vec(raw);
    if cfg!(target_endian = "big") {
        v.iter_mut().for_each(|x| *x = x.le());
    }
    v
}

/// The file's bytes (checksum aside). An extended index's two layers of ids are written as
/// one: the arenas one after the other, the added ids' offsets moved past the base's, and one
/// id table over all of them.
fn encode<W: std::io::Write>(out: &mut Out<W>, listing: &Listing, ix: &LineageIndex) {
    let (base, added) = (&ix.ids.base, &ix.ids.added);
    out.put(MAGIC);
    out.str(env!("CARGO_PKG_VERSION"));
    let mut listed = Out::new(Vec::new());
    for table in listing.keys() {
        let keys: Vec<&str> = table.collect();
        listed.u64(keys.len() as u64);
        keys.iter().for_each(|k| listed.str(k));
    }
    out.bytes(&listed.sink);
    out.u64((base.bytes.len() + added.bytes.len()) as u64);
    out.put(&base.bytes);
    out.put(&added.bytes);
    if base.len() == 0 {
        out.u32s(&added.starts);
        out.u64s(&added.slots);
    } else {
        // `write` checked that the arenas together fit u32 offsets.
        let shift = base.bytes.len() as u32;
        out.u64((base.starts.len() + added.starts.len() - 1) as u64);
        out.words_raw(&base.starts);
        for chunk in added.starts[1..].chunks(1 << 14) {
            let moved: Vec<u32> = chunk.iter().map(|s| s + shift).collect();
            out.words_raw(&moved);
        }
        out.u64s(&ix.ids.merged_slots());
    }
    out.u64(ix.ids.len() as u64);
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
    out.u64(ix.clock_base as u64);
    let clocks: Vec<u64> = ix
        .clocks
        .iter()
        .flat_map(|c| [c.started, c.ended.0, c.ended.1, c.first_recorded])
        .map(|t| t as u64)
        .collect();
    out.u64s(&clocks);
    out.set(&ix.released);
    out.set(&ix.composed);
    out.csr(&ix.down);
    out.csr(&ix.up);
    out.u32s(&ix.order);
    out.u64(ix.placed as u64);
    out.u64(ix.segments as u64);
}

/// The listing the index was built from, the index (its arena still empty) and where the
/// arena's bytes lie in `body`. The file is cut into its parts in one pass; the large parts are
/// then copied out and checked on every core.
fn decode(body: &[u8]) -> Option<(Vec<Vec<String>>, LineageIndex, std::ops::Range<usize>)> {
    let mut r = In(body);
    let built = header(&mut r)?;
    let arena = r.bytes()?;
    let arena_start = arena.as_ptr() as usize - body.as_ptr() as usize;
    let starts = r.raw::<u32>()?;
    let slots = r.raw::<u64>()?;
    let nodes = r.len()?;
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
    let run_kinds = r.bytes()?;
    let clock_base = NodeId::try_from(r.u64()?).ok()?;
    let clocks = r.raw::<u64>()?;
    let released = r.set()?;
    let composed = r.set()?;
    let down = r.raw_csr()?;
    let up = r.raw_csr()?;
    let order = r.raw::<u32>()?;
    let placed = r.len()?;
    let segments = r.len()?;
    if !r.0.is_empty() {
        return None;
    }

    let in_range = |n: &NodeId| (*n as usize) < nodes;
    let ((ids, clocks), ((down, up), (order, run_kinds))) = rayon::join(
        || {
            rayon::join(
                || interner(arena, starts, slots, nodes),
                || clocks_of(clocks),
            )
        },
        || {
            rayon::join(
                || rayon::join(|| csr_of(down, nodes), || csr_of(up, nodes)),
                || {
                    rayon::join(
                        || Some(words_of::<u32>(order)).filter(|o| is_permutation(o, nodes)),
                        || run_kinds_of(run_kinds),
                    )
                },
            )
        },
    );
    let (ids, clocks, down, up, order, run_kinds) = (ids?, clocks?, down?, up?, order?, run_kinds?);
    let sound = kinds.len() == nodes
        && run_kinds.len() <= nodes
        && (clock_base as usize).saturating_add(clocks.len()) <= nodes
        && order.len() == nodes
        && placed <= nodes
        && models.keys().all(in_range)
        && claimed.keys().all(in_range)
        && vendored.iter().all(in_range)
        && released.iter().all(in_range)
        && composed.iter().all(in_range);
    let index = LineageIndex {
        ids: Ids::over(ids),
        kinds,
        models,
        vendored,
        claimed,
        run_kinds,
        clocks,
        clock_base,
        released,
        composed,
        down,
        up,
        order,
        placed,
        segments,
    };
    sound.then_some((built, index, arena_start..arena_start + arena.len()))
}

/// The interner of `nodes` ids (its arena still empty), if its parts fit each other.
fn interner(arena: &[u8], starts: &[u8], slots: &[u8], nodes: usize) -> Option<Interner> {
    let ids = Interner {
        bytes: Arena::Owned(Vec::new()),
        starts: words_of(starts),
        slots: words_of(slots),
        len: nodes,
    };
    let sound = ids.starts.len() == nodes + 1
        && ids.starts.windows(2).all(|w| w[0] <= w[1])
        && ids
            .starts
            .last()
            .is_some_and(|&e| e as usize == arena.len())
        && ids.slots.len().is_power_of_two()
        && ids.slots.len() > nodes
        && slots_hold_each_node_once(&ids.slots, nodes)
        // Every id is text: the arena is, and no id starts inside a character.
        && std::str::from_utf8(arena).is_ok_and(|text| {
            ids.starts.iter().all(|&at| text.is_char_boundary(at as usize))
        });
    sound.then_some(ids)
}

/// Whether the id table has one slot per node (and empty ones, so every probe ends): a slot
/// is empty (0) or holds a node + 1 below its hash tag.
fn slots_hold_each_node_once(slots: &[u64], nodes: usize) -> bool {
    let mut seen = vec![false; nodes];
    let mut filled = 0usize;
    for &v in slots.iter().filter(|&&v| v != 0) {
        let Some(n) = ((v as u32) as usize).checked_sub(1).filter(|&n| n < nodes) else {
            return false;
        };
        if std::mem::replace(&mut seen[n], true) {
            return false;
        }
        filled += 1;
    }
    filled == nodes
}

/// Whether `order` holds every node once.
fn is_permutation(order: &[NodeId], nodes: usize) -> bool {
    let mut seen = vec![false; nodes];
    order.len() == nodes
        && order
            .iter()
            .all(|&n| (n as usize) < nodes && !std::mem::replace(&mut seen[n as usize], true))
}

fn clocks_of(raw: &[u8]) -> Option<Vec<RunClock>> {
    let words: Vec<u64> = words_of(raw);
    if words.len() % 4 != 0 {
        return None;
    }
    Some(
        words
            .chunks_exact(4)
            .map(|w| RunClock {
                started: w[0] as i64,
                ended: (w[1] as i64, w[2] as i64),
                first_recorded: w[3] as i64,
            })
            .collect(),
    )
}

fn run_kinds_of(raw: &[u8]) -> Option<Vec<Option<RunKind>>> {
    raw.iter()
        .map(|&b| match b {
            0 => Some(None),
            b => RunKind::ALL.get(b as usize - 1).map(|k| Some(*k)),
        })
        .collect()
}

/// Rows of `nodes` nodes, if every row lies inside the edge arrays and points at a node.
fn csr_of((off, to, role): (&[u8], &[u8], &[u8]), nodes: usize) -> Option<Csr> {
    let c = Csr {
        off: words_of(off),
        to: words_of(to),
        role: role.to_vec(),
    };
    let edges = c.to.len();
    let sound = c.off.len() == nodes + 1
        && c.role.len() == edges
        && c.off.windows(2).all(|w| w[0] <= w[1])
        && c.off.last().is_some_and(|&e| e as usize == edges)
        && c.to.iter().all(|&t| (t as usize) < nodes);
    sound.then_some(c)
}
