//! One store for a whole team, on object storage: every test here (but the last) runs the real
//! `mlprov` binary against a real S3-protocol server, `moto_server` from PyPI (installed in
//! `.venv-validators` by `scripts/validators-venv`), started on 127.0.0.1 by the test itself.
//! Nothing is mocked inside the process: requests go over HTTP, signed, with retries.
//!
//! What is proven: every command works with `--store s3://bucket/prefix`; errors name the URL
//! and say what to do; 8 processes writing at once lose nothing; writers killed with SIGKILL
//! leave a readable store with every acknowledged record; compaction beside writers and readers
//! loses and duplicates nothing that readers see; DuckDB and polars (the examples of
//! docs/team-store.md, run as written) count what mlprov counts; `audit --as-of` a past time
//! reproduces that time's findings.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlprov"))
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Variables that would change which server, credentials or store the child uses.
const FOREIGN_ENV: [&str; 14] = [
    "MLPROV_STORE",
    "MLPROV_STORE_RETRIES",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONDITIONAL_PUT",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SKIP_SIGNATURE",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

/// A `moto_server` on a free 127.0.0.1 port, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
    /// The local cache folder of the children (XDG_CACHE_HOME): keeps the stat cache out of ~.
    cache: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// One HTTP/1.1 request to 127.0.0.1:port; returns the status code.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.200}")))
}

