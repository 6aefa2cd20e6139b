//! Concurrency and crash-safety of the segment store, exercised through the real binary:
//! many writers at once, writers killed with SIGKILL at random moments, and compaction running
//! beside writers and readers. The store's promise under test: a record acknowledged on stdout
//! is durable and visible to every later reader, whatever else happens at the same time.
//!
//! The three tests take a process-wide lock so they do not run over each other: their timings
//! (and the spread of the kill delays) mean something only when each has the machine to itself.

use crate::common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mlprov"))
}

/// `mlprov` with no store taken from the environment and no colour.
fn mlprov(store: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("MLPROV_STORE")
        .env("NO_COLOR", "1")
        .arg("--store")
        .arg(store);
    cmd
}

fn run(store: &Path, args: &[&str]) -> Output {
    mlprov(store).args(args).output().expect("run mlprov")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn init(project: &Path) {
    let out = Command::new(bin())
        .env_remove("MLPROV_STORE")
        .arg("init")
        .arg(project)
        .output()
        .expect("run mlprov init");
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
}

/// Distinct content for file number `n`: a unique header, padded to 64..=512 bytes.
fn content(n: u64) -> Vec<u8> {
    let mut body = format!("mlprov concurrency test file #{n}\n").into_bytes();
    let len = 64 + (n.wrapping_mul(2_654_435_761) % 449) as usize;
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    while body.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body.push(b'a' + (x % 26) as u8);
    }
    body
}

/// Write files `first..first+count` into `dir`; returns (path, expected artifact id).
fn make_files(dir: &Path, first: u64, count: u64) -> Vec<(PathBuf, String)> {
    common::make_files(dir, first, count, content)
}

/// Artifact ids listed by `ls --format json`; Err with the output when the command fails.
fn ls_ids(store: &Path) -> Result<Vec<String>, String> {
    let out = run(store, &["--format", "json", "ls"]);
    if !out.status.success() {
        return Err(format!(
            "ls exited {:?}\nstderr: {}",
            out.status.code(),
            text(&out.stderr)
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ls output is not JSON ({e}): {}", text(&out.stdout)))?;
    let arts = doc["artifacts"]
        .as_array()
        .ok_or_else(|| format!("no artifacts array: {doc}"))?;
    Ok(arts
        .iter()
        .map(|a| {
            a["id"]
                .as_str()
                .expect("artifact id is a string")
                .to_string()
        })
        .collect())
}

/// `verify --format json [extra]`: (exit code, report).
fn verify(store: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--format", "json", "verify"];
    args.extend_from_slice(extra);
    let out = run(store, &args);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify output is not JSON ({e})\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

fn assert_clean(store: &Path, extra: &[&str]) -> serde_json::Value {
    let (code, doc) = verify(store, extra);
    assert_eq!(code, 0, "verify {extra:?} exit {code}: {doc:#}");
    assert_eq!(
        doc["clean"],
        serde_json::Value::Bool(true),
        "verify {extra:?} not clean: {doc:#}"
    );
    doc
}

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Read a child's stdout on a thread, keeping only complete lines.
fn collect_lines(child: &mut Child) -> std::thread::JoinHandle<Vec<String>> {
    let stdout = child.stdout.take().expect("stdout piped");
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with('\n') => {
                    lines.push(line.trim_end_matches('\n').to_string())
                }
                Ok(_) => break, // a partial last line: not an acknowledgement
            }
        }
        lines
    })
}

