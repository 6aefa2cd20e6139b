//! Content identity: BLAKE3 of a file's bytes, and a Merkle digest for directory trees.
//!
//! Tree rules (documented in docs/concepts.md):
//! - a directory's digest hashes its children sorted by name (bytes): for each child a kind
//!   byte (`f` file, `d` directory), the name, the size in bytes and the child's digest;
//! - symbolic links are followed (model caches are made of links into blob folders); a link
//!   loop, or a link into one of its own ancestors, is an error;
//! - empty directories are entries like any other, so adding one changes the digest;
//! - a folder named `.mlprov` (a store) is skipped, so a store inside a tagged tree never
//!   changes the tree's digest;
//! - names must be UTF-8: the records are read by engines that expect UTF-8 strings.

pub mod stat_cache;

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::records::id;
use stat_cache::{FileStat, StatCache};

/// Name of the store folder, never part of a tree digest.
pub const STORE_DIR_NAME: &str = ".mlprov";

/// Files at least this large are memory-mapped and hashed on all cores.
const MMAP_THRESHOLD: u64 = 4 << 20;
/// Chunk of a mapped file hashed between progress updates.
const PROGRESS_CHUNK: usize = 256 << 20;

/// What content identification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentId {
    /// `blake3:<hex>` for a file, `blake3tree:<hex>` for a directory.
    pub artifact_id: String,
    pub hex: String,
    pub size_bytes: u64,
    pub file_count: u64,
    pub is_dir: bool,
    /// Bytes actually read (0 when the stat cache answered for everything).
    pub bytes_hashed: u64,
}

/// Options for [`identify`].
#[derive(Default)]
pub struct HashOptions<'a> {
    pub cache: Option<&'a StatCache>,
    pub progress: bool,
}

/// A path as UTF-8, or the documented error.
pub fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::NonUtf8Path {
        path: path.to_path_buf(),
    })
}

/// Metadata following links; maps ELOOP and ENOENT to their own errors.
fn metadata(path: &Path) -> Result<Metadata> {
    std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && std::fs::symlink_metadata(path).is_ok() {
            // The link exists but its target does not.
            Error::MissingPath {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, "reading metadata", e)
        }
    })
}

/// Identify a file or directory by content.
pub fn identify(path: &Path, opts: &HashOptions<'_>) -> Result<ContentId> {
    utf8(path)?;
    let meta = metadata(path)?;
    if meta.is_file() {
        let cached = opts
            .cache
            .and_then(|c| c.lookup(path, &FileStat::of(&meta)));
        let (hex, hashed) = match cached {
            Some(hex) => (hex, 0),
            None => {
                let progress = Progress::bytes(meta.len(), "hashing", opts.progress);
                let hex = hash_file_checked(path, &meta, opts.cache, &progress)?;
                progress.finish();
                (hex, meta.len())
            }
        };
        Ok(ContentId {
            artifact_id: id::file(&hex),
            hex,
            size_bytes: meta.len(),
            file_count: 1,
            is_dir: false,
            bytes_hashed: hashed,
        })
    } else if meta.is_dir() {
        hash_tree(path, opts)
    } else {
        Err(Error::UnsupportedFileType {
            path: path.to_path_buf(),
            what: file_type_name(&meta),
        })
    }
}

fn file_type_name(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "named pipe"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

/// Hash a file and, when it did not change while being read, remember the digest.
fn hash_file_checked(
    path: &Path,
    before: &Metadata,
    cache: Option<&StatCache>,
    progress: &Progress,
) -> Result<String> {
    let started = std::time::SystemTime::now();
    let hex = hash_file(path, before.len(), progress)?;
    if let Some(cache) = cache {
        let after = metadata(path)?;
        let (b, a) = (FileStat::of(before), FileStat::of(&after));
        if b == a {
            cache.remember(path, b, &hex, started);
        }
    }
    Ok(hex)
}

/// BLAKE3 of one file's bytes: large files memory-mapped and hashed across cores.
pub fn hash_file(path: &Path, len: u64, progress: &Progress) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::io(path, "opening", e))?;
    let mut hasher = blake3::Hasher::new();
    if len >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and dropped before returning. A concurrent writer can change
        // the bytes under us; the stat check around hashing then refuses to cache the result.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| Error::io(path, "memory-mapping", e))?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        for chunk in map.chunks(PROGRESS_CHUNK) {
            hasher.update_rayon(chunk);
            progress.inc(chunk.len() as u64);
        }
    } else {
        let mut reader = file;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, "reading", e)),
            };
            hasher.update(&buf[..n]);
            progress.inc(n as u64);
        }
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// One entry found while walking a tree.
struct Entry {
    /// Index of the parent directory in the walk's directory list.
    parent: usize,
    name: String,
    kind: EntryKind,
}

enum EntryKind {
    File { path: PathBuf, meta: Metadata },
    Dir { index: usize },
}

struct Walk {
    /// Directories in discovery order; index 0 is the root.
    dirs: Vec<PathBuf>,
    entries: Vec<Entry>,
    total_bytes: u64,
}