impl Moto {
    fn start() -> Moto {
        let exe = manifest().join(".venv-validators/bin/moto_server");
        assert!(
            exe.exists(),
            "{} is missing: run ./scripts/validators-venv (./scripts/test does)",
            exe.display()
        );
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            // Wait (bounded) until it answers; if it exits, the port was taken: try another.
            for _ in 0..600 {
                if child.try_wait().expect("poll moto_server").is_some() {
                    break;
                }
                if http(port, "GET", "/").is_ok() {
                    return Moto {
                        child,
                        port,
                        cache: tempfile::tempdir().unwrap(),
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start on 127.0.0.1");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Create a bucket and return the store URL `s3://bucket/prefix` in it.
    fn bucket(&self, bucket: &str, prefix: &str) -> String {
        let status = http(self.port, "PUT", &format!("/{bucket}")).expect("create bucket");
        assert_eq!(status, 200, "creating bucket {bucket}");
        format!("s3://{bucket}/{prefix}")
    }

    /// Environment of a client of this server: mlprov, DuckDB, polars alike.
    fn env(&self, cmd: &mut Command) {
        for var in FOREIGN_ENV {
            cmd.env_remove(var);
        }
        cmd.env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("XDG_CACHE_HOME", self.cache.path())
            .env("NO_COLOR", "1");
    }

    /// `mlprov --store URL` in `cwd`.
    fn mlprov(&self, url: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new(bin());
        self.env(&mut cmd);
        cmd.current_dir(cwd).arg("--store").arg(url);
        cmd
    }

    fn run(&self, url: &str, cwd: &Path, args: &[&str]) -> Output {
        self.mlprov(url, cwd)
            .args(args)
            .output()
            .expect("run mlprov")
    }

    /// Run and require exit 0; returns stdout.
    fn ok(&self, url: &str, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(url, cwd, args);
        assert!(
            out.status.success(),
            "mlprov {args:?} exited {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn json(&self, url: &str, cwd: &Path, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--format", "json"];
        full.extend_from_slice(args);
        let stdout = self.ok(url, cwd, &full);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("mlprov {args:?}: not JSON ({e}): {stdout}"))
    }

    /// Artifact ids listed by `ls`; Err with the output when it fails.
    fn ls_ids(&self, url: &str, cwd: &Path) -> Result<Vec<String>, String> {
        let out = self.run(url, cwd, &["--format", "json", "ls"]);
        if !out.status.success() {
            return Err(format!(
                "ls exited {:?}: {}",
                out.status.code(),
                text(&out.stderr)
            ));
        }
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("ls output is not JSON ({e}): {}", text(&out.stdout)))?;
        Ok(doc["artifacts"]
            .as_array()
            .ok_or_else(|| format!("no artifacts array: {doc}"))?
            .iter()
            .map(|a| a["id"].as_str().unwrap_or_default().to_string())
            .collect())
    }

    /// `verify --no-rehash`, which must be clean; returns the report.
    fn verify_clean(&self, url: &str, cwd: &Path) -> serde_json::Value {
        let out = self.run(url, cwd, &["--format", "json", "verify", "--no-rehash"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify output is not JSON ({e})\nstdout: {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        assert_eq!(out.status.code(), Some(0), "verify not clean: {doc:#}");
        assert_eq!(doc["clean"], serde_json::json!(true), "{doc:#}");
        doc
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Distinct content for file number `n`.
fn content(n: u64) -> Vec<u8> {
    let mut body = format!("mlprov team store test file #{n}\n").into_bytes();
    body.resize(64 + (n % 200) as usize, b'a' + (n % 26) as u8);
    body
}

/// Write files `first..first+count` into `dir`; returns (path, expected artifact id).
fn make_files(dir: &Path, first: u64, count: u64) -> Vec<(PathBuf, String)> {
    common::make_files(dir, first, count, content)
}

/// Acknowledged artifact ids among `--format json` tag output lines.
fn acks(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some(v["artifact_id"].as_str()?.to_string()))
        .collect()
}

/// Read complete stdout lines of a child on a thread, passing each to `each` as it arrives.
fn stream_lines(
    child: &mut Child,
    each: impl Fn(&str) + Send + 'static,
) -> std::thread::JoinHandle<Vec<String>> {
    let stdout = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => {
                    let line = line.trim_end_matches('\n').to_string();
                    each(&line);
                    lines.push(line);
                }
                Ok(_) => break, // a partial last line is no acknowledgement
            }
        }
        lines
    })
}

#[test]
fn every_command_works_on_s3() {
    let moto = Moto::start();
    let url = moto.bucket("team-prov", "ml/provenance");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    std::fs::create_dir_all(cwd.join("data")).unwrap();
    std::fs::write(cwd.join("data/a.jsonl"), b"{\"q\": 1}\n").unwrap();
    std::fs::write(cwd.join("data/b.jsonl"), b"{\"q\": 2}\n").unwrap();
    std::fs::create_dir_all(cwd.join("ckpt")).unwrap();
    std::fs::write(cwd.join("ckpt/model.safetensors"), b"weights").unwrap();

    // `init URL` creates it; again is harmless; `--store URL init` is the same.
    let created = moto.json(&url, cwd, &["init", &url]);
    assert_eq!(created["store"], serde_json::json!(url));
    moto.ok(&url, cwd, &["init"]);

    moto.ok(
        &url,
        cwd,
        &[
            "tag",
            "model",
            "--model",
            "meta-llama/Llama-3.1-70B-Instruct@main",
            "--channel",
            "weights",
            "--license",
            "llama3.1",
        ],
    );
    moto.ok(
        &url,
        cwd,
        &[
            "tag",
            "synthetic",
            "data/a.jsonl",
            "--generator",
            "meta-llama/Llama-3.1-70B-Instruct@main",
            "--name",
            "synth-a",
        ],
    );
    moto.ok(
        &url,
        cwd,
        &["tag", "dataset", "data/b.jsonl", "--name", "b"],
    );
    moto.ok(
        &url,
        cwd,
        &[
            "run",
            "fine_tune",
            "--name",
            "sft",
            "--input",
            "training_data=synth-a",
            "--input",
            "training_data=b",
            "--output",
            "ckpt",
        ],
    );
    moto.ok(
        &url,
        cwd,
        &["release", "ckpt", "--distribution", "external_weights"],
    );

    let ls = moto.json(&url, cwd, &["ls"]);
    assert_eq!(ls["artifacts"].as_array().unwrap().len(), 4, "{ls:#}");
    let runs = moto.json(&url, cwd, &["ls", "runs"]);
    // The synthetic tag recorded its generate run; then the fine-tune.
    let kinds: BTreeSet<&str> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["generate", "fine_tune"]), "{runs:#}");
    moto.json(&url, cwd, &["show", "ckpt"]);
    let lineage = moto.json(&url, cwd, &["lineage", "ckpt"]);
    assert!(
        lineage.to_string().contains("synth-a"),
        "lineage of ckpt lacks its input: {lineage:#}"
    );
    // The audit finds the Llama 3.1 naming duty (exit 1: problems found).
    let audit = moto.run(&url, cwd, &["--format", "json", "audit"]);
    assert!(
        matches!(audit.status.code(), Some(0) | Some(1)),
        "{}",
        text(&audit.stderr)
    );
    let findings: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "L105"),
        "exit {:?}: {findings:#}",
        audit.status.code()
    );
    moto.ok(
        &url,
        cwd,
        &["report", "ckpt", "--to", "json", "-o", "r.json"],
    );
    assert!(cwd.join("r.json").is_file());
    moto.ok(
        &url,
        cwd,
        &["export", "--to", "openlineage", "-o", "ol.jsonl"],
    );
    assert!(cwd.join("ol.jsonl").is_file());

    // verify re-hashes local files through the local stat cache.
    let report = moto.verify_clean(&url, cwd);
    let segments_before = report["segments"].as_u64().unwrap();
    let full = moto.run(&url, cwd, &["--format", "json", "verify"]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full.stdout));
    assert!(
        moto.cache.path().join("mlprov/stat").is_dir(),
        "the stat cache of a store on S3 lives in the local cache folder"
    );

    // The same store through MLPROV_STORE; compaction leaves one segment per table.
    let mut cmd = Command::new(bin());
    moto.env(&mut cmd);
    let out = cmd
        .env("MLPROV_STORE", &url)
        .current_dir(cwd)
        .args(["--format", "json", "compact"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let compacted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        compacted["segments_before"].as_u64(),
        Some(segments_before),
        "{compacted}"
    );
    let after = moto.verify_clean(&url, cwd);
    assert_eq!(after["records"], report["records"], "{after:#}");
    assert_eq!(
        after["segments"].as_u64(),
        compacted["segments_after"].as_u64()
    );
    assert!(after["segments"].as_u64().unwrap() <= 5, "{after:#}");
    assert_eq!(moto.json(&url, cwd, &["ls"]), ls);
}

