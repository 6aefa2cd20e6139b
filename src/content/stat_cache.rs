//! Stat cache: (device, inode, size, mtime, ctime) → digest, so re-tagging unchanged data does
//! not read it again.
//!
//! Entries are sharded by parent directory, one small JSON file per directory, each replaced
//! whole by write-then-rename. Concurrent taggers therefore never corrupt the cache: at worst
//! one process's new entries are dropped and recomputed later. An unreadable shard is a miss.
//!
//! Racy-clean files (modified within `RACY_WINDOW` before hashing began) are not cached:
//! coarse file-system timestamps could otherwise hide a write made in the same clock tick.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

const RACY_WINDOW: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl FileStat {
    pub fn of(meta: &Metadata) -> Self {
        FileStat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedDigest {
    stat: FileStat,
    blake3: String,
}

#[derive(Default, Serialize, Deserialize)]
struct Shard {
    /// File name within the directory → its last known digest.
    files: HashMap<String, CachedDigest>,
    #[serde(skip)]
    dirty: bool,
}

impl Shard {
    /// The digest of `name`, if its stat is exactly what it was when hashed.
    fn digest(&self, name: &str, stat: &FileStat) -> Option<String> {
        self.files
            .get(name)
            .filter(|c| &c.stat == stat)
            .map(|c| c.blake3.clone())
    }
}

pub struct StatCache {
    dir: PathBuf,
    shards: Mutex<HashMap<PathBuf, Shard>>,
}

impl StatCache {
    /// A cache kept in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StatCache {
            dir: dir.into(),
            shards: Mutex::new(HashMap::new()),
        }
    }

    fn split(path: &Path) -> Option<(PathBuf, String)> {
        let abs = std::path::absolute(path).ok()?;
        let parent = abs.parent()?.to_path_buf();
        let name = abs.file_name()?.to_str()?.to_string();
        Some((parent, name))
    }

    fn shard_file(&self, parent: &Path) -> PathBuf {
        let key = blake3::hash(parent.as_os_str().as_encoded_bytes()).to_hex();
        self.dir.join(format!("{}.json", &key[..32]))
    }

    fn with_shard<T>(&self, parent: &Path, f: impl FnOnce(&mut Shard) -> T) -> T {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        let shard = shards.entry(parent.to_path_buf()).or_insert_with(|| {
            std::fs::read(self.shard_file(parent))
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default()
        });
        f(shard)
    }

    /// The cached digest, if the file's stat is exactly what it was when hashed.
    pub fn lookup(&self, path: &Path, stat: &FileStat) -> Option<String> {
        let (parent, name) = Self::split(path)?;
        self.with_shard(&parent, |shard| shard.digest(&name, stat))
    }

    /// Cached digests of many files of one directory (one shard, one lock): what a re-tag of
    /// a folder asks for every file.
    pub fn lookup_dir(&self, dir: &Path, files: &[(&str, FileStat)]) -> Vec<Option<String>> {
        // The shard key exactly as `remember` derives it from a file's path.
        let Some((parent, _)) = files
            .first()
            .and_then(|(name, _)| Self::split(&dir.join(name)))
        else {
            return vec![None; files.len()];
        };
        self.with_shard(&parent, |shard| {
            files
                .iter()
                .map(|(name, stat)| shard.digest(name, stat))
                .collect()
        })
    }

    /// Remember a digest computed from a read that began at `hash_started`.
    pub fn remember(&self, path: &Path, stat: FileStat, blake3: &str, hash_started: SystemTime) {
        let Some((parent, name)) = Self::split(path) else {
            return;
        };
        let modified = SystemTime::UNIX_EPOCH + Duration::from_nanos(stat.mtime_ns.max(0) as u64);
        let changed = SystemTime::UNIX_EPOCH + Duration::from_nanos(stat.ctime_ns.max(0) as u64);
        let racy = |t: SystemTime| t + RACY_WINDOW > hash_started;
        if racy(modified) || racy(changed) {
            return;
        }
        self.with_shard(&parent, |shard| {
            shard.files.insert(
                name,
                CachedDigest {
                    stat,
                    blake3: blake3.to_string(),
                },
            );
            shard.dirty = true;
        });
    }

    /// Write changed shards. Failures are ignored: the cache is only an accelerator.
    pub fn flush(&self) {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if shards.values().all(|s| !s.dirty) {
            return;
        }
        let _ = std::fs::create_dir_all(&self.dir);
        for (parent, shard) in shards.iter_mut().filter(|(_, s)| s.dirty) {
            let target = self.shard_file(parent);
            let tmp = self.dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
            if let Ok(bytes) = serde_json::to_vec(&*shard) {
                if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &target).is_ok() {
                    shard.dirty = false;
                    continue;
                }
            }
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

impl Drop for StatCache {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_only_when_stat_is_unchanged_and_not_racy() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"hello").unwrap();
        let stat = FileStat::of(&std::fs::metadata(&file).unwrap());
        let cache = StatCache::new(dir.path().join("cache"));

        // Hashing began right after the write: too fresh to trust.
        cache.remember(&file, stat, "h1", SystemTime::now());
        assert_eq!(cache.lookup(&file, &stat), None);

        cache.remember(
            &file,
            stat,
            "h1",
            SystemTime::now() + Duration::from_secs(1),
        );
        assert_eq!(cache.lookup(&file, &stat).as_deref(), Some("h1"));
        let mut changed = stat;
        changed.size += 1;
        assert_eq!(cache.lookup(&file, &changed), None);

        // Persisted across instances.
        cache.flush();
        let again = StatCache::new(dir.path().join("cache"));
        assert_eq!(again.lookup(&file, &stat).as_deref(), Some("h1"));
    }

    #[test]
    fn corrupt_shard_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let cache = StatCache::new(dir.path().join("cache"));
        let parent = std::path::absolute(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::fs::write(cache.shard_file(&parent), b"{not json").unwrap();
        let stat = FileStat::of(&std::fs::metadata(&file).unwrap());
        assert_eq!(cache.lookup(&file, &stat), None);
    }
}
