//! One error type for the library. Every variant says which file or record is at fault and
//! what the user can do about it, and maps to the documented exit code.

use std::path::PathBuf;

/// Exit code for a clean run.
pub const EXIT_OK: i32 = 0;
/// Exit code when a check (verify, audit, cycle detection) found problems.
pub const EXIT_PROBLEMS: i32 = 1;
/// Exit code for bad usage or bad input: nothing was written.
pub const EXIT_BAD_INPUT: i32 = 2;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no mlprov store found from {start} upwards\n  hint: run `mlprov init` in your project root, or pass --store PATH / set MLPROV_STORE")]
    StoreNotFound { start: PathBuf },

    #[error("{path}: not an mlprov store ({reason})\n  hint: point --store at the directory that contains .mlprov/, or run `mlprov init` there")]
    NotAStore { path: PathBuf, reason: String },

    #[error("{url}: object-storage stores ({scheme}://) are not supported by this build yet\n  hint: use a local or network-mounted directory for now; the segment layout is the same")]
    UnsupportedStoreUrl { url: String, scheme: String },

    #[error("{url}: not a usable store URL ({reason})\n  hint: use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX (or a local path); credentials, region and endpoint come from the usual environment variables (docs/team-store.md)")]
    BadStoreUrl { url: String, reason: String },

    #[error("{url}: not an mlprov store ({reason})\n  hint: create it once with `mlprov init {url}` (the bucket must exist), or check the bucket and prefix")]
    NotARemoteStore { url: String, reason: String },

    #[error("{url}: {action} failed: {reason}\n  hint: {hint}")]
    ObjectStore {
        url: String,
        action: &'static str,
        reason: String,
        hint: String,
    },

    #[error("{path}: {action} failed: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: no such file or directory\n  hint: check the path; tag files that exist on this machine")]
    MissingPath { path: PathBuf },

    #[error("{path}: file name is not valid UTF-8\n  hint: rename the file; provenance records store names as UTF-8 so every engine can read them")]
    NonUtf8Path { path: PathBuf },

    #[error("{path}: symbolic link loop (or a link that points into its own ancestors)\n  hint: remove or fix the link, then tag again")]
    SymlinkLoop { path: PathBuf },

    #[error("{path}: unsupported file type ({what})\n  hint: only regular files, directories and links to them can be tagged")]
    UnsupportedFileType { path: PathBuf, what: &'static str },

    #[error("{path}: corrupt store segment: {reason}\n  hint: run `mlprov verify`; move the file out of the store if it cannot be read (records in other segments are unaffected)")]
    CorruptSegment { path: PathBuf, reason: String },

    #[error("{file}: record {record}: {reason}\n  hint: fix that record and run the command again; nothing was written")]
    BadRecord {
        file: String,
        record: String,
        reason: String,
    },

    #[error("no artifact or run matches '{reference}'\n  hint: use an id (or a unique id prefix of at least 6 hex digits), a recorded name, or the path of a tagged file; `mlprov ls` lists what is recorded")]
    UnknownReference { reference: String },

    #[error("'{reference}' is ambiguous: it matches {candidates}\n  hint: use a longer id prefix or the full id")]
    AmbiguousReference {
        reference: String,
        candidates: String,
    },

    #[error("{path}: cannot count the dataset's rows per source: {reason}\n  hint: fix or remove that file and tag again; nothing was recorded")]
    BadDataset { path: PathBuf, reason: String },

    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::NotFound => Error::MissingPath { path },
            _ if source.raw_os_error() == Some(40) /* ELOOP */ => Error::SymlinkLoop { path },
            _ => Error::Io {
                path,
                action,
                source,
            },
        }
    }

    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn bad_record(
        file: impl Into<String>,
        record: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::BadRecord {
            file: file.into(),
            record: record.into(),
            reason: reason.into(),
        }
    }

    /// The documented process exit code for this error: every error is bad input or an
    /// environment problem the user must fix, so nothing maps to "problems found" here.
    pub fn exit_code(&self) -> i32 {
        EXIT_BAD_INPUT
    }
}