#[test]
fn s3_errors_name_the_url_and_what_to_do() {
    let moto = Moto::start();
    let url = moto.bucket("team-errors", "prov");
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let expect_bad = |out: Output, mentions: &[&str]| {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "expected exit 2: {stderr}");
        assert!(stderr.contains("error:"), "{stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for m in mentions {
            assert!(stderr.contains(m), "stderr lacks {m:?}: {stderr}");
        }
    };

    // A prefix nobody initialised.
    expect_bad(
        moto.run(&url, cwd, &["ls"]),
        &[&url, "not an mlprov store", "mlprov init"],
    );
    // A bucket that does not exist.
    expect_bad(
        moto.run("s3://no-such-bucket/x", cwd, &["init"]),
        &["s3://no-such-bucket/x", "bucket"],
    );
    // Nothing listens there: bounded retries, then the URL and what to check.
    let dead = free_port();
    let mut cmd = moto.mlprov(&url, cwd);
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{dead}"))
        .env("MLPROV_STORE_RETRIES", "1");
    expect_bad(
        cmd.arg("ls").output().unwrap(),
        &[&url, "AWS_ENDPOINT_URL", "retried"],
    );
    // An http:// endpoint needs AWS_ALLOW_HTTP.
    let mut cmd = moto.mlprov(&url, cwd);
    cmd.env_remove("AWS_ALLOW_HTTP");
    expect_bad(cmd.arg("ls").output().unwrap(), &["AWS_ALLOW_HTTP"]);
    // No credentials and no instance metadata.
    let mut cmd = moto.mlprov(&url, cwd);
    cmd.env_remove("AWS_ACCESS_KEY_ID");
    expect_bad(cmd.arg("ls").output().unwrap(), &["credentials"]);
    // URLs that are not stores.
    for bad in ["s3://", "s3:///prefix", "ftp://host/x", "s3://b/a/../c"] {
        expect_bad(moto.run(bad, cwd, &["ls"]), &["not a usable store URL"]);
    }
    // A corrupt segment on S3 is named by its URL.
    moto.ok(&url, cwd, &["init"]);
    let seg = "/team-errors/prov/segments/artifacts/00000000-bad.parquet";
    let mut s = TcpStream::connect(("127.0.0.1", moto.port)).unwrap();
    let body = b"definitely not parquet";
    write!(
        s,
        "PUT {seg} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        moto.port,
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    expect_bad(
        moto.run(&url, cwd, &["ls"]),
        &[
            "s3://team-errors/prov/segments/artifacts/00000000-bad.parquet",
            "corrupt",
        ],
    );
}

