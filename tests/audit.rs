//! The audit on the bundled demo: every expected finding, pinned (golden), and each policy line
//! changing exactly the findings it should.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::mlprov_in;

/// (code, status, target label, model label) of every finding.
type Key = (String, String, String, String);

struct Demo {
    _dir: tempfile::TempDir,
    project: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let (dir, project) = common::demo_project();
        Demo { _dir: dir, project }
    }

    fn run(&self, args: &[&str]) -> common::Ran {
        mlprov_in(&self.project, args)
    }

    /// Audit with the demo policy edited by `edit`; returns (exit code, report).
    fn audit_with(
        &self,
        edit: impl Fn(String) -> String,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        let policy = std::fs::read_to_string(self.project.join("mlprov.toml")).unwrap();
        let edited = edit(policy.clone());
        let file = self.project.join("policy-under-test.toml");
        std::fs::write(&file, edited).unwrap();
        let mut args = vec![
            "--format",
            "json",
            "audit",
            "--policy",
            file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let ran = self.run(&args);
        assert!(
            ran.code == 0 || ran.code == 1,
            "audit failed: {}",
            ran.stderr
        );
        (ran.code, ran.json())
    }
}

fn keys(report: &serde_json::Value) -> BTreeSet<Key> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("code"), s("status"), s("target_label"), s("model_label"))
        })
        .collect()
}

fn key(code: &str, status: &str, target: &str, model: &str) -> Key {
    (code.into(), status.into(), target.into(), model.into())
}

fn expected_default() -> BTreeSet<Key> {
    [
        // DeepSeek-V3 weights outputs, released: primary reading is conditional (duties), a
        // secondary source reads internal-only (shown, not decisive).
        key("L106", "active", "acme-chat-7b", "DeepSeek-V3"),
        key("L108", "active", "acme-chat-7b", "DeepSeek-V3"),
        // Llama 3.1 outputs into a distributed model not named "Llama...".
        key(
            "L105",
            "active",
            "acme-support-8b",
            "Llama-3.1-70B-Instruct",
        ),
        key(
            "L106",
            "active",
            "acme-support-8b",
            "Llama-3.1-70B-Instruct",
        ),
        // Llama 2 outputs into a Mistral fine-tune; and three hops on into a Qwen fine-tune.
        key("L101", "active", "acme-mistral-chat", "Llama-2-70b-chat"),
        key("L101", "active", "acme-qwen-distill", "Llama-2-70b-chat"),
        // OpenAI outputs into an external chat model of an org that competes.
        key("L102", "active", "acme-chat-pro", "gpt-4o"),
        // Mistral Research License outputs in a commercial model: waived (licence bought).
        key(
            "L104",
            "waived",
            "acme-reasoner",
            "Mistral-Large-Instruct-2411",
        ),
        // DeepSeek-R1: MIT (primary) vs a secondary site's ban: shown as a note.
        key("L108", "active", "acme-math-1b", "DeepSeek-R1"),
        // A teacher with no license.
        key("L107", "active", "acme-tiny-student", "mystery-7b"),
        // A third of instruct-mix's rows came from gpt-4o (its composition says so)…
        key("L102", "active", "acme-mix-7b", "gpt-4o"),
        // …and a filter dropped them all: cleared, with a note that says why.
        key("L109", "active", "acme-mix-7b-clean", "gpt-4o"),
    ]
    .into_iter()
    .collect()
}

fn diff(a: &BTreeSet<Key>, b: &BTreeSet<Key>) -> String {
    format!(
        "missing: {:#?}\nunexpected: {:#?}",
        a.difference(b).collect::<Vec<_>>(),
        b.difference(a).collect::<Vec<_>>()
    )
}

fn same(edit: impl Fn(String) -> String) -> impl Fn(String) -> String {
    edit
}

