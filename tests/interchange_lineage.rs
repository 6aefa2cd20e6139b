//! OpenLineage and W3C PROV-JSON exports of the demo store, checked by the official schemas
//! (`tests/validators/openlineage.py`) and the `prov` library (`tests/validators/prov_json.py`);
//! the OpenLineage export read back into a fresh store reproduces the store; foreign
//! (Airflow-style) events map to runs and named datasets; malformed lines import nothing.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use mlprov::audit::AuditReport;
use mlprov::export::{openlineage, prov, ExportInput};
use mlprov::graph::LineageGraph;
use mlprov::records::{
    id, ArtifactKind, ArtifactRecord, Batch, Channel, ClaimSource, Confidence, Distribution,
    LicenseClaimRecord, Purpose, ReleaseRecord, Role, RunInput, RunKind, RunRecord, RunStatus,
};
use mlprov::view::View;
use mlprov::Store;
use serde_json::Value;

struct Demo {
    view: View,
    graph: LineageGraph,
    audit: AuditReport,
    checkpoint: String,
}

/// The demo store, built once (real hashing, a real store) and read into memory; its folder
/// is removed once read.
fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("demo");
        let built = mlprov::demo::build(&project).unwrap();
        let view = View::build(&built.store.load().unwrap(), None);
        let audit = audit_of(&view, &project);
        let graph = LineageGraph::build(&view);
        Demo {
            view,
            graph,
            audit,
            checkpoint: built.released_checkpoint,
        }
    })
}

fn audit_of(view: &View, project: &Path) -> AuditReport {
    mlprov::audit::audit(
        view,
        &mlprov::catalog::Catalog::builtin().unwrap(),
        &mlprov::policy::Policy::locate(None, project).unwrap(),
        &Default::default(),
    )
}

impl Demo {
    fn input(&self, root: Option<&str>) -> ExportInput<'_> {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        ExportInput::new(
            &self.view,
            &self.graph,
            &self.audit,
            root.map(str::to_string),
            at,
        )
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs in the export and their event types, in order.
fn event_types(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        if let Some(id) = e["run"]["runId"].as_str() {
            out.entry(format!("run:{id}"))
                .or_default()
                .push(e["eventType"].as_str().unwrap().to_string());
        }
    }
    out
}

/// Artifacts a PROV/OpenLineage export of `input` describes: those in scope and those its
/// runs read or write.
fn artifacts_of(input: &ExportInput) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = input.artifacts().map(|a| a.id.clone()).collect();
    for r in input.runs() {
        ids.extend(r.inputs.iter().map(|i| i.artifact_id.clone()));
        ids.extend(r.outputs.iter().cloned());
    }
    ids
}