#[test]
fn eight_processes_writing_at_once_lose_nothing() {
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 25;
    let moto = Moto::start();
    let url = moto.bucket("team-writers", "prov");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    moto.ok(&url, cwd, &["init"]);
    let folders: Vec<Vec<(PathBuf, String)>> = (0..WRITERS)
        .map(|w| make_files(&cwd.join(format!("d{w}")), w * PER_WRITER, PER_WRITER))
        .collect();
    let expected: BTreeSet<String> = folders.iter().flatten().map(|(_, id)| id.clone()).collect();
    assert_eq!(expected.len(), (WRITERS * PER_WRITER) as usize);

    let children: Vec<Child> = folders
        .iter()
        .map(|files| {
            moto.mlprov(&url, cwd)
                .args(["--format", "json", "tag", "dataset"])
                .args(files.iter().map(|(p, _)| p))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn mlprov tag")
        })
        .collect();
    let waiters: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || c.wait_with_output().unwrap()))
        .collect();
    let mut acknowledged = BTreeSet::new();
    for (w, waiter) in waiters.into_iter().enumerate() {
        let out = waiter.join().unwrap();
        assert!(
            out.status.success(),
            "writer {w}: {:?} {}",
            out.status,
            text(&out.stderr)
        );
        let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
        let got = acks(&lines);
        assert_eq!(got.len(), PER_WRITER as usize, "writer {w}: {lines:?}");
        acknowledged.extend(got);
    }
    assert_eq!(acknowledged, expected);
    let listed: Vec<String> = moto.ls_ids(&url, cwd).unwrap();
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "ls lists an artifact twice");
    assert_eq!(unique, expected);
    let report = moto.verify_clean(&url, cwd);
    assert_eq!(report["artifacts"], serde_json::json!(expected.len()));
}

