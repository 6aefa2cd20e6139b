//! End-to-end behaviour of the `mlprov` binary: tagging, runs, releases, lineage in every
//! format, and the bad-input contract (exit 2, a clear message, no panic, nothing written).

use crate::common;

use common::{mlprov_in, Project};

#[test]
fn tag_run_release_show_and_lineage() {
    let p = Project::new();
    p.write("data/train.jsonl", b"{\"q\":1}\n");
    p.write("ckpt/model.safetensors", b"weights");
    let data = p.tag("dataset", "data/train.jsonl", "train");
    assert!(data.starts_with("blake3:"));

    // Re-tagging is idempotent; the same bytes under another name are the same artifact.
    assert_eq!(p.tag("dataset", "data/train.jsonl", "train"), data);
    p.write("copy/train-copy.jsonl", b"{\"q\":1}\n");
    assert_eq!(
        p.tag("dataset", "copy/train-copy.jsonl", "train-copy"),
        data
    );
    let ls = p.ok(&["--format", "json", "ls"]).json();
    assert_eq!(ls["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(
        ls["artifacts"][0]["names"],
        serde_json::json!(["train", "train-copy"])
    );

    p.ok(&[
        "tag",
        "model",
        "--model",
        "meta-llama/Llama-3.1-8B@0e9e39f",
        "--channel",
        "api",
        "--license",
        "llama3.1",
    ]);
    let run = p
        .ok(&[
            "--format",
            "json",
            "run",
            "fine_tune",
            "--name",
            "sft",
            "--input",
            "base_weights=meta-llama/Llama-3.1-8B",
            "--input",
            "training_data=train",
            "--output",
            "ckpt",
            "--started-at",
            "2026-01-01",
            "--ended-at",
            "2026-01-02T03:00:00Z",
        ])
        .json();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    assert_eq!(run["inputs"].as_array().unwrap().len(), 2);
    let ckpt = run["outputs"][0].as_str().unwrap().to_string();
    assert!(
        ckpt.starts_with("blake3tree:"),
        "output path tagged on the fly as a directory"
    );

    p.ok(&[
        "release",
        "ckpt",
        "--distribution",
        "internal",
        "--at",
        "2026-01-03",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.ok(&[
        "release",
        "ckpt",
        "--distribution",
        "external",
        "--at",
        "2026-02-01",
        "--note",
        "v1",
    ]);
    let show = p.ok(&["--format", "json", "show", &ckpt]).json();
    assert_eq!(show["distribution"], "external_weights");
    assert_eq!(show["produced_by"][0], run_id.as_str());
    assert_eq!(show["artifact"]["kind"], "checkpoint");
    // What we knew before the external release was recorded: internal.
    let before = p
        .ok(&["--format", "json", "show", &ckpt, "--as-of", &between])
        .json();
    assert_eq!(before["distribution"], "internal");
    assert_eq!(before["artifact"]["releases"].as_array().unwrap().len(), 1);
    // Before anything was recorded, the checkpoint is unknown.
    p.run(&["show", &ckpt, "--as-of", "2020-01-01"])
        .assert_bad_input(&["no artifact or run matches"]);

    let text = p.ok(&["lineage", "ckpt"]).stdout;
    assert!(text.contains("[training_data] dataset train"), "{text}");
    assert!(text.contains("[base_weights] external_model"), "{text}");
    let json = p.ok(&["--format", "json", "lineage", "ckpt"]).json();
    assert_eq!(json["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(json["edges"].as_array().unwrap().len(), 3);
    let down = p
        .ok(&["--format", "json", "lineage", "train", "--downstream"])
        .json();
    assert!(down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == ckpt.as_str()));
    let depth0 = p
        .ok(&["--format", "json", "lineage", &run_id, "--depth", "0"])
        .json();
    assert_eq!(
        depth0["nodes"].as_array().unwrap().len(),
        3,
        "run plus its two inputs"
    );

    let path = p.ok(&["lineage", "train", "--to", "ckpt"]).stdout;
    assert!(
        path.contains("[training_data]") && path.contains("[output]"),
        "{path}"
    );

    let dot = p.ok(&["--format", "dot", "lineage", "ckpt"]).stdout;
    assert!(dot.starts_with("digraph lineage {") && dot.trim_end().ends_with('}'));
    assert_eq!(dot.matches(" -> ").count(), 3);
    let mermaid = p.ok(&["--format", "mermaid", "lineage", "ckpt"]).stdout;
    assert!(mermaid.starts_with("flowchart LR"));
    assert!(mermaid.contains("-->|training_data|"));

    let ran = p.run(&["--format", "mermaid", "show", "ckpt"]);
    ran.assert_bad_input(&["--format"]);
}

#[test]
fn run_start_and_finish_for_long_jobs() {
    let p = Project::new();
    p.write("data.jsonl", b"x\n");
    let started = p
        .ok(&[
            "--format",
            "json",
            "run",
            "start",
            "train",
            "--input",
            "training_data=data.jsonl",
            "--name",
            "long",
        ])
        .json();
    let run_id = started["run_id"].as_str().unwrap();
    assert_eq!(started["status"], "running");
    let shown = p.ok(&["--format", "json", "show", run_id]).json();
    assert_eq!(shown["run"]["status"], "running");
    p.write("out/w.bin", b"trained");
    p.ok(&["run", "finish", run_id, "--output", "out"]);
    let shown = p.ok(&["--format", "json", "show", "long"]).json();
    assert_eq!(shown["run"]["status"], "succeeded");
    assert_eq!(shown["run"]["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(shown["run"]["outputs"].as_array().unwrap().len(), 1);
}

#[test]
fn synthetic_data_records_its_generator_and_channel() {
    let p = Project::new();
    p.write("prompts.jsonl", b"{\"p\":1}\n");
    p.write("gen.jsonl", b"{\"a\":1}\n");
    let out = p
        .ok(&[
            "--format",
            "json",
            "tag",
            "synthetic",
            "gen.jsonl",
            "--generator",
            "deepseek-ai/DeepSeek-V3@2024-12-26",
            "--channel",
            "api",
            "--from",
            "prompts.jsonl",
            "--generated-at",
            "2026-03-01",
        ])
        .json();
    assert_eq!(out["kind"], "synthetic_dataset");
    let lineage = p.ok(&["--format", "json", "lineage", "gen.jsonl"]).json();
    let generator = lineage["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "external_model")
        .unwrap()
        .clone();
    assert_eq!(
        generator["id"],
        "model:deepseek-ai/DeepSeek-V3@2024-12-26#api"
    );
    assert!(lineage["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["role"] == "generator"));
    // A new generator named by vendor/model needs its channel: terms differ by channel.
    let ran = p.run(&[
        "tag",
        "synthetic",
        "gen.jsonl",
        "--generator",
        "openai/gpt-4o",
    ]);
    ran.assert_bad_input(&["--channel"]);
}

#[test]
fn directory_digest_is_stable_and_tracks_changes() {
    let p = Project::new();
    p.write("ds/a.txt", b"a");
    p.write("ds/sub/b.txt", b"b");
    let first = p.tag("dataset", "ds", "ds");
    assert!(first.starts_with("blake3tree:"));
    assert_eq!(p.tag("dataset", "ds", "ds"), first);
    p.write("ds/sub/b.txt", b"B");
    let changed = p.tag("dataset", "ds", "ds");
    assert_ne!(changed, first);
    // verify notices that the first artifact's location no longer holds it.
    let ran = p.run(&["--format", "json", "verify"]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    let report = ran.json();
    assert!(report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "V005" && x["subject"] == first.as_str()));
}

#[test]
fn bad_input_is_exit_2_with_a_clear_message() {
    let p = Project::new();
    p.run(&["tag", "dataset", "missing.jsonl"])
        .assert_bad_input(&["missing.jsonl", "no such file"]);

    // Unreadable: /proc/self/mem refuses reads at offset 0 even for root.
    p.run(&["tag", "dataset", "/proc/self/mem"])
        .assert_bad_input(&["/proc/self/mem", "reading"]);
    #[cfg(unix)]
    if unsafe_is_root() {
        eprintln!("running as root: permission-denied case covered by /proc/self/mem only");
    } else {
        use std::os::unix::fs::PermissionsExt;
        let f = p.write("secret.jsonl", b"x");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
        p.run(&["tag", "dataset", "secret.jsonl"])
            .assert_bad_input(&["secret.jsonl", "denied"]);
    }

    std::os::unix::fs::symlink("loop", p.path().join("loop")).unwrap();
    p.run(&["tag", "dataset", "loop"])
        .assert_bad_input(&["loop", "symbolic link loop"]);

    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname.txt");
        std::fs::create_dir_all(p.path().join("odd")).unwrap();
        std::fs::write(p.path().join("odd").join(name), b"x").unwrap();
        p.run(&["tag", "dataset", "odd"])
            .assert_bad_input(&["not valid UTF-8"]);
    }

    p.run(&["show", "blake3:0123456789abcdef"])
        .assert_bad_input(&["no artifact or run matches"]);
    p.run(&["lineage", "nothing-by-this-name"])
        .assert_bad_input(&["nothing-by-this-name"]);

    let bad = p.write(
        "records.jsonl",
        b"{\"type\":\"run\",\"run_id\":\"run:not-a-uuid\"}\n",
    );
    p.run(&["import", bad.to_str().unwrap()])
        .assert_bad_input(&["records.jsonl", "line 1"]);

    p.run(&["run", "train", "--input", "teacherish=x"])
        .assert_bad_input(&["unknown Role"]);
    p.run(&["release", "x", "--distribution", "everywhere"])
        .assert_bad_input(&["expected one of"]);
    p.run(&["show", "x", "--as-of", "last tuesday"])
        .assert_bad_input(&["not a time"]);

    // Nothing above wrote a record.
    let ls = p.ok(&["--format", "json", "ls"]).json();
    assert!(ls["artifacts"].as_array().unwrap().is_empty());
    assert!(p.ok(&["--format", "json", "ls", "runs"]).json()["runs"]
        .as_array()
        .unwrap()
        .is_empty());

    let elsewhere = tempfile::tempdir().unwrap();
    mlprov_in(elsewhere.path(), &["ls"])
        .assert_bad_input(&["no mlprov store found", "mlprov init"]);
    mlprov_in(elsewhere.path(), &["--store", "/no/such/store", "ls"])
        .assert_bad_input(&["not an mlprov store"]);
    // (A URL with no bucket fails before any request; tests/team_store.rs covers real buckets.)
    mlprov_in(elsewhere.path(), &["--store", "s3:///prefix", "ls"])
        .assert_bad_input(&["s3:///prefix", "not a usable store URL"]);
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn corrupt_segment_is_named_and_verify_flags_it() {
    let p = Project::new();
    p.write("a.txt", b"a");
    p.tag("dataset", "a.txt", "a");
    let seg = p
        .path()
        .join(".mlprov/segments/artifacts/00000000-bad.parquet");
    std::fs::write(&seg, b"PAR1 this is not a parquet file PAR1").unwrap();
    p.run(&["ls"]).assert_bad_input(&[
        "00000000-bad.parquet",
        "corrupt store segment",
        "mlprov verify",
    ]);
    let ran = p.run(&["--format", "json", "verify"]);
    assert_eq!(ran.code, 1);
    assert!(ran.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "V001"));
}

#[test]
fn cycles_in_input_are_reported_not_looped() {
    let p = Project::new();
    let a = format!("blake3:{}", "a".repeat(64));
    let b = format!("blake3:{}", "b".repeat(64));
    let lines = [
        format!(
            r#"{{"type":"artifact","artifact_id":"{a}","kind":"dataset","name":"A","recorded_at":"2026-01-01T00:00:00Z","recorded_by":"t@h"}}"#
        ),
        format!(
            r#"{{"type":"artifact","artifact_id":"{b}","kind":"dataset","name":"B","recorded_at":"2026-01-01T00:00:00Z","recorded_by":"t@h"}}"#
        ),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-00000000000a","kind":"transform","status":"succeeded","inputs":[{{"artifact_id":"{a}","role":"source"}}],"outputs":["{b}"],"recorded_at":"2026-01-01T00:00:00Z","recorded_by":"t@h"}}"#
        ),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-00000000000b","kind":"transform","status":"succeeded","inputs":[{{"artifact_id":"{b}","role":"source"}}],"outputs":["{a}"],"recorded_at":"2026-01-01T00:00:00Z","recorded_by":"t@h"}}"#
        ),
    ];
    let file = p.write("cycle.jsonl", lines.join("\n").as_bytes());
    p.ok(&["import", file.to_str().unwrap()]);
    let ran = p.ok(&["lineage", "A"]);
    assert!(ran.stderr.contains("cycle"), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("cycle in recorded lineage"),
        "{}",
        ran.stdout
    );
    let json = p.ok(&["--format", "json", "lineage", "A"]).json();
    assert_eq!(json["cycles"].as_array().unwrap().len(), 1);
    let verify = p.run(&["--format", "json", "verify", "--no-rehash"]);
    assert_eq!(verify.code, 1);
    assert!(verify.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "V004"));
}

#[test]
fn demo_shows_the_released_checkpoint_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let ran = mlprov_in(dir.path(), &["demo", "--dir", project.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    for needle in [
        "checkpoint acme-chat-7b",
        "[external_weights]",
        "[base_weights] external_model Qwen2.5-7B-Instruct",
        "[training_data] dataset sft-mix",
        "[generator] external_model DeepSeek-V3",
        "license: deepseek@1.0",
    ] {
        assert!(
            ran.stdout.contains(needle),
            "demo output lacks {needle:?}:\n{}",
            ran.stdout
        );
    }
    let store = project.to_str().unwrap();
    let verify = mlprov_in(dir.path(), &["--store", store, "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let json = mlprov_in(
        dir.path(),
        &[
            "--store",
            store,
            "--format",
            "json",
            "lineage",
            "acme-chat-7b",
        ],
    )
    .json();
    // The checkpoint; the fine-tune, mix and generate runs; Qwen2.5-7B-Instruct, sft-mix,
    // open-instruct, synthetic-math, DeepSeek-V3, seed-prompts; the Llama-2-generated eval set
    // with its generate run and generator; and the base model Qwen's model card declares, with
    // the run it declares.
    assert_eq!(json["nodes"].as_array().unwrap().len(), 15);
    assert!(
        ran.stdout.contains("audit FAIL: 4 errors"),
        "the demo ends with the audit:\n{}",
        ran.stdout
    );
}

#[test]
fn compact_keeps_every_record() {
    let p = Project::new();
    for i in 0..5 {
        p.write(&format!("f{i}.txt"), format!("file {i}").as_bytes());
        p.tag("dataset", &format!("f{i}.txt"), &format!("f{i}"));
    }
    let before = p.ok(&["--format", "json", "ls"]).json();
    let report = p.ok(&["--format", "json", "compact"]).json();
    assert_eq!(report["segments_before"], 5);
    assert_eq!(report["segments_after"], 1);
    assert_eq!(p.ok(&["--format", "json", "ls"]).json(), before);
    p.ok(&["verify"]);

    // The compaction also rebuilt the lineage index, so the next question reads the cache
    // instead of building the index from the merged segments.
    let cached: Vec<std::path::PathBuf> = std::fs::read_dir(p.path().join(".mlprov/cache/index"))
        .expect("an index cache folder after compaction")
        .flat_map(|store| std::fs::read_dir(store.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let audit = std::process::Command::new(common::bin())
        .arg("audit")
        .current_dir(p.path())
        .env_remove("MLPROV_STORE")
        .env_remove("MLPROV_INDEX_CACHE")
        .env("MLPROV_TIMING", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&audit.stderr);
    assert!(audit.status.success(), "{stderr}");
    assert!(stderr.contains("index cache decode"), "{stderr}");
    let text = p.ok(&["compact"]).stdout;
    assert!(text.contains("lineage index cached"), "{text}");
}

/// The store's own segments, in both encodings (plain one-record writes, zstd with
/// dictionaries for large ones), open in DuckDB and polars where they lie.
#[test]
fn store_segments_open_in_duckdb_and_polars_where_they_lie() {
    let (_dir, project) = common::demo_project();
    let store = mlprov::Store::open(project.to_str().unwrap()).unwrap();
    let mut batch = mlprov::records::Batch::default();
    for i in 0..300 {
        batch.artifacts.push(mlprov::records::ArtifactRecord::new(
            format!("model:vendor/bulk-{i}@v1"),
            mlprov::records::ArtifactKind::ExternalModel,
        ));
    }
    store.append(batch).unwrap();
    let snapshot = store.load().unwrap();
    let expected = serde_json::json!({
        "artifacts": snapshot.artifacts.len(),
        "runs": snapshot.runs.len(),
        "license_claims": snapshot.license_claims.len(),
    });
    common::validate_with(
        "segment_readers.py",
        &[
            project.as_os_str(),
            std::ffi::OsStr::new(&expected.to_string()),
        ],
    );
}

#[test]
fn parquet_export_opens_in_duckdb_and_polars() {
    let (dir, project) = common::demo_project();
    let store = project.to_str().unwrap();
    let out = dir.path().join("export");
    let ran = mlprov_in(
        dir.path(),
        &[
            "--store",
            store,
            "export",
            "--to",
            "parquet",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let audit = mlprov_in(dir.path(), &["--store", store, "--format", "json", "audit"]).json();
    let ls = |what: &str| {
        mlprov_in(
            dir.path(),
            &["--store", store, "--format", "json", "ls", what],
        )
        .json()
    };
    let observations = mlprov::Store::open(store)
        .unwrap()
        .load()
        .unwrap()
        .artifacts
        .len();
    let expected = serde_json::json!({
        "artifacts.parquet": observations,
        "runs.parquet": ls("runs")["runs"].as_array().unwrap().len(),
        "releases.parquet": ls("releases")["releases"].as_array().unwrap().len(),
        "findings.parquet": audit["findings"].as_array().unwrap().len(),
    });
    common::validate_with(
        "parquet_readers.py",
        &[out.as_os_str(), std::ffi::OsStr::new(&expected.to_string())],
    );
}