fn walk(root: &Path) -> Result<Walk> {
    let mut walk = Walk {
        dirs: vec![root.to_path_buf()],
        entries: Vec::new(),
        total_bytes: 0,
    };
    let root_meta = metadata(root)?;
    // (dev, ino) of the directories on the current path, to catch links into an ancestor.
    let mut stack: Vec<(usize, Vec<(u64, u64)>)> =
        vec![(0, vec![(root_meta.dev(), root_meta.ino())])];
    while let Some((dir_index, ancestors)) = stack.pop() {
        let dir = walk.dirs[dir_index].clone();
        let read = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, "listing directory", e))?;
        let mut listed: Vec<(std::fs::DirEntry, PathBuf, String)> = Vec::new();
        for item in read {
            let item = item.map_err(|e| Error::io(&dir, "listing directory", e))?;
            let path = item.path();
            let name = item
                .file_name()
                .into_string()
                .map_err(|_| Error::NonUtf8Path { path: path.clone() })?;
            if name != STORE_DIR_NAME {
                listed.push((item, path, name));
            }
        }
        // One `stat` per entry is most of a re-tag: on all cores, relative to the open
        // directory (no path walk per file) unless the entry is a link to follow.
        let metas: Vec<Result<Metadata>> = listed
            .par_iter()
            .map(|(item, path, _)| match item.file_type() {
                Ok(t) if !t.is_symlink() => item
                    .metadata()
                    .map_err(|e| Error::io(path, "reading metadata", e)),
                _ => metadata(path),
            })
            .collect();
        for ((_, path, name), meta) in listed.into_iter().zip(metas) {
            let meta = meta?;
            if meta.is_dir() {
                let key = (meta.dev(), meta.ino());
                if ancestors.contains(&key) {
                    return Err(Error::SymlinkLoop { path });
                }
                let index = walk.dirs.len();
                walk.dirs.push(path);
                let mut chain = ancestors.clone();
                chain.push(key);
                stack.push((index, chain));
                walk.entries.push(Entry {
                    parent: dir_index,
                    name,
                    kind: EntryKind::Dir { index },
                });
            } else if meta.is_file() {
                walk.total_bytes += meta.len();
                walk.entries.push(Entry {
                    parent: dir_index,
                    name,
                    kind: EntryKind::File { path, meta },
                });
            } else {
                return Err(Error::UnsupportedFileType {
                    path,
                    what: file_type_name(&meta),
                });
            }
        }
    }
    Ok(walk)
}