#[test]
fn killed_writers_leave_a_readable_store() {
    const ITERATIONS: u64 = 12;
    const FILES: u64 = 12;
    let moto = Moto::start();
    let url = moto.bucket("team-kills", "prov");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    moto.ok(&url, cwd, &["init"]);
    let mut acknowledged = BTreeSet::new();
    let mut outcomes = BTreeMap::new();
    for i in 0..ITERATIONS {
        let files = make_files(&cwd.join(format!("i{i}")), 100_000 + i * FILES, FILES);
        let mut child = moto
            .mlprov(&url, cwd)
            .args(["--format", "json", "tag", "dataset"])
            .args(files.iter().map(|(p, _)| p))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once the writer has acknowledged `i % FILES` files: it is then in the middle of
        // hashing, encoding or PUTting the next one (or, for 0, starting up).
        let kill_after = (i % FILES) as usize;
        let seen = Arc::new(Mutex::new(0usize));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let counter = seen.clone();
        let reader = stream_lines(&mut child, move |line| {
            if line.contains("artifact_id") {
                let mut n = counter.lock().unwrap();
                *n += 1;
                if *n >= kill_after {
                    let _ = tx.send(());
                }
            }
        });
        if kill_after > 0 {
            // Returns when the count is reached or the writer closed its output.
            let _ = rx.recv();
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let got = acks(&reader.join().unwrap());
        let expected: HashMap<&str, ()> = files.iter().map(|(_, id)| (id.as_str(), ())).collect();
        for id in &got {
            assert!(expected.contains_key(id.as_str()), "iteration {i}: {id}");
        }
        let outcome = match got.len() as u64 {
            _ if status.success() => "finished",
            0 => "killed before any acknowledgement",
            FILES => "killed after the last acknowledgement",
            _ => "killed mid-way",
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
        acknowledged.extend(got);
    }
    eprintln!(
        "killed writers: {outcomes:?}, {} acknowledged",
        acknowledged.len()
    );
    // The store opens, verifies clean (no torn segment is visible) and lost nothing.
    let report = moto.verify_clean(&url, cwd);
    let listed: BTreeSet<String> = moto.ls_ids(&url, cwd).unwrap().into_iter().collect();
    let lost: Vec<_> = acknowledged.difference(&listed).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(report["segments"].as_u64().unwrap() >= acknowledged.len() as u64);
    // And writing goes on.
    let more = make_files(&cwd.join("after"), 900_000, 1);
    moto.ok(&url, cwd, &["tag", "dataset", more[0].0.to_str().unwrap()]);
    assert!(moto.ls_ids(&url, cwd).unwrap().contains(&more[0].1));
}

#[test]
fn compaction_beside_writers_and_readers_loses_and_duplicates_nothing() {
    const WRITERS: u64 = 2;
    const PER_WRITER: u64 = 30;
    const MIN_COMPACTIONS: usize = 3;
    let moto = Arc::new(Moto::start());
    let url = moto.bucket("team-compact", "prov");
    let work = tempfile::tempdir().unwrap();
    let cwd: PathBuf = work.path().to_path_buf();
    moto.ok(&url, &cwd, &["init"]);
    // Something to compact from the start.
    let seed = make_files(&cwd.join("seed"), 500_000, 10);
    let mut args = vec![
        "--format".to_string(),
        "json".into(),
        "tag".into(),
        "dataset".into(),
    ];
    args.extend(seed.iter().map(|(p, _)| p.display().to_string()));
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let seed_acks = acks(
        &moto
            .ok(&url, &cwd, &args_ref)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>(),
    );
    assert_eq!(seed_acks.len(), seed.len());
    let acknowledged: Arc<Mutex<BTreeSet<String>>> =
        Arc::new(Mutex::new(seed_acks.into_iter().collect()));
    let writing = Arc::new(AtomicBool::new(true));

    // Reader: every ls lists each artifact once, and every artifact acknowledged before it began.
    let reader = {
        let (moto, url, cwd, writing, acknowledged) = (
            moto.clone(),
            url.clone(),
            cwd.clone(),
            writing.clone(),
            acknowledged.clone(),
        );
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut reads = 0;
            loop {
                let done = !writing.load(Ordering::SeqCst);
                let before: BTreeSet<String> = acknowledged.lock().unwrap().clone();
                match moto.ls_ids(&url, &cwd) {
                    Ok(ids) => {
                        let unique: BTreeSet<String> = ids.iter().cloned().collect();
                        if unique.len() != ids.len() {
                            failures.push(format!("read {reads}: an artifact listed twice"));
                        }
                        let missing: Vec<_> = before.difference(&unique).take(3).collect();
                        if !missing.is_empty() {
                            failures.push(format!(
                                "read {reads}: acknowledged before the read but not listed: {missing:?}"
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("read {reads}: {e}")),
                }
                reads += 1;
                if done {
                    return (reads, failures);
                }
            }
        })
    };
    let compactor = {
        let (moto, url, cwd, writing) = (moto.clone(), url.clone(), cwd.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut runs = Vec::new();
            while writing.load(Ordering::SeqCst) || runs.len() < MIN_COMPACTIONS {
                let out = moto.run(&url, &cwd, &["--format", "json", "compact"]);
                runs.push((out.status.code(), text(&out.stdout), text(&out.stderr)));
            }
            runs
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let files = make_files(
                &cwd.join(format!("w{w}")),
                600_000 + w * PER_WRITER,
                PER_WRITER,
            );
            let mut child = moto
                .mlprov(&url, &cwd)
                .args(["--format", "json", "tag", "dataset"])
                .args(files.iter().map(|(p, _)| p))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let sink = acknowledged.clone();
            let lines = stream_lines(&mut child, move |line| {
                sink.lock().unwrap().extend(acks(&[line.to_string()]));
            });
            (child, lines, files)
        })
        .collect();
    let mut complaints = Vec::new();
    let mut all_files = BTreeSet::new();
    for (w, (child, lines, files)) in writers.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        lines.join().unwrap();
        if !out.status.success() {
            complaints.push(format!(
                "writer {w}: {:?} {}",
                out.status,
                text(&out.stderr)
            ));
        }
        all_files.extend(files.into_iter().map(|(_, id)| id));
    }
    writing.store(false, Ordering::SeqCst);
    let compactions = compactor.join().unwrap();
    let (reads, read_failures) = reader.join().unwrap();
    complaints.extend(read_failures.into_iter().take(5));
    complaints.extend(
        compactions
            .iter()
            .filter(|(code, _, _)| *code != Some(0))
            .take(5)
            .map(|(c, o, e)| format!("compact exited {c:?}: {o}{e}")),
    );
    eprintln!(
        "compaction beside writers on S3: {} compactions, {reads} reads",
        compactions.len()
    );
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.is_superset(&all_files),
        "every writer finished"
    );
    // After a last compaction: one segment, every record once.
    moto.ok(&url, &cwd, &["compact"]);
    let listed = moto.ls_ids(&url, &cwd).unwrap();
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len());
    assert_eq!(unique, acknowledged);
    let report = moto.verify_clean(&url, &cwd);
    assert_eq!(report["segments"], serde_json::json!(1), "{report:#}");
    assert_eq!(
        report["records"],
        serde_json::json!(acknowledged.len()),
        "{report:#}"
    );
}