#[test]
fn demo_audit_finds_exactly_the_expected_findings() {
    let demo = Demo::new();
    let (code, report) = demo.audit_with(|p| p, &[]);
    let found = keys(&report);
    let expected = expected_default();
    assert_eq!(found, expected, "{}", diff(&expected, &found));
    assert_eq!(code, 1, "errors gate CI");
    assert_eq!(report["verdict"], "fail");

    // Each finding carries its evidence.
    let findings = report["findings"].as_array().unwrap();
    let l101 = findings
        .iter()
        .find(|f| f["code"] == "L101" && f["target_label"] == "acme-qwen-distill")
        .unwrap();
    let path: Vec<&str> = l101["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "Llama-2-70b-chat",
            "generate chat-pairs",
            "chat-pairs",
            "sft llama-2-acme-7b",
            "llama-2-acme-7b",
            "generate distilled-dialogues",
            "distilled-dialogues",
            "sft acme-qwen-distill"
        ],
        "three hops: Llama 2 outputs → a Llama 2 fine-tune (fine) → its outputs → a Qwen fine-tune"
    );
    assert_eq!(l101["license"]["id"], "llama2");
    assert!(l101["claim"]["quote"]
        .as_str()
        .unwrap()
        .contains("improve any other large language model"));
    assert_eq!(l101["claim"]["confidence"], "primary");
    assert!(l101["claim"]["source"]
        .as_str()
        .unwrap()
        .starts_with("https://"));

    let l105 = findings.iter().find(|f| f["code"] == "L105").unwrap();
    assert!(
        l105["conditions"][0].as_str().unwrap().contains("Llama"),
        "{l105}"
    );

    let r1 = findings
        .iter()
        .find(|f| f["code"] == "L108" && f["target_label"] == "acme-math-1b")
        .unwrap();
    assert_eq!(r1["claim"]["class"], "allowed");
    assert_eq!(r1["disagreeing_claims"][0]["class"], "forbidden_other_llm");
    assert_eq!(r1["disagreeing_claims"][0]["confidence"], "secondary");

    let waived = findings.iter().find(|f| f["status"] == "waived").unwrap();
    assert!(waived["waiver"].as_str().unwrap().starts_with("waiver:"));

    // Clean cases produce nothing: API-bought data, a Llama 2 fine-tune on Llama 2 outputs, an
    // internal classifier on OpenAI labels, Llama 2 outputs used only as eval data.
    for clean in ["acme-chat-7b-api", "llama-2-acme-7b", "ticket-classifier"] {
        assert!(
            !found.iter().any(|k| k.2 == clean),
            "{clean} should be clean"
        );
    }
    assert!(
        !found
            .iter()
            .any(|k| k.2 == "acme-chat-7b" && k.3 == "Llama-2-70b-chat"),
        "eval data flows nowhere"
    );

    // The text output shows each finding with its path and clause.
    let text = demo.run(&["audit"]).stdout;
    assert!(text.contains("error[L101] forbidden-other-llm"), "{text}");
    assert!(text.contains("path: external_model Llama-2-70b-chat ─[generator] → generate run \"generate chat-pairs\""), "{text}");
    assert!(text.contains("1.b.v"), "{text}");
    assert!(text.contains("audit FAIL"), "{text}");
}