fn hash_tree(root: &Path, opts: &HashOptions<'_>) -> Result<ContentId> {
    let walk = walk(root)?;
    let progress = Progress::bytes(walk.total_bytes, "hashing", opts.progress);
    // The stat cache first, one directory (one cache shard) at a time.
    let mut cached: Vec<Option<String>> = vec![None; walk.entries.len()];
    if let Some(cache) = opts.cache {
        // Per directory: the entry index of each file, and its (name, stat) query.
        let mut entries_of: Vec<Vec<usize>> = vec![Vec::new(); walk.dirs.len()];
        let mut queries_of: Vec<Vec<(&str, FileStat)>> = vec![Vec::new(); walk.dirs.len()];
        for (i, entry) in walk.entries.iter().enumerate() {
            if let EntryKind::File { meta, .. } = &entry.kind {
                entries_of[entry.parent].push(i);
                queries_of[entry.parent].push((entry.name.as_str(), FileStat::of(meta)));
            }
        }
        for ((dir, entries), queries) in walk.dirs.iter().zip(&entries_of).zip(&queries_of) {
            if entries.is_empty() {
                continue;
            }
            for (&i, hit) in entries.iter().zip(cache.lookup_dir(dir, queries)) {
                cached[i] = hit;
            }
        }
    }
    // Then hash what the cache did not know, in parallel across files.
    let file_digests: Vec<Option<Result<(String, u64)>>> = walk
        .entries
        .par_iter()
        .zip(cached.into_par_iter())
        .map(|(entry, hit)| match &entry.kind {
            EntryKind::File { path, meta } => Some((|| {
                if let Some(hex) = hit {
                    progress.inc(meta.len());
                    return Ok((hex, 0));
                }
                let hex = hash_file_checked(path, meta, opts.cache, &progress)?;
                Ok((hex, meta.len()))
            })()),
            EntryKind::Dir { .. } => None,
        })
        .collect();
    progress.finish();

    // Children per directory, then digests bottom-up: a directory is discovered after its
    // parent, so walking the directory list backwards visits children first.
    let mut children: Vec<Vec<(usize, &str)>> = vec![Vec::new(); walk.dirs.len()];
    for (i, entry) in walk.entries.iter().enumerate() {
        children[entry.parent].push((i, entry.name.as_str()));
    }
    let mut dir_digest: Vec<Option<(blake3::Hash, u64, u64)>> = vec![None; walk.dirs.len()];
    let mut bytes_hashed = 0u64;
    let mut resolved: Vec<Option<String>> = Vec::with_capacity(file_digests.len());
    for digest in file_digests {
        resolved.push(match digest {
            Some(result) => {
                let (hex, hashed) = result?;
                bytes_hashed += hashed;
                Some(hex)
            }
            None => None,
        });
    }
    for dir_index in (0..walk.dirs.len()).rev() {
        let kids = &mut children[dir_index];
        kids.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"mlprov-tree-v1\0");
        let (mut size, mut files) = (0u64, 0u64);
        for &(entry_index, name) in kids.iter() {
            let entry = &walk.entries[entry_index];
            let (kind, digest, child_size) = match &entry.kind {
                EntryKind::File { meta, .. } => {
                    let hex = resolved[entry_index]
                        .as_deref()
                        .expect("file digests resolved");
                    files += 1;
                    let hash = blake3::Hash::from_hex(hex).expect("hex from blake3");
                    (b'f', hash, meta.len())
                }
                EntryKind::Dir { index } => {
                    let (hash, sub_size, sub_files) =
                        dir_digest[*index].expect("children before parents");
                    files += sub_files;
                    (b'd', hash, sub_size)
                }
            };
            hasher.update(&[kind]);
            hasher.update(&(name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update(&child_size.to_le_bytes());
            hasher.update(digest.as_bytes());
            size += child_size;
        }
        dir_digest[dir_index] = Some((hasher.finalize(), size, files));
    }
    let (root_hash, size, files) = dir_digest[0].expect("root digest");
    let hex = root_hash.to_hex().to_string();
    if let Some(cache) = opts.cache {
        cache.flush();
    }
    Ok(ContentId {
        artifact_id: id::tree(&hex),
        hex,
        size_bytes: size,
        file_count: files,
        is_dir: true,
        bytes_hashed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree_id(dir: &Path) -> String {
        identify(dir, &HashOptions::default()).unwrap().artifact_id
    }

    #[test]
    fn file_digest_is_plain_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        let data: Vec<u8> = (0..(5u32 << 20)).map(|i| (i % 251) as u8).collect();
        fs::write(&p, &data).unwrap();
        let id = identify(&p, &HashOptions::default()).unwrap();
        assert_eq!(id.hex, blake3::hash(&data).to_hex().to_string());
        assert_eq!(id.size_bytes, data.len() as u64);
        fs::write(&p, b"small").unwrap();
        assert_eq!(
            identify(&p, &HashOptions::default()).unwrap().hex,
            blake3::hash(b"small").to_hex().to_string()
        );
    }

    #[test]
    fn tree_digest_is_stable_and_sensitive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("a.txt"), b"a").unwrap();
        fs::write(root.join("sub/b.txt"), b"b").unwrap();
        let first = tree_id(&root);
        assert_eq!(first, tree_id(&root));
        assert!(first.starts_with(id::TREE));

        // The store's own folder never changes the digest.
        fs::create_dir_all(root.join(".mlprov/segments")).unwrap();
        fs::write(root.join(".mlprov/x"), b"x").unwrap();
        assert_eq!(first, tree_id(&root));

        fs::write(root.join("sub/b.txt"), b"B").unwrap();
        let changed = tree_id(&root);
        assert_ne!(first, changed);
        fs::write(root.join("sub/b.txt"), b"b").unwrap();
        assert_eq!(first, tree_id(&root));

        // Renaming a file changes the digest; so does removing an empty directory.
        fs::rename(root.join("a.txt"), root.join("c.txt")).unwrap();
        assert_ne!(first, tree_id(&root));
        fs::rename(root.join("c.txt"), root.join("a.txt")).unwrap();
        fs::remove_dir(root.join("sub/deeper")).unwrap();
        assert_ne!(first, tree_id(&root));
    }

    #[test]
    fn symlinks_are_followed_and_loops_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir_all(&root).unwrap();
        fs::write(dir.path().join("blob"), b"weights").unwrap();
        std::os::unix::fs::symlink(dir.path().join("blob"), root.join("model.bin")).unwrap();
        let linked = identify(&root, &HashOptions::default()).unwrap();
        assert_eq!(linked.size_bytes, 7);

        std::os::unix::fs::symlink(&root, root.join("again")).unwrap();
        let err = identify(&root, &HashOptions::default()).unwrap_err();
        assert!(matches!(err, Error::SymlinkLoop { .. }), "{err}");

        let looped = dir.path().join("self");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let err = identify(&looped, &HashOptions::default()).unwrap_err();
        assert!(matches!(err, Error::SymlinkLoop { .. }), "{err}");
    }

    #[test]
    fn non_utf8_names_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir_all(&root).unwrap();
        let bad = root.join(std::ffi::OsStr::from_bytes(b"bad\xff.txt"));
        fs::write(&bad, b"x").unwrap();
        assert!(matches!(
            identify(&root, &HashOptions::default()),
            Err(Error::NonUtf8Path { .. })
        ));
        assert!(matches!(
            identify(&bad, &HashOptions::default()),
            Err(Error::NonUtf8Path { .. })
        ));
    }

    #[test]
    fn missing_path_is_its_own_error() {
        let err = identify(Path::new("/definitely/not/here"), &HashOptions::default()).unwrap_err();
        assert!(matches!(err, Error::MissingPath { .. }));
    }
}