/// The fenced code block of docs/team-store.md whose info string is `python test=NAME`.
fn doc_example(name: &str) -> String {
    let doc = std::fs::read_to_string(manifest().join("docs/team-store.md")).unwrap();
    let fence = format!("```python test={name}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/team-store.md has no {fence:?} block"))
        + fence.len();
    let len = doc[start..].find("\n```").expect("closed block");
    doc[start..start + len + 1].to_string()
}

/// Run a docs example with the validators' Python against this server; returns its last line
/// of output, parsed as JSON.
fn run_example(moto: &Moto, url: &str, name: &str) -> serde_json::Value {
    let mut cmd = Command::new(common::validator_python());
    moto.env(&mut cmd);
    let out = cmd
        .env("MLPROV_STORE", url)
        .arg("-c")
        .arg(doc_example(name))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "example {name} failed\nstdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("example {name}: last line is not JSON ({e}): {stdout}"))
}

#[test]
fn duckdb_and_polars_count_what_mlprov_counts() {
    let moto = Moto::start();
    let url = moto.bucket("team-engines", "prov/main");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    // The bundled demo lineage, built locally, then copied to the bucket as it lies: the layout
    // on object storage is the local one.
    let built = common::mlprov_in(dir.path(), &["demo", "--dir", project.to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    upload_tree(&moto, &project.join(".mlprov"), &url);
    // A duplicate segment (as compaction leaves for a moment), a waiver and a new run on S3.
    let cwd = &project;
    moto.ok(
        &url,
        cwd,
        &[
            "tag",
            "dataset",
            "data/seed_prompts.jsonl",
            "--name",
            "seed-prompts",
        ],
    );
    moto.ok(
        &url,
        cwd,
        &[
            "waive",
            "--code",
            "L102",
            "--model",
            "gpt-4o",
            "--target",
            "acme-chat-pro",
            "--reason",
            "agreement 2026-55",
            "--approved-by",
            "legal@acme.example",
            "--expires",
            "2099-01-01",
        ],
    );

    let check = |when: &str| {
        let report = moto.verify_clean(&url, cwd);
        let runs = moto.json(&url, cwd, &["ls", "runs"])["runs"]
            .as_array()
            .unwrap()
            .len();
        let mut mlprov = serde_json::Map::new();
        mlprov.insert("records".into(), report["records"].clone());
        mlprov.insert("artifacts".into(), report["artifacts"].clone());
        mlprov.insert("runs".into(), serde_json::json!(runs));
        let mlprov = serde_json::Value::Object(mlprov);
        for engine in ["duckdb", "polars"] {
            let counted = run_example(&moto, &url, engine);
            for key in ["records", "artifacts", "runs"] {
                assert_eq!(
                    counted[key], mlprov[key],
                    "{when}: {engine} counts {key} differently: {counted} vs mlprov {mlprov}"
                );
            }
        }
        mlprov
    };
    let before = check("before compaction");
    assert!(before["records"].as_u64().unwrap() > 20, "{before}");
    moto.ok(&url, cwd, &["compact"]);
    let after = check("after compaction");
    assert_eq!(before, after);
}

/// Copy a local store folder to `url` (one PUT per file), as `aws s3 cp --recursive` would.
fn upload_tree(moto: &Moto, local: &Path, url: &str) {
    let script = r#"
import os, sys, boto3
root, url = sys.argv[1], sys.argv[2]
bucket, _, prefix = url[len("s3://"):].partition("/")
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
n = 0
for folder, _, files in os.walk(root):
    for f in files:
        path = os.path.join(folder, f)
        rel = os.path.relpath(path, root)
        if f.startswith(".") or rel.startswith("cache"):
            continue
        s3.upload_file(path, bucket, f"{prefix}/{rel}")
        n += 1
print(n)
"#;
    let mut cmd = Command::new(common::validator_python());
    moto.env(&mut cmd);
    let out = cmd
        .arg("-c")
        .arg(script)
        .arg(local)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "upload: {}", text(&out.stderr));
    assert!(text(&out.stdout).trim().parse::<u32>().unwrap() > 1);
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Findings of `audit --format json [extra]`, minus fields that name the moment of the audit.
fn findings(moto: &Moto, url: &str, cwd: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--format", "json", "audit"];
    args.extend_from_slice(extra);
    let out = moto.run(url, cwd, &args);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "audit {extra:?}: {}",
        text(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["findings"].clone()
}

#[test]
fn audit_as_of_a_past_time_reproduces_that_times_findings() {
    let moto = Moto::start();
    let url = moto.bucket("team-history", "prov");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let built = common::mlprov_in(dir.path(), &["demo", "--dir", project.to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let before_anything = "2000-01-01T00:00:00Z";
    upload_tree(&moto, &project.join(".mlprov"), &url);
    let cwd = &project; // mlprov.toml (the demo policy) is found in the current directory

    // t1: the demo as built.
    let at_t1 = findings(&moto, &url, cwd, &[]);
    let t1 = now();
    // Then: a waiver, a release that makes an internal model external, a new training run.
    moto.ok(
        &url,
        cwd,
        &[
            "waive",
            "--code",
            "L102",
            "--model",
            "gpt-4o",
            "--target",
            "acme-chat-pro",
            "--reason",
            "agreement 2026-55",
            "--approved-by",
            "legal@acme.example",
            "--expires",
            "2099-01-01",
        ],
    );
    moto.ok(
        &url,
        cwd,
        &[
            "release",
            "ticket-classifier",
            "--distribution",
            "external_weights",
        ],
    );
    let at_t2 = findings(&moto, &url, cwd, &[]);
    let t2 = now();
    assert_ne!(at_t1, at_t2, "the later records change the findings");
    // Compaction rewrites segments but not records or their dates.
    moto.ok(&url, cwd, &["compact"]);

    assert_eq!(findings(&moto, &url, cwd, &["--as-of", &t1]), at_t1);
    assert_eq!(findings(&moto, &url, cwd, &["--as-of", &t2]), at_t2);
    assert_eq!(findings(&moto, &url, cwd, &[]), at_t2);
    let nothing = findings(&moto, &url, cwd, &["--as-of", before_anything]);
    assert_eq!(nothing, serde_json::json!([]), "nothing was known in 2000");
    // The same question to the local store it was copied from gives the same answer for t1.
    let local = common::mlprov_in(cwd, &["--format", "json", "audit", "--as-of", &t1]);
    let local: serde_json::Value = serde_json::from_str(&local.stdout).unwrap();
    assert_eq!(local["findings"], at_t1);
}

// ---------------------------------------------------------------------------------------------
// Benchmark (not part of the test suite): scripts/bench-store runs it.

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = std::time::Instant::now();
    let out = f();
    (out, t.elapsed())
}

/// Append `n` one-record artifact segments from 16 threads through the real write path.
fn fill(store: &mlprov::store::Store, n: usize) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let record: mlprov::records::ArtifactRecord = serde_json::from_value(serde_json::json!({
                    "artifact_id": format!("blake3:{}", blake3::hash(&i.to_le_bytes()).to_hex()),
                    "kind": "dataset",
                    "size_bytes": i,
                    "name": format!("bench-{i}"),
                    "location": format!("/data/bench/{i}.jsonl"),
                    "recorded_at": "2026-11-01T00:00:00Z",
                    "recorded_by": "bench@localhost",
                }))
                .expect("artifact record");
                store
                    .append(mlprov::records::Batch {
                        artifacts: vec![record],
                        ..Default::default()
                    })
                    .expect("append");
            });
        }
    });
}