/// Acknowledged (artifact_id, path) pairs among `--format json` tag output lines.
fn json_acks(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["artifact_id"].as_str()?.to_string(),
                v["path"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn eight_writers_lose_nothing() {
    let _serial = serial();
    const WRITERS: u64 = 8;
    const PER_WRITER: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    let started = Instant::now();
    let folders: Vec<Vec<(PathBuf, String)>> = (0..WRITERS)
        .map(|w| {
            make_files(
                &project.join(format!("data{w}")),
                w * PER_WRITER,
                PER_WRITER,
            )
        })
        .collect();
    let expected: HashMap<String, String> = folders
        .iter()
        .flatten()
        .map(|(p, id)| (p.display().to_string(), id.clone()))
        .collect();
    let expected_ids: BTreeSet<String> = expected.values().cloned().collect();
    assert_eq!(
        expected_ids.len(),
        (WRITERS * PER_WRITER) as usize,
        "test files must be distinct"
    );
    init(project);
    let prepared = started.elapsed();

    let t = Instant::now();
    let children: Vec<Child> = folders
        .iter()
        .map(|files| {
            mlprov(project)
                .args(["tag", "dataset"])
                .args(files.iter().map(|(p, _)| p))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn mlprov tag")
        })
        .collect();
    // Drain every pipe at once: 500 acknowledgement lines overflow a pipe buffer.
    let waiters: Vec<_> = children
        .into_iter()
        .map(|c| std::thread::spawn(move || c.wait_with_output().expect("wait for mlprov tag")))
        .collect();
    let outputs: Vec<Output> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    let tagging = t.elapsed();

    for (w, out) in outputs.iter().enumerate() {
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "writer {w} exited {:?}\nstderr: {}",
            out.status,
            text(&out.stderr)
        );
        let acks: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("tagged dataset blake3:"))
            .collect();
        assert_eq!(
            acks.len(),
            PER_WRITER as usize,
            "writer {w} acknowledged {} of {PER_WRITER}:\n{stdout}",
            acks.len()
        );
        for line in acks {
            // tagged dataset blake3:<hex>  <path>  <size>  (<secs>)
            let mut words = line.split_whitespace();
            let id = words.nth(2).unwrap();
            let path = words.next().unwrap();
            assert_eq!(
                expected.get(path).map(String::as_str),
                Some(id),
                "acknowledgement names a wrong id: {line}"
            );
        }
    }

    let t = Instant::now();
    let listed = ls_ids(project).unwrap_or_else(|e| panic!("{e}"));
    let listing = t.elapsed();
    assert_eq!(
        listed.len(),
        expected_ids.len(),
        "ls lists {} artifacts, expected {}",
        listed.len(),
        expected_ids.len()
    );
    let listed: BTreeSet<String> = listed.into_iter().collect();
    let missing: Vec<_> = expected_ids.difference(&listed).take(5).collect();
    let extra: Vec<_> = listed.difference(&expected_ids).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing (first 5) {missing:?}; unexpected {extra:?}"
    );

    let t = Instant::now();
    let report = assert_clean(project, &[]);
    let verifying = t.elapsed();
    assert_eq!(
        report["artifacts"],
        serde_json::json!(expected_ids.len()),
        "{report:#}"
    );
    eprintln!(
        "eight_writers_lose_nothing: files+init {prepared:.2?}, 8x{PER_WRITER} tags {tagging:.2?} \
         ({:.2} ms/file wall), ls {listing:.2?}, verify {verifying:.2?}, total {:.2?}",
        tagging.as_secs_f64() * 1000.0 / (WRITERS * PER_WRITER) as f64,
        started.elapsed()
    );
}