#[test]
fn each_policy_line_changes_exactly_its_findings() {
    let demo = Demo::new();
    let base = expected_default();

    // Not competing with OpenAI: the L102s go, nothing else moves (the L109 note stays: the
    // filtered mix has no gpt-4o rows whatever the terms).
    let (_, r) = demo.audit_with(
        same(|p| p.replace("competes_with = [\"openai\"]", "competes_with = []")),
        &[],
    );
    let mut want = base.clone();
    want.remove(&key("L102", "active", "acme-chat-pro", "gpt-4o"));
    want.remove(&key("L102", "active", "acme-mix-7b", "gpt-4o"));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));

    // Non-commercial use: the (waived) L104 goes, and the waiver is now unused.
    let (_, r) = demo.audit_with(
        |p| p.replace("commercial = true ", "commercial = false "),
        &[],
    );
    let mut want = base.clone();
    want.remove(&key(
        "L104",
        "waived",
        "acme-reasoner",
        "Mistral-Large-Instruct-2411",
    ));
    want.insert(key(
        "W301",
        "active",
        "acme-reasoner",
        "Mistral-Large-Instruct-2411",
    ));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));

    // Strict trust: secondary claims may decide. DeepSeek-R1's secondary ban now decides
    // (L101); the DeepSeek License's secondary internal-only reading decides (L103 replaces
    // the duties note). Disagreement notes stay.
    let (_, r) = demo.audit_with(
        |p| p.replace("trust = \"primary-first\"", "trust = \"most-restrictive\""),
        &[],
    );
    let mut want = base.clone();
    want.insert(key("L101", "active", "acme-math-1b", "DeepSeek-R1"));
    want.remove(&key("L106", "active", "acme-chat-7b", "DeepSeek-V3"));
    want.insert(key("L103", "active", "acme-chat-7b", "DeepSeek-V3"));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));

    // Legal pins the DeepSeek License as internal-only: acme-chat-7b is flagged.
    let (_, r) = demo.audit_with(
        |p| {
            p.replace("# [[clarification]]", "[[clarification]]")
                .replace("# license = \"deepseek-1.0\"", "license = \"deepseek-1.0\"")
                .replace("# class = \"internal_only\"", "class = \"internal_only\"")
                .replace("# reason = ", "reason = ")
                .replace("# approved_by = ", "approved_by = ")
        },
        &[],
    );
    let mut want = base.clone();
    want.remove(&key("L106", "active", "acme-chat-7b", "DeepSeek-V3"));
    want.insert(key("L103", "active", "acme-chat-7b", "DeepSeek-V3"));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));
    let l103 = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "L103")
        .unwrap();
    assert!(l103["clarification"]["reason"]
        .as_str()
        .unwrap()
        .contains("Legal decision"));

    // Severity: L105 raised to error.
    let (_, r) = demo.audit_with(|p| format!("{p}\n[severity]\nL105 = \"error\"\n"), &[]);
    let l105 = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "L105")
        .unwrap();
    assert_eq!(l105["severity"], "error");
    assert_eq!(keys(&r), base);

    // API serving: acme-support-8b moves to API serving; it is still distributed by default,
    // and stops being distributed when the policy says API serving does not count.
    demo.run(&["release", "acme-support-8b", "--distribution", "api"]);
    let (_, r) = demo.audit_with(|p| p, &[]);
    assert_eq!(keys(&r), base);
    let (_, r) = demo.audit_with(
        |p| {
            p.replace(
                "api_served_is_distribution = true",
                "api_served_is_distribution = false",
            )
        },
        &[],
    );
    let mut want = base.clone();
    want.remove(&key(
        "L105",
        "active",
        "acme-support-8b",
        "Llama-3.1-70B-Instruct",
    ));
    want.remove(&key(
        "L106",
        "active",
        "acme-support-8b",
        "Llama-3.1-70B-Instruct",
    ));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));

    // Restrictions stop travelling through derivatives: the three-hop L101 goes.
    let (_, r) = demo.audit_with(
        |p| p.replace("restrictions_travel = true", "restrictions_travel = false"),
        &[],
    );
    let mut want = base.clone();
    want.remove(&key(
        "L101",
        "active",
        "acme-qwen-distill",
        "Llama-2-70b-chat",
    ));
    assert_eq!(keys(&r), want, "{}", diff(&want, &keys(&r)));
}