/// Time the phases of reading `store` (artifacts table) in-process, then `mlprov ls` end to end.
fn measure_reads(label: &str, store: &mlprov::store::Store, cli: &mut dyn FnMut() -> Duration) {
    let (listed, list) = timed(|| store.segments("artifacts").expect("list"));
    let keys: Vec<String> = listed.iter().map(|i| i.key.clone()).collect();
    let (bytes, fetch) = timed(|| store.fetch_segments(&keys).expect("fetch"));
    let total: usize = bytes.iter().flatten().map(|b| b.len()).sum();
    drop(bytes);
    let (_, fetch_decode) = timed(|| {
        store
            .read_segments::<mlprov::records::ArtifactRecord>(&keys)
            .expect("read")
    });
    let (snap, load) = timed(|| store.load().expect("load"));
    let ls = cli();
    eprintln!(
        "{label}: {} segments ({:.1} MB, {} records)\n  list {} | GET all, 32 at a time {} | GET+decode {} (decode ≈ {}) | Store::load {} | mlprov ls (process) {}",
        listed.len(),
        total as f64 / 1e6,
        snap.artifacts.len(),
        secs(list),
        secs(fetch),
        secs(fetch_decode),
        secs(fetch_decode.saturating_sub(fetch)),
        secs(load),
        secs(ls),
    );
}