#[test]
fn openlineage_export_validates_for_the_store_and_one_checkpoint() {
    let d = demo();
    let scratch = tempfile::tempdir().unwrap();
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for root in [None, Some(d.checkpoint.as_str())] {
        let input = d.input(root);
        let text = openlineage::render(&input).unwrap();
        assert_eq!(
            text,
            openlineage::render(&input).unwrap(),
            "exports are pure"
        );
        let events = lines(&text);
        let runs: BTreeSet<String> = input.runs().map(|r| r.id.clone()).collect();
        let types = event_types(&events);
        assert_eq!(types.keys().cloned().collect::<BTreeSet<_>>(), runs);
        for r in input.runs() {
            let want: Vec<&str> = match r.status {
                RunStatus::Running => vec!["START"],
                RunStatus::Succeeded => vec!["START", "COMPLETE"],
                RunStatus::Failed => vec!["START", "FAIL"],
            };
            assert_eq!(types[&r.id], want, "{}", r.id);
        }
        // Chronological, and every content dataset carries its BLAKE3 as its version.
        let times: Vec<&str> = events
            .iter()
            .map(|e| e["eventTime"].as_str().unwrap())
            .collect();
        let parsed: Vec<_> = times
            .iter()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
            .collect();
        assert!(
            parsed.windows(2).all(|w| w[0] <= w[1]),
            "events in time order"
        );
        let mut datasets = BTreeSet::new();
        for e in &events {
            let all = e["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(e["outputs"].as_array().into_iter().flatten())
                .chain(e.get("dataset"));
            for ds in all {
                let name = ds["name"].as_str().unwrap();
                assert_eq!(ds["namespace"], "mlprov");
                if id::digest_hex(name).is_some() {
                    assert_eq!(ds["facets"]["version"]["datasetVersion"], name);
                }
                datasets.insert(name.to_string());
            }
        }
        assert_eq!(
            datasets,
            artifacts_of(&input),
            "every artifact in scope is sent"
        );

        let file = scratch
            .path()
            .join(format!("events-{}.jsonl", root.is_some()));
        std::fs::write(&file, &text).unwrap();
        args.extend([
            file.into_os_string(),
            "--events".into(),
            events.len().to_string().into(),
            "--runs".into(),
            runs.len().to_string().into(),
        ]);
    }
    common::validate_with(
        "openlineage.py",
        &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(),
    );

    // Roles and findings ride on the events of the run they belong to.
    let text = openlineage::render(&d.input(None)).unwrap();
    let events = lines(&text);
    let sft = d
        .view
        .runs
        .values()
        .find(|r| r.outputs.contains(&d.checkpoint))
        .unwrap();
    let start = events
        .iter()
        .find(|e| format!("run:{}", e["run"]["runId"].as_str().unwrap_or("")) == sft.id)
        .unwrap();
    for input in &sft.inputs {
        let ds = start["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ds| ds["name"] == input.artifact_id.as_str())
            .unwrap();
        let f = &ds["inputFacets"]["mlprov_role"];
        let roles: Vec<&str> = std::iter::once(&f["role"])
            .chain(f["additionalRoles"].as_array().into_iter().flatten())
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(roles.contains(&input.role.as_str()));
    }
    for f in d.audit.findings.iter().filter(|f| f.run.is_some()) {
        let run = f.run.as_deref().unwrap();
        let carried = events.iter().any(|e| {
            format!("run:{}", e["run"]["runId"].as_str().unwrap_or("")) == run
                && e["run"]["facets"]["mlprov_findings"]["findings"]
                    .as_array()
                    .is_some_and(|fs| {
                        fs.iter().any(|x| {
                            x["code"] == f.code && x["model"].as_str() == f.model.as_deref()
                        })
                    })
        });
        assert!(carried, "finding {} of {run} is in the export", f.code);
    }
}

#[test]
fn prov_export_validates_for_the_store_and_one_checkpoint() {
    let d = demo();
    let scratch = tempfile::tempdir().unwrap();
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for root in [None, Some(d.checkpoint.as_str())] {
        let input = d.input(root);
        let text = prov::render(&input).unwrap();
        assert_eq!(text, prov::render(&input).unwrap(), "exports are pure");
        let doc: Value = serde_json::from_str(&text).unwrap();
        let entities = artifacts_of(&input);
        let runs: BTreeSet<String> = input.runs().map(|r| r.id.clone()).collect();
        let vendors: BTreeSet<&str> = entities
            .iter()
            .filter_map(|a| d.view.artifacts.get(a))
            .filter(|a| a.kind == ArtifactKind::ExternalModel)
            .filter_map(|a| a.vendor.as_deref())
            .collect();
        assert_eq!(prov::counts(&input), (entities.len(), runs.len()));
        // original ids kept beside the qualified names
        let kept: BTreeSet<String> = doc["entity"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["mlprov:id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kept, entities);
        assert!(!text.contains("wasEndedby"));
        let used = doc["used"].as_object().map_or(0, |m| m.len());
        assert_eq!(used, input.runs().map(|r| r.inputs.len()).sum::<usize>());

        let file = scratch.path().join(format!("prov-{}.json", root.is_some()));
        std::fs::write(&file, &text).unwrap();
        for (flag, n) in [
            ("--entities", entities.len()),
            ("--activities", runs.len()),
            ("--agents", vendors.len()),
        ] {
            args.extend([flag.into(), n.to_string().into()]);
        }
        args.push(file.into_os_string());
    }
    common::validate_with(
        "prov_json.py",
        &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(),
    );
}

/// A view's artifacts and runs as comparable JSON: inputs and outputs as sorted sets, and
/// without who recorded what (an import records the producer instead).
fn comparable(view: &View, only: Option<&BTreeSet<String>>) -> (Value, Value) {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("recorded_by");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let keep = |id: &String| only.is_none_or(|o| o.contains(id));
    let mut artifacts = serde_json::to_value(
        view.artifacts
            .iter()
            .filter(|(k, _)| keep(k))
            .collect::<BTreeMap<_, _>>(),
    )
    .unwrap();
    strip(&mut artifacts);
    let mut runs = serde_json::to_value(
        view.runs
            .iter()
            .filter(|(k, _)| keep(k))
            .collect::<BTreeMap<_, _>>(),
    )
    .unwrap();
    for r in runs.as_object_mut().unwrap().values_mut() {
        for key in ["inputs", "outputs"] {
            let mut items: Vec<Value> = r[key].as_array().unwrap().clone();
            items.sort_by_key(|v| v.to_string());
            r[key] = Value::Array(items);
        }
    }
    (artifacts, runs)
}

/// A finding's code, run, target and model.
type FindingKey = (String, Option<String>, Option<String>, Option<String>);

fn import_into_fresh_store(text: &str) -> (tempfile::TempDir, View) {
    let batch = openlineage::import_events(text, "events.jsonl").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path()).unwrap();
    store.append(batch).unwrap();
    let view = View::build(&store.load().unwrap(), None);
    (dir, view)
}

#[test]
fn openlineage_round_trip_restores_runs_artifacts_roles_and_digests() {
    let d = demo();
    let text = openlineage::render(&d.input(None)).unwrap();
    let (dir, back) = import_into_fresh_store(&text);
    assert!(back.dangling.is_empty(), "{:?}", back.dangling);

    // Runs (ids, kinds, names, status, times, roles) and artifacts (ids, kinds, names,
    // locations, sizes, model fields, license claims, releases) exactly.
    let (want_a, want_r) = comparable(&d.view, None);
    let (got_a, got_r) = comparable(&back, None);
    assert_eq!(got_r, want_r);
    for (id, want) in want_a.as_object().unwrap() {
        assert_eq!(&got_a[id], want, "artifact {id}");
    }
    assert_eq!(got_a, want_a);
    // Spot checks of what matters most, in plain terms.
    for (id, r) in &d.view.runs {
        let b = &back.runs[id];
        assert_eq!(
            (b.kind, b.status, b.started_at, b.ended_at),
            (r.kind, r.status, r.started_at, r.ended_at)
        );
        assert_eq!(
            b.inputs.iter().collect::<BTreeSet<_>>(),
            r.inputs.iter().collect::<BTreeSet<_>>()
        );
    }
    assert!(
        back.artifacts
            .keys()
            .filter(|a| id::digest_hex(a).is_some())
            .count()
            > 10
    );

    // The imported store audits the same (waivers are not lineage and are not exported, so
    // only what they decided differs).
    std::fs::write(dir.path().join("mlprov.toml"), mlprov::demo::POLICY).unwrap();
    let again = audit_of(&back, dir.path());
    let key = |r: &AuditReport| -> BTreeSet<FindingKey> {
        r.findings
            .iter()
            .filter(|f| !f.code.starts_with('W'))
            .map(|f| {
                (
                    f.code.to_string(),
                    f.run.clone(),
                    f.target.clone(),
                    f.model.clone(),
                )
            })
            .collect()
    };
    assert_eq!(key(&again), key(&d.audit));

    // A checkpoint's export restores exactly its upstream.
    let input = d.input(Some(&d.checkpoint));
    let text = openlineage::render(&input).unwrap();
    let (_dir2, part) = import_into_fresh_store(&text);
    let mut scope = artifacts_of(&input);
    scope.extend(input.runs().map(|r| r.id.clone()));
    assert_eq!(
        part.runs.keys().cloned().collect::<BTreeSet<_>>(),
        input.runs().map(|r| r.id.clone()).collect()
    );
    assert_eq!(comparable(&part, None), comparable(&d.view, Some(&scope)));
}

const HEX: &str = "3b5d5c3712955042212316173ccf37be800c1b1a7c9c0b9fd6f0e8f2a6b7c6d1";

fn airflow_events() -> String {
    let producer = "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0";
    let schema = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
    let job = r#"{"namespace":"airflow_prod","name":"etl_orders.load","facets":{"jobType":{"_producer":"https://github.com/apache/airflow","_schemaURL":"https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet","processingType":"BATCH","integration":"AIRFLOW","jobType":"TASK"}}}"#;
    let inputs = format!(
        r#"[{{"namespace":"postgres://db.example:5432","name":"analytics.public.orders","facets":{{"version":{{"_producer":"x","_schemaURL":"y","datasetVersion":"42"}}}}}},
            {{"namespace":"s3://lake","name":"raw/orders #1@eu west.csv"}},
            {{"namespace":"file","name":"/data/prompts.jsonl","facets":{{"version":{{"_producer":"x","_schemaURL":"y","datasetVersion":"blake3:{HEX}"}}}}}}]"#
    );
    let outputs = r#"[{"namespace":"s3://lake","name":"features/orders.parquet","outputFacets":{"outputStatistics":{"_producer":"x","_schemaURL":"y","rowCount":10,"size":1234}}}]"#;
    let ev = |ty: &str, t: &str, run: &str, with_io: bool| {
        let io = if with_io {
            format!(
                r#","inputs":{},"outputs":{outputs}"#,
                inputs.replace('\n', "")
            )
        } else {
            String::new()
        };
        format!(
            r#"{{"eventType":"{ty}","eventTime":"{t}","producer":"{producer}","schemaURL":"{schema}","run":{{"runId":"{run}"}},"job":{job}{io}}}"#
        )
    };
    [
        ev("START", "2026-10-01T10:00:00.123+02:00", "0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B", true),
        ev("COMPLETE", "2026-10-01T08:30:00Z", "0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B", false),
        ev("START", "2026-10-02T00:00:00Z", "0190a5b2-0000-7000-8000-000000000002", false),
        ev("FAIL", "2026-10-02T01:00:00Z", "0190a5b2-0000-7000-8000-000000000002", false),
        ev("START", "2026-10-03T00:00:00Z", "0190a5b2-0000-7000-8000-000000000003", false),
        r#"{"eventTime":"2026-10-03T00:00:00Z","producer":"p","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent","job":{"namespace":"n","name":"j"}}"#.to_string(),
        r#"{"eventTime":"2026-10-04T00:00:00Z","producer":"p","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent","dataset":{"namespace":"bigquery","name":"proj.ds.customers","facets":{"version":{"_producer":"x","_schemaURL":"y","datasetVersion":"v7"}}}}"#.to_string(),
    ]
    .join("\n")
}

#[test]
fn foreign_events_map_to_runs_and_named_datasets() {
    let batch = openlineage::import_events(&airflow_events(), "airflow.jsonl").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path()).unwrap();
    store.append(batch).unwrap();
    let view = View::build(&store.load().unwrap(), None);
    assert!(view.dangling.is_empty(), "{:?}", view.dangling);
    assert_eq!(view.runs.len(), 3, "the job event is skipped");

    let run = &view.runs["run:0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"];
    assert_eq!(
        run.kind,
        RunKind::Transform,
        "an Airflow TASK is no mlprov kind: transform"
    );
    assert_eq!(run.name.as_deref(), Some("airflow_prod/etl_orders.load"));
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(
        run.started_at,
        Some(
            Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap()
                + chrono::Duration::milliseconds(123)
        )
    );
    assert_eq!(
        run.ended_at,
        Some(Utc.with_ymd_and_hms(2026, 10, 1, 8, 30, 0).unwrap())
    );
    let orders = "dataset:postgres://db.example:5432/analytics.public.orders@42";
    let raw = "dataset:s3://lake/raw/orders%20%231%40eu%20west.csv@unversioned";
    let content = format!("blake3:{HEX}");
    let features = "dataset:s3://lake/features/orders.parquet@unversioned";
    let inputs: BTreeSet<(String, Role)> = run
        .inputs
        .iter()
        .map(|i| (i.artifact_id.clone(), i.role))
        .collect();
    assert_eq!(
        inputs,
        [orders, raw, &content]
            .iter()
            .map(|a| (a.to_string(), Role::Source))
            .collect()
    );
    assert_eq!(run.outputs, vec![features.to_string()]);
    for a in [orders, raw, &content, features] {
        assert!(id::is_valid(a), "{a}");
        assert_eq!(view.artifacts[a].kind, ArtifactKind::Dataset);
    }
    assert_eq!(
        view.artifacts[orders].names.iter().collect::<Vec<_>>(),
        vec!["postgres://db.example:5432/analytics.public.orders"]
    );
    assert_eq!(
        view.artifacts[&content].names.iter().collect::<Vec<_>>(),
        vec!["file//data/prompts.jsonl"]
    );
    assert_eq!(view.artifacts[features].size_bytes, Some(1234));
    assert!(view.artifacts[features].first_recorded_at <= run.ended_at.unwrap());

    let customers = &view.artifacts["dataset:bigquery/proj.ds.customers@v7"];
    assert_eq!(
        customers.first_recorded_at,
        Utc.with_ymd_and_hms(2026, 10, 4, 0, 0, 0).unwrap(),
        "a dataset event's time"
    );

    let failed = &view.runs["run:0190a5b2-0000-7000-8000-000000000002"];
    assert_eq!(
        (failed.status, failed.ended_at.is_some()),
        (RunStatus::Failed, true)
    );
    let running = &view.runs["run:0190a5b2-0000-7000-8000-000000000003"];
    assert_eq!(
        (running.status, running.ended_at),
        (RunStatus::Running, None)
    );

    // Foreign events exported again are valid OpenLineage.
    let graph = LineageGraph::build(&view);
    let audit = audit_of(&view, dir.path());
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let text = openlineage::render(&ExportInput::new(&view, &graph, &audit, None, at)).unwrap();
    let file = dir.path().join("again.jsonl");
    assert!(
        text.contains("DatasetEvent") && text.contains("proj.ds.customers"),
        "an artifact no run touches is a dataset event"
    );
    std::fs::write(&file, text).unwrap();
    common::validate_with(
        "openlineage.py",
        &[file.as_os_str(), OsStr::new("--runs"), OsStr::new("3")],
    );
}

#[test]
fn malformed_lines_are_named_and_nothing_is_imported() {
    let good = airflow_events().lines().next().unwrap().to_string();
    let replace = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1)
    };
    let cases = [
        ("{not json".to_string(), "not JSON"),
        ("[1, 2]".to_string(), "JSON object"),
        (
            replace(r#""eventTime":"2026-10-01T10:00:00.123+02:00","#, ""),
            "eventTime",
        ),
        (
            replace("2026-10-01T10:00:00.123+02:00", "yesterday"),
            "RFC 3339",
        ),
        (
            replace("0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B", "run-42"),
            "not a UUID",
        ),
        (
            replace(r#""eventType":"START""#, r#""eventType":"DONE""#),
            "eventType 'DONE'",
        ),
        (
            replace(r#""name":"analytics.public.orders""#, r#""nom":"x""#),
            "inputs[0] has no name",
        ),
        (replace(&format!("blake3:{HEX}"), "blake3:XYZ"), "not one"),
        (
            replace(
                r#"{"namespace":"s3://lake","name":"raw/orders #1@eu west.csv"}"#,
                r#"{"namespace":"s3://lake","name":"r","inputFacets":{"mlprov_role":{"role":"sideways"}}}"#,
            ),
            "mlprov_role facet",
        ),
        (
            replace(
                r#"{"namespace":"s3://lake","name":"raw/orders #1@eu west.csv"}"#,
                r#"{"namespace":"mlprov","name":"r","facets":{"mlprov_artifact":{"id":"sha256:1","kind":"dataset","firstRecordedAt":"2026-01-01T00:00:00Z"}}}"#,
            ),
            "not an artifact id",
        ),
        (
            r#"{"eventTime":"2026-10-01T00:00:00Z","producer":"p"}"#.to_string(),
            "neither a run event",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path()).unwrap();
    for (bad, mention) in cases {
        let text = format!("{good}\n\n{bad}\n");
        let err = openlineage::import_events(&text, "ol.jsonl")
            .and_then(|b| store.append(b))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("ol.jsonl") && msg.contains("line 3") && msg.contains(mention),
            "{bad}\n=> {msg}"
        );
        assert_eq!(err.exit_code(), 2);
    }
    assert_eq!(
        store.load().unwrap().record_count(),
        0,
        "nothing was imported"
    );
}

/// A store with what the demo lacks: a dangling input, an input used in two roles, a failed
/// run without a name, a run still running, a run recorded as start and finish, an artifact
/// under two names and locations, a dataset no run touches.
fn edge_store() -> (tempfile::TempDir, View) {
    let t = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap();
    let file_a = id::file(&"a".repeat(64));
    let tree = id::tree(&"b".repeat(64));
    let dangling = id::file(&"c".repeat(64));
    let out = id::file(&"d".repeat(64));
    let model = id::external_model("openai", "gpt-4o", Some("2024-08-06"), Channel::Api);
    let orphan = id::named_dataset("HuggingFaceH4/ultrachat_200k", Some("main"));
    let obs = |aid: &str, kind, day| ArtifactRecord {
        recorded_at: t(day),
        recorded_by: "u@h".into(),
        ..ArtifactRecord::new(aid, kind)
    };
    let mut b = Batch::default();
    b.artifacts.push(ArtifactRecord {
        name: Some("one".into()),
        location: Some("/x/one".into()),
        size_bytes: Some(5),
        ..obs(&file_a, ArtifactKind::Dataset, 1)
    });
    b.artifacts.push(ArtifactRecord {
        name: Some("uno".into()),
        location: Some("/y/uno".into()),
        ..obs(&file_a, ArtifactKind::Dataset, 2)
    });
    b.artifacts.push(ArtifactRecord {
        name: Some("ckpt".into()),
        size_bytes: Some(30),
        file_count: Some(3),
        purpose: Some(Purpose::Classifier),
        ..obs(&tree, ArtifactKind::Checkpoint, 4)
    });
    b.artifacts.push(ArtifactRecord {
        vendor: Some("openai".into()),
        model: Some("gpt-4o".into()),
        revision: Some("2024-08-06".into()),
        channel: Some(Channel::Api),
        ..obs(&model, ArtifactKind::ExternalModel, 1)
    });
    b.artifacts.push(ArtifactRecord {
        name: Some("HuggingFaceH4/ultrachat_200k".into()),
        ..obs(&orphan, ArtifactKind::Dataset, 1)
    });
    b.artifacts.push(obs(&out, ArtifactKind::Other, 8));
    b.license_claims.push(LicenseClaimRecord {
        record_id: String::new(),
        artifact_id: model.clone(),
        license_id: "openai-services".into(),
        license_version: Some("2025-05-31".into()),
        source: ClaimSource::Catalog,
        confidence: Confidence::Secondary,
        evidence_digest: Some("e".repeat(64)),
        evidence_path: Some("/tmp/terms.html".into()),
        note: Some("read by hand".into()),
        recorded_at: t(1),
        recorded_by: "u@h".into(),
    });
    b.releases.push(ReleaseRecord {
        record_id: String::new(),
        artifact_id: tree.clone(),
        distribution: Distribution::ExternalWeights,
        effective_at: t(5),
        note: Some("v1".into()),
        recorded_at: t(5),
        recorded_by: "u@h".into(),
    });
    let run = |run_id: &str,
               kind,
               name: Option<&str>,
               status,
               started: Option<u32>,
               ended: Option<u32>,
               inputs: Vec<(&str, Role)>,
               outputs: Vec<&str>,
               day| RunRecord {
        record_id: String::new(),
        run_id: run_id.into(),
        kind,
        name: name.map(str::to_string),
        status,
        started_at: started.map(t),
        ended_at: ended.map(t),
        inputs: inputs
            .into_iter()
            .map(|(a, role)| RunInput {
                artifact_id: a.into(),
                role,
            })
            .collect(),
        outputs: outputs.into_iter().map(str::to_string).collect(),
        recorded_at: t(day),
        recorded_by: "u@h".into(),
    };
    let (r1, r2, r3) = (
        "run:0190a5b2-0000-7000-8000-0000000000e1",
        "run:0190a5b2-0000-7000-8000-0000000000e2",
        "run:0190a5b2-0000-7000-8000-0000000000e3",
    );
    b.runs.push(run(
        r1,
        RunKind::Distill,
        None,
        RunStatus::Failed,
        Some(3),
        Some(4),
        vec![
            (&file_a, Role::TrainingData),
            (&file_a, Role::EvalData),
            (&model, Role::Teacher),
            (&dangling, Role::Source),
        ],
        vec![&tree],
        4,
    ));
    b.runs.push(run(
        r2,
        RunKind::Evaluate,
        Some("eval"),
        RunStatus::Running,
        Some(6),
        None,
        vec![(&tree, Role::Source)],
        vec![],
        6,
    ));
    b.runs.push(run(
        r3,
        RunKind::Transform,
        Some("clean"),
        RunStatus::Running,
        Some(7),
        None,
        vec![(&file_a, Role::Source)],
        vec![],
        7,
    ));
    b.runs.push(run(
        r3,
        RunKind::Transform,
        Some("clean"),
        RunStatus::Succeeded,
        None,
        Some(8),
        vec![],
        vec![&out],
        8,
    ));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path()).unwrap();
    store.append(b).unwrap();
    let view = View::build(&store.load().unwrap(), None);
    assert_eq!(view.dangling.len(), 1);
    (dir, view)
}

#[test]
fn edge_cases_validate_and_round_trip() {
    let (dir, view) = edge_store();
    let graph = LineageGraph::build(&view);
    let audit = audit_of(&view, dir.path());
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let input = ExportInput::new(&view, &graph, &audit, None, at);

    let text = openlineage::render(&input).unwrap();
    let events = lines(&text);
    let types = event_types(&events);
    assert_eq!(
        types["run:0190a5b2-0000-7000-8000-0000000000e1"],
        ["START", "FAIL"]
    );
    assert_eq!(types["run:0190a5b2-0000-7000-8000-0000000000e2"], ["START"]);
    assert_eq!(
        types["run:0190a5b2-0000-7000-8000-0000000000e3"],
        ["START", "COMPLETE"]
    );
    let unnamed = events
        .iter()
        .find(|e| e["run"]["runId"] == "0190a5b2-0000-7000-8000-0000000000e1")
        .unwrap();
    assert_eq!(
        unnamed["job"]["name"],
        "distill.0190a5b2-0000-7000-8000-0000000000e1"
    );
    let two_roles = unnamed["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == id::file(&"a".repeat(64)).as_str())
        .unwrap();
    assert_eq!(
        two_roles["inputFacets"]["mlprov_role"]["role"],
        "training_data"
    );
    assert_eq!(
        two_roles["inputFacets"]["mlprov_role"]["additionalRoles"],
        serde_json::json!(["eval_data"])
    );
    assert_eq!(
        events.iter().filter(|e| e.get("dataset").is_some()).count(),
        1,
        "the untouched dataset"
    );
    let file = dir.path().join("edge.jsonl");
    std::fs::write(&file, &text).unwrap();
    common::validate_with(
        "openlineage.py",
        &[
            file.as_os_str(),
            OsStr::new("--events"),
            OsStr::new("6"),
            OsStr::new("--runs"),
            OsStr::new("3"),
        ],
    );

    let (_d, back) = import_into_fresh_store(&text);
    assert_eq!(comparable(&back, None), comparable(&view, None));
    assert_eq!(
        back.dangling, view.dangling,
        "a dangling reference stays one"
    );

    let text = prov::render(&input).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let dangling = &doc["entity"][prov::qname(&id::file(&"c".repeat(64)))];
    assert_eq!(dangling["mlprov:recorded"], false);
    let names = &doc["entity"][prov::qname(&id::file(&"a".repeat(64)))]["mlprov:name"];
    assert_eq!(names, &serde_json::json!(["one", "uno"]));
    let file = dir.path().join("edge.prov.json");
    std::fs::write(&file, &text).unwrap();
    common::validate_with(
        "prov_json.py",
        &[
            file.as_os_str(),
            OsStr::new("--entities"),
            OsStr::new("6"),
            OsStr::new("--activities"),
            OsStr::new("3"),
            OsStr::new("--agents"),
            OsStr::new("1"),
        ],
    );
}