#[test]
fn assume_released_and_waivers() {
    let demo = Demo::new();
    // llama-2-acme-7b is internal and exempt; the ticket classifier is internal. Released, the
    // classifier loses OpenAI's permitted exception.
    let (_, r) = demo.audit_with(|p| p, &["--assume-released", "ticket-classifier"]);
    assert!(keys(&r).contains(&key("L102", "active", "ticket-classifier", "gpt-4o")));

    // A waiver for the L102 on acme-chat-pro, then its revocation.
    let ran = demo.run(&[
        "--format",
        "json",
        "waive",
        "--code",
        "L102",
        "--model",
        "gpt-4o",
        "--target",
        "acme-chat-pro",
        "--reason",
        "OpenAI agreement 2026-55",
        "--approved-by",
        "legal@acme.example",
        "--expires",
        "2099-01-01",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let waiver_id = ran.json()["waiver_id"].as_str().unwrap().to_string();
    let (_, r) = demo.audit_with(|p| p, &[]);
    assert!(keys(&r).contains(&key("L102", "waived", "acme-chat-pro", "gpt-4o")));
    demo.run(&[
        "waive",
        "--revoke",
        &waiver_id,
        "--reason",
        "agreement ended",
        "--approved-by",
        "legal@acme.example",
    ]);
    let (_, r) = demo.audit_with(|p| p, &[]);
    let k = keys(&r);
    assert!(k.contains(&key("L102", "active", "acme-chat-pro", "gpt-4o")));
    assert!(k.iter().any(|x| x.0 == "W302"), "revoked waiver is noted");

    // Waivers must be scoped, reasoned and expiring.
    demo.run(&[
        "waive",
        "--code",
        "L102",
        "--reason",
        "x",
        "--approved-by",
        "y",
        "--expires",
        "2099-01-01",
    ])
    .assert_bad_input(&["--model"]);
    demo.run(&[
        "waive",
        "--code",
        "L102",
        "--model",
        "gpt-4o",
        "--reason",
        "x",
        "--approved-by",
        "y",
        "--expires",
        "2020-01-01",
    ])
    .assert_bad_input(&["past"]);
    demo.run(&[
        "waive",
        "--code",
        "Z999",
        "--model",
        "gpt-4o",
        "--reason",
        "x",
        "--approved-by",
        "y",
        "--expires",
        "2099-01-01",
    ])
    .assert_bad_input(&["unknown finding code"]);
}

#[test]
fn audit_survives_cycles_dangling_references_and_unknown_licenses() {
    let p = common::Project::new();
    let a = format!("blake3:{}", "a".repeat(64));
    let b = format!("blake3:{}", "b".repeat(64));
    let ghost = format!("blake3:{}", "c".repeat(64));
    let t = "\"recorded_at\":\"2026-01-01T00:00:00Z\",\"recorded_by\":\"t@h\"";
    let lines = [
        format!(
            r#"{{"type":"artifact","artifact_id":"model:x/odd@1#weights","kind":"external_model","vendor":"x","model":"odd","revision":"1","channel":"weights",{t}}}"#
        ),
        format!(
            r#"{{"type":"license_claim","artifact_id":"model:x/odd@1#weights","license_id":"made-up-license","source":"user","confidence":"unverified",{t}}}"#
        ),
        format!(r#"{{"type":"artifact","artifact_id":"{a}","kind":"checkpoint","name":"A",{t}}}"#),
        format!(r#"{{"type":"artifact","artifact_id":"{b}","kind":"checkpoint","name":"B",{t}}}"#),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-0000000000a1","kind":"fine_tune","status":"succeeded","inputs":[{{"artifact_id":"{a}","role":"base_weights"}},{{"artifact_id":"model:x/odd@1#weights","role":"teacher"}}],"outputs":["{b}"],{t}}}"#
        ),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-0000000000a2","kind":"fine_tune","status":"succeeded","inputs":[{{"artifact_id":"{b}","role":"base_weights"}},{{"artifact_id":"{ghost}","role":"training_data"}}],"outputs":["{a}"],{t}}}"#
        ),
    ];
    let file = p.write("odd.jsonl", lines.join("\n").as_bytes());
    p.ok(&["import", file.to_str().unwrap()]);
    let ran = p.run(&["--format", "json", "audit"]);
    assert!(ran.code == 0 || ran.code == 1, "{}", ran.stderr);
    assert!(!ran.stderr.contains("panicked"));
    let codes: BTreeSet<String> = ran.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    for c in ["G201", "G202", "L107"] {
        assert!(codes.contains(c), "{c} missing from {codes:?}");
    }
}

#[test]
fn policy_errors_name_the_file_and_line() {
    let demo = Demo::new();
    let bad = demo.project.join("bad.toml");
    std::fs::write(&bad, "[organisation]\ncommercial = maybe\n").unwrap();
    demo.run(&["audit", "--policy", bad.to_str().unwrap()])
        .assert_bad_input(&["bad.toml", "line 2"]);
    std::fs::write(&bad, "[severity]\nL999 = \"error\"\n").unwrap();
    demo.run(&["audit", "--policy", bad.to_str().unwrap()])
        .assert_bad_input(&["L999"]);
    let _ = Path::new("");
}

#[test]
fn claims_from_one_source_add_up() {
    // Tongyi Qianwen Research: research-only AND no other LLMs. A Qwen fine-tune is exempt from
    // the second, never from the first.
    let p = common::Project::new();
    let t = "\"recorded_at\":\"2026-01-01T00:00:00Z\",\"recorded_by\":\"t@h\"";
    let small = "model:Qwen/Qwen-1_8B-Chat@main#weights";
    let base = "model:Qwen/Qwen-7B@main#weights";
    let data = format!("blake3:{}", "d".repeat(64));
    let ckpt = format!("blake3tree:{}", "e".repeat(64));
    let lines = [
        format!(
            r#"{{"type":"artifact","artifact_id":"{small}","kind":"external_model","name":"Qwen-1_8B-Chat","vendor":"Qwen","model":"Qwen-1_8B-Chat","revision":"main","channel":"weights",{t}}}"#
        ),
        format!(
            r#"{{"type":"artifact","artifact_id":"{base}","kind":"external_model","name":"Qwen-7B","vendor":"Qwen","model":"Qwen-7B","revision":"main","channel":"weights",{t}}}"#
        ),
        format!(
            r#"{{"type":"artifact","artifact_id":"{data}","kind":"synthetic_dataset","name":"qwen-small-outputs",{t}}}"#
        ),
        format!(
            r#"{{"type":"artifact","artifact_id":"{ckpt}","kind":"checkpoint","name":"qwen-acme-7b",{t}}}"#
        ),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-0000000000b1","kind":"generate","status":"succeeded","inputs":[{{"artifact_id":"{small}","role":"generator"}}],"outputs":["{data}"],{t}}}"#
        ),
        format!(
            r#"{{"type":"run","run_id":"run:01936a10-0000-7000-8000-0000000000b2","kind":"fine_tune","status":"succeeded","inputs":[{{"artifact_id":"{base}","role":"base_weights"}},{{"artifact_id":"{data}","role":"training_data"}}],"outputs":["{ckpt}"],{t}}}"#
        ),
    ];
    let file = p.write("qwen.jsonl", lines.join("\n").as_bytes());
    p.ok(&["import", file.to_str().unwrap()]);
    let ran = p.run(&["--format", "json", "audit"]);
    let report = ran.json();
    let found: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["model_label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        found.contains(&("L104".into(), "Qwen-1_8B-Chat".into())),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(c, _)| c == "L101"),
        "a Qwen fine-tune is exempt from the no-other-LLM clause: {found:?}"
    );
}

#[test]
fn composition_gives_the_share_and_a_filter_that_drops_the_rows_clears_them() {
    let demo = Demo::new();
    let (_, report) = demo.audit_with(|p| p, &[]);
    let findings = report["findings"].as_array().unwrap();
    let mixed = findings
        .iter()
        .find(|f| f["code"] == "L102" && f["target_label"] == "acme-mix-7b")
        .unwrap();
    assert_eq!(mixed["severity"], "error");
    assert_eq!(mixed["rows"]["rows"], 4);
    assert_eq!(mixed["rows"]["total_rows"], 12);
    assert_eq!(mixed["rows"]["unmapped_rows"], 0);
    assert_eq!(mixed["rows"]["dataset_label"], "instruct-mix");
    assert!(
        mixed["message"]
            .as_str()
            .unwrap()
            .contains("4 of 12 rows of instruct-mix (33.3%) came from it"),
        "{mixed}"
    );
    let cleared = findings
        .iter()
        .find(|f| f["code"] == "L109" && f["target_label"] == "acme-mix-7b-clean")
        .unwrap();
    assert_eq!(cleared["severity"], "note");
    let message = cleared["message"].as_str().unwrap();
    assert!(
        message.contains("4 of 12 rows of instruct-mix")
            && message.contains("composition of instruct-mix-filtered has no rows from it"),
        "{message}"
    );
    let path: Vec<&str> = cleared["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(
        path.contains(&"drop gpt4_alpaca rows from instruct-mix")
            && path.contains(&"instruct-mix-filtered"),
        "{path:?}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["target_label"] == "acme-mix-7b-clean" && f["severity"] != "note"),
        "the filtered mix trains a clean model"
    );

    // A policy threshold above the share makes the error a warning.
    let (_, r) = demo.audit_with(
        |p| format!("{p}\n[composition]\nwarn_below_share = 0.5\n"),
        &[],
    );
    let mixed = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "L102" && f["target_label"] == "acme-mix-7b")
        .unwrap()
        .clone();
    assert_eq!(mixed["severity"], "warning", "{mixed}");
    let (_, r) = demo.audit_with(
        |p| format!("{p}\n[composition]\nwarn_below_share = 0.2\n"),
        &[],
    );
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "L102"
            && f["target_label"] == "acme-mix-7b"
            && f["severity"] == "error"));
    let file = demo.project.join("bad-policy.toml");
    std::fs::write(&file, "[composition]\nwarn_below_share = 5\n").unwrap();
    demo.run(&["audit", "--policy", file.to_str().unwrap()])
        .assert_bad_input(&["bad-policy.toml", "warn_below_share"]);
}