#[test]
fn sigkill_loop_loses_no_acknowledged_record() {
    let _serial = serial();
    const ITERATIONS: u64 = 50;
    const FILES: u64 = 50;
    const MAX_DELAY_MS: u64 = 150;
    let seed: u64 = 0x6D6C_7072_6F76_0001;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    init(project);
    let started = Instant::now();

    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let (mut none, mut partial, mut all) = (0, 0, 0);
    let mut exited_by_itself = 0;
    for i in 0..ITERATIONS {
        let files = make_files(
            &project.join(format!("iter{i:02}")),
            1_000_000 + i * FILES,
            FILES,
        );
        let expected: HashMap<String, String> = files
            .iter()
            .map(|(p, id)| (p.display().to_string(), id.clone()))
            .collect();
        let delay = Duration::from_millis(rng.below(MAX_DELAY_MS + 1));
        let mut child = mlprov(project)
            .args(["--format", "json", "tag", "dataset"])
            .args(files.iter().map(|(p, _)| p))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mlprov tag");
        let reader = collect_lines(&mut child);
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; harmless if it already exited
        let status = child.wait().unwrap();
        let lines = reader.join().unwrap();
        let acks = json_acks(&lines);
        if status.success() {
            exited_by_itself += 1;
            assert_eq!(
                acks.len(),
                FILES as usize,
                "iteration {i}: exit 0 but {} acknowledgements",
                acks.len()
            );
        }
        for (id, path) in &acks {
            assert_eq!(
                expected.get(path),
                Some(id),
                "iteration {i}: acknowledgement names a wrong id for {path}"
            );
            acknowledged.insert(id.clone());
        }
        match acks.len() as u64 {
            0 => none += 1,
            FILES => all += 1,
            _ => partial += 1,
        }
    }
    let looping = started.elapsed();
    let temp_sizes: Vec<u64> = std::fs::read_dir(project.join(".mlprov/segments/artifacts"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .collect();
    let temporaries = format!(
        "{} ({} empty)",
        temp_sizes.len(),
        temp_sizes.iter().filter(|&&s| s == 0).count()
    );
    eprintln!(
        "sigkill loop (seed {seed:#x}): {ITERATIONS} iterations of {FILES} files in {looping:.2?}: \
         {none} killed before any acknowledgement, {partial} killed mid-way, {all} fully acknowledged \
         ({exited_by_itself} exited by themselves); {} ids acknowledged; {temporaries} temporary files left",
        acknowledged.len()
    );
    assert!(
        partial >= 5,
        "only {partial} iterations were killed mid-way: the kills do not exercise the writes"
    );

    let report = assert_clean(project, &["--no-rehash"]);
    eprintln!(
        "verify --no-rehash: {}",
        serde_json::to_string(&report).unwrap()
    );
    let listed: HashSet<String> = ls_ids(project)
        .unwrap_or_else(|e| panic!("store does not open after the kills: {e}"))
        .into_iter()
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !listed.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

#[test]
fn compaction_beside_writers_and_readers() {
    let _serial = serial();
    const WRITERS: u64 = 2;
    const PER_WRITER: u64 = 600;
    const COMPACTORS: usize = 2;
    const MIN_COMPACTIONS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let project: Arc<PathBuf> = Arc::new(dir.path().to_path_buf());
    init(&project);
    let folders: Vec<Vec<(PathBuf, String)>> = (0..WRITERS)
        .map(|w| {
            make_files(
                &project.join(format!("data{w}")),
                2_000_000 + w * PER_WRITER,
                PER_WRITER,
            )
        })
        .collect();
    let all_ids: BTreeSet<String> = folders.iter().flatten().map(|(_, id)| id.clone()).collect();
    let started = Instant::now();
    let writing = Arc::new(AtomicBool::new(true));

    // Readers: the artifact count never goes down and ls never fails.
    let reader = {
        let (project, writing) = (project.clone(), writing.clone());
        std::thread::spawn(move || {
            let (mut reads, mut last) = (0usize, 0usize);
            let mut failures = Vec::new();
            loop {
                let done = !writing.load(Ordering::SeqCst);
                match ls_ids(&project) {
                    Ok(ids) => {
                        if ids.len() < last {
                            failures.push(format!(
                                "read {reads}: artifact count went down from {last} to {}",
                                ids.len()
                            ));
                        }
                        last = last.max(ids.len());
                    }
                    Err(e) => failures.push(format!("read {reads}: {e}")),
                }
                reads += 1;
                if done {
                    return (reads, last, failures);
                }
            }
        })
    };

    // Compactors: each runs `compact` in a loop, at least MIN_COMPACTIONS times.
    let compactors: Vec<_> = (0..COMPACTORS)
        .map(|_| {
            let (project, writing) = (project.clone(), writing.clone());
            std::thread::spawn(move || {
                let mut runs = Vec::new();
                while writing.load(Ordering::SeqCst) || runs.len() < MIN_COMPACTIONS {
                    let out = run(&project, &["--format", "json", "compact"]);
                    runs.push((out.status.code(), text(&out.stdout), text(&out.stderr)));
                }
                runs
            })
        })
        .collect();

    let writers: Vec<_> = folders
        .iter()
        .map(|files| {
            let mut child = mlprov(&project)
                .args(["--format", "json", "tag", "dataset"])
                .args(files.iter().map(|(p, _)| p))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn mlprov tag");
            let lines = collect_lines(&mut child);
            (child, lines)
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    let mut writer_failures = Vec::new();
    for (w, (child, lines)) in writers.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let acks = json_acks(&lines.join().unwrap());
        if !out.status.success() {
            writer_failures.push(format!(
                "writer {w} exited {:?} after {} acknowledgements: {}",
                out.status,
                acks.len(),
                text(&out.stderr)
            ));
        }
        acknowledged.extend(acks.into_iter().map(|(id, _)| id));
    }
    let wrote = started.elapsed();
    writing.store(false, Ordering::SeqCst);
    let compactions: Vec<_> = compactors
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let (reads, last_count, read_failures) = reader.join().unwrap();
    let compact_failures: Vec<_> = compactions
        .iter()
        .filter(|(code, _, _)| *code != Some(0))
        .collect();
    eprintln!(
        "compaction beside writers: {} writes in {wrote:.2?}, {} compactions ({} failed), {reads} reads \
         ({} failed or went backwards; last count {last_count}), total {:.2?}",
        acknowledged.len(),
        compactions.len(),
        compact_failures.len(),
        read_failures.len(),
        started.elapsed()
    );
    let mut complaints = Vec::new();
    complaints.extend(writer_failures);
    complaints.extend(read_failures.into_iter().take(5));
    complaints.extend(
        compact_failures
            .iter()
            .take(5)
            .map(|(c, o, e)| format!("compact exited {c:?}: {o}{e}")),
    );
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));
    assert_eq!(
        acknowledged, all_ids,
        "every writer completes, so every file is acknowledged"
    );

    let listed: BTreeSet<String> = ls_ids(&project)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .collect();
    let lost: Vec<_> = acknowledged.difference(&listed).take(5).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but not listed (first 5): {lost:?}"
    );
    assert_eq!(listed, acknowledged);
    let report = assert_clean(&project, &[]);
    eprintln!(
        "verify after compaction: {} segments, {} records",
        report["segments"], report["records"]
    );
}