#[test]
#[ignore = "benchmark: run by scripts/bench-store"]
fn bench_store() {
    let n: usize = std::env::var("MLPROV_BENCH_SEGMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let targets = std::env::var("MLPROV_BENCH_TARGETS").unwrap_or_else(|_| "local,s3".into());
    for target in targets.split(',') {
        let dir = tempfile::tempdir().unwrap();
        let moto = (target == "s3").then(Moto::start);
        let (store, location) = match &moto {
            None => {
                let store = mlprov::store::Store::init(dir.path()).unwrap();
                (store, dir.path().display().to_string())
            }
            Some(moto) => {
                let url = moto.bucket("bench-store", "prov");
                // This process is the client too: give it the server's settings.
                let mut probe = Command::new("true");
                moto.env(&mut probe);
                for (k, v) in probe.get_envs() {
                    match v {
                        Some(v) => std::env::set_var(k, v),
                        None => std::env::remove_var(k),
                    }
                }
                (mlprov::store::Store::init_url(&url).unwrap(), url)
            }
        };
        let (_, wrote) = timed(|| fill(&store, n));
        eprintln!(
            "\n== {target}: wrote {n} one-record segments in {} ({:.0}/s, 16 writer threads)",
            secs(wrote),
            n as f64 / wrote.as_secs_f64()
        );
        let mut cli = || {
            let mut cmd = Command::new(bin());
            if let Some(m) = &moto {
                m.env(&mut cmd);
            }
            let (out, took) = timed(|| {
                cmd.args(["--store", &location, "--format", "json", "ls"])
                    .current_dir(dir.path())
                    .output()
                    .unwrap()
            });
            assert!(out.status.success(), "{}", text(&out.stderr));
            took
        };
        measure_reads(&format!("{target} before compaction"), &store, &mut cli);
        let mut cmd = Command::new(bin());
        if let Some(m) = &moto {
            m.env(&mut cmd);
        }
        let (out, compact) = timed(|| {
            cmd.args(["--store", &location, "compact"])
                .current_dir(dir.path())
                .output()
                .unwrap()
        });
        assert!(out.status.success(), "{}", text(&out.stderr));
        eprintln!(
            "{target}: mlprov compact {} — {}",
            secs(compact),
            text(&out.stdout).trim()
        );
        measure_reads(&format!("{target} after compaction"), &store, &mut cli);
    }
}