#[test]
fn unmapped_rows_are_reported_and_never_clear_a_restriction() {
    let demo = Demo::new();
    // A filtered copy of the mix whose rows carry a source value nobody mapped.
    std::fs::write(
        demo.project.join("data/mix_unknown.jsonl"),
        "{\"source\":\"dolly\",\"text\":\"a\"}\n{\"source\":\"scraped\",\"text\":\"b\"}\n",
    )
    .unwrap();
    let tagged = demo.run(&[
        "tag",
        "dataset",
        "data/mix_unknown.jsonl",
        "--name",
        "mix-unknown",
        "--source-column",
        "source",
        "--map",
        "dolly=original",
    ]);
    assert_eq!(tagged.code, 0, "{}", tagged.stderr);
    assert!(
        tagged.stderr.contains("scraped (1 rows)") && tagged.stderr.contains("map to no artifact"),
        "{}",
        tagged.stderr
    );
    std::fs::create_dir_all(demo.project.join("checkpoints/acme-unknown")).unwrap();
    std::fs::write(
        demo.project.join("checkpoints/acme-unknown/config.json"),
        "{\"n\": 1}\n",
    )
    .unwrap();
    for args in [
        vec![
            "tag",
            "checkpoint",
            "checkpoints/acme-unknown",
            "--name",
            "acme-unknown",
        ],
        vec![
            "run",
            "filter",
            "--input",
            "source=instruct-mix",
            "--output",
            "mix-unknown",
        ],
        vec![
            "run",
            "fine_tune",
            "--input",
            "training_data=mix-unknown",
            "--output",
            "acme-unknown",
        ],
        vec![
            "release",
            "acme-unknown",
            "--distribution",
            "external_weights",
        ],
    ] {
        let ran = demo.run(&args);
        assert_eq!(ran.code, 0, "{args:?}: {}", ran.stderr);
    }
    let (_, report) = demo.audit_with(|p| p, &[]);
    let findings = report["findings"].as_array().unwrap();
    let g203 = findings
        .iter()
        .find(|f| f["code"] == "G203")
        .expect("unmapped rows are a finding");
    assert_eq!(g203["target_label"], "mix-unknown");
    assert!(
        g203["message"].as_str().unwrap().contains("scraped"),
        "{g203}"
    );
    let kept = findings
        .iter()
        .find(|f| f["code"] == "L102" && f["target_label"] == "acme-unknown")
        .expect("unmapped rows may carry gpt-4o: not cleared");
    assert_eq!(kept["rows"]["rows"], 0);
    assert_eq!(kept["rows"]["unmapped_rows"], 1);
    assert!(
        kept["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("unmapped sources")),
        "{kept}"
    );
}
