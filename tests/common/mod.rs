//! Helpers shared by the end-to-end tests: run the real binary against a temporary project.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
    /// Exit 2 with an `error:` line and no panic: the contract for bad input.
    pub fn assert_bad_input(&self, mentions: &[&str]) {
        assert_eq!(
            self.code, 2,
            "expected exit 2\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains("error:"),
            "no error line: {}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        for m in mentions {
            assert!(
                self.stderr.contains(m),
                "stderr lacks {m:?}: {}",
                self.stderr
            );
        }
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlprov"))
}

fn finish(out: Output) -> Ran {
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The bundled demo lineage built by `mlprov demo` in a temporary folder: the folder (keep it
/// alive) and the project path.
pub fn demo_project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let ran = mlprov_in(dir.path(), &["demo", "--dir", project.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "demo: {}", ran.stderr);
    (dir, project)
}

/// Run mlprov in `cwd` with no store configured by the environment.
pub fn mlprov_in(cwd: &Path, args: &[&str]) -> Ran {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("MLPROV_STORE")
        .env("NO_COLOR", "1")
        .output()
        .expect("run mlprov");
    finish(out)
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let ran = mlprov_in(dir.path(), &["init"]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        mlprov_in(self.path(), args)
    }

    pub fn ok(&self, args: &[&str]) -> Ran {
        let ran = self.run(args);
        assert_eq!(
            ran.code, 0,
            "mlprov {args:?} failed\nstdout: {}\nstderr: {}",
            ran.stdout, ran.stderr
        );
        ran
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Tag and return the artifact id.
    pub fn tag(&self, kind: &str, rel: &str, name: &str) -> String {
        let ran = self.ok(&["--format", "json", "tag", kind, rel, "--name", name]);
        ran.json()["artifact_id"].as_str().unwrap().to_string()
    }
}

/// Every `schemas/*.json`, parsed, by file name.
pub fn schema_docs() -> std::collections::BTreeMap<String, serde_json::Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut docs = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            docs.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                doc,
            );
        }
    }
    docs
}

/// Schema documents registered under their `$id`, for offline validation (no network, no files).
pub fn schema_registry<'a>(
    docs: impl IntoIterator<Item = &'a serde_json::Value>,
) -> jsonschema::Registry<'static> {
    jsonschema::Registry::new()
        .draft(jsonschema::Draft::Draft202012)
        .extend(docs.into_iter().map(|d| {
            let id = d["$id"]
                .as_str()
                .expect("every schema has an $id")
                .to_string();
            (id, d.clone())
        }))
        .expect("schema ids are URIs")
        .prepare()
        .expect("schemas register")
}

/// Python of the validators venv (`scripts/validators-venv`, run by `scripts/test`).
pub fn validator_python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-validators/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/validators-venv (./scripts/test does)",
        p.display()
    );
    p
}

/// Run `tests/validators/<script>` with `args`; panics with its output unless it exits 0.
pub fn validate_with(script: &str, args: &[&std::ffi::OsStr]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/validators")
        .join(script);
    let out = Command::new(validator_python())
        .arg(&script)
        .args(args)
        .output()
        .expect("run validator");
    assert!(
        out.status.success(),
        "{} rejected the document:\nstdout: {}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Write files `first..first+count` (named `fNNNNNN.txt`, bytes from `content(n)`) into `dir`;
/// returns (path, expected artifact id) pairs.
pub fn make_files(
    dir: &Path,
    first: u64,
    count: u64,
    content: impl Fn(u64) -> Vec<u8>,
) -> Vec<(PathBuf, String)> {
    std::fs::create_dir_all(dir).unwrap();
    (first..first + count)
        .map(|n| {
            let path = dir.join(format!("f{n:06}.txt"));
            let bytes = content(n);
            std::fs::write(&path, &bytes).unwrap();
            (path, format!("blake3:{}", blake3::hash(&bytes).to_hex()))
        })
        .collect()
}
