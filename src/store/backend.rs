//! Where segment files live. A backend stores immutable objects under relative keys and
//! offers exactly the operations an append-only store needs: list, read whole, create a new
//! object atomically, delete. The local directory backend is the default; object storage
//! (one PUT per segment, `object.rs`) fits the same four operations.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Result};

/// An object found by listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store root, `/`-separated.
    pub key: String,
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
}

pub trait Backend: Send + Sync {
    /// Human-readable location for messages.
    fn describe(&self) -> String;
    /// Objects directly under `prefix/` (not recursive); a missing prefix is empty.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// Whole object; `Ok(None)` when it does not exist (it may have been compacted away).
    fn get(&self, key: &str) -> Result<Option<Bytes>>;
    /// Create `key` with `bytes`, durable and atomically visible on return.
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// Remove `key`; removing a missing key is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// Local path of a key, when the store is a local directory.
    fn local_path(&self, key: &str) -> Option<PathBuf>;
    /// Where a key lives, for messages: a path or a URL.
    fn location_of(&self, key: &str) -> String {
        match self.local_path(key) {
            Some(p) => p.display().to_string(),
            None => format!("{}/{key}", self.describe()),
        }
    }
    /// Whole objects for many keys, in order (`None` for those that do not exist). Object
    /// storage fetches them concurrently; a directory reads them on the rayon pool.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        use rayon::prelude::*;
        keys.par_iter().map(|k| self.get(k)).collect()
    }
    /// Remove many keys (missing ones are not an error); object storage batches the requests.
    fn delete_many(&self, keys: &[String]) -> Result<()> {
        keys.iter().try_for_each(|k| self.delete(k))
    }
}

/// Segments as files in a local (or network-mounted) directory.
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBackend { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

/// Names starting with '.' are work in progress (temporary files) and never listed.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let dir = self.path(prefix);
        let read = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(dir, "listing store", e)),
        };
        let mut out = Vec::new();
        for item in read {
            let item = item.map_err(|e| Error::io(&dir, "listing store", e))?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if is_temporary(&name) {
                continue;
            }
            let meta = match item.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(item.path(), "reading metadata", e)),
            };
            if !meta.is_file() {
                continue;
            }
            out.push(ObjectInfo {
                key: format!("{prefix}/{name}"),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, "reading segment", e)),
        }
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let target = self.path(key);
        let dir = target.parent().expect("keys have a folder").to_path_buf();
        let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let result = (|| {
            // The table folder exists after the first write; creating it only when missing
            // saves two system calls on every tagging call.
            let mut file = match std::fs::File::create(&tmp) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| Error::io(&dir, "creating store folder", e))?;
                    std::fs::File::create(&tmp)
                }
                other => other,
            }
            .map_err(|e| Error::io(&tmp, "creating segment", e))?;
            file.write_all(bytes)
                .map_err(|e| Error::io(&tmp, "writing segment", e))?;
            file.sync_data()
                .map_err(|e| Error::io(&tmp, "syncing segment", e))?;
            std::fs::rename(&tmp, &target)
                .map_err(|e| Error::io(&target, "publishing segment", e))?;
            // The rename is durable only once the directory entry is.
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(&dir, "syncing store folder", e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path, "removing segment", e)),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        Some(self.path(key))
    }
}

/// Temporary files left by killed writers, older than `age`.
pub fn stale_temporaries(root: &Path, tables: &[&str], age: std::time::Duration) -> Vec<PathBuf> {
    let now = std::time::SystemTime::now();
    let mut out = Vec::new();
    for table in tables {
        let Ok(read) = std::fs::read_dir(root.join(table)) else {
            continue;
        };
        for item in read.flatten() {
            let name = item.file_name();
            if !is_temporary(&name.to_string_lossy()) {
                continue;
            }
            let old = item
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| now.duration_since(m).unwrap_or_default() >= age)
                .unwrap_or(false);
            if old {
                out.push(item.path());
            }
        }
    }
    out
}
