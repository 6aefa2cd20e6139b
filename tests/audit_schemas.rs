//! The audit's schemas against what mlprov really prints and reads:
//! - `audit.v1`: every `mlprov --format json audit` report of many runs (the demo with its own
//!   policy, `--fail-on never|warning`, `--assume-released`, `--as-of`, a scope, a strict trust
//!   rule, a clarification, severity overrides that make it warn and pass, after a waiver and its
//!   revocation, and a store with a cycle, a dangling reference and an unknown license), and
//!   mutated copies of those reports, which must be rejected;
//! - `licenses.v1`: `mlprov --format json licenses` and `licenses ID` for every catalog entry;
//! - `waiver.v1`: what `mlprov --format json waive` prints;
//! - `policy.v1`: the demo policy, the example of `docs/policy.md` and a policy with every field
//!   set, read as TOML and converted to JSON; broken policies are rejected by the schema and by
//!   mlprov alike;
//! - `license-catalog.v1`: `catalog/licenses.toml`, the user-file example of
//!   `docs/license-catalog.md` and a small catalog with every field; broken catalogs are rejected
//!   by the schema and by mlprov alike;
//! - the codes, names, severities, classes, subjects and trust rules the schemas list are
//!   exactly those of the source.
//!
//! Every validator asserts `format` (calendar checks on dates and timestamps).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{demo_project, mlprov_in};
use jsonschema::{Draft, Validator};
use mlprov::audit::codes::CODES;
use mlprov::catalog::{Catalog, ClaimSubject, TermClass};
use mlprov::policy::{Policy, Severity, Trust};
use serde_json::{json, Value};

const BASE: &str = "https://mlprov.dev/schemas/";
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

const AUDIT: &str = "audit.v1.schema.json";
const POLICY: &str = "policy.v1.schema.json";
const CATALOG: &str = "license-catalog.v1.schema.json";
const CONDITION: &str = "license-catalog.v1.schema.json#/$defs/condition";
const LICENSES: &str = "licenses.v1.schema.json";
const LICENSE_LIST: &str = "licenses.v1.schema.json#/$defs/list";
const LICENSE_ENTRY: &str = "licenses.v1.schema.json#/$defs/entry";
const WAIVER: &str = "waiver.v1.schema.json";

const TARGETS: &[&str] = &[
    AUDIT,
    POLICY,
    CATALOG,
    CONDITION,
    LICENSES,
    LICENSE_LIST,
    LICENSE_ENTRY,
    WAIVER,
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- validators -----------------------------------------------------------------------------

struct Schemas {
    /// Every `schemas/*.json`, by file name.
    docs: BTreeMap<String, Value>,
    validators: BTreeMap<&'static str, Validator>,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let docs = common::schema_docs();
        let registry = common::schema_registry(docs.values());
        let validators = TARGETS
            .iter()
            .map(|&target| {
                let schema = json!({ "$schema": DRAFT_2020_12, "$ref": format!("{BASE}{target}") });
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .with_registry(&registry)
                    .offline()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("{target} does not compile: {e}"));
                (target, validator)
            })
            .collect();
        Schemas { docs, validators }
    })
}

fn errors(target: &str, doc: &Value) -> Vec<String> {
    schemas().validators[target]
        .iter_errors(doc)
        .map(|e| format!("{e} at '{}'", e.instance_path()))
        .collect()
}

fn is_valid(target: &str, doc: &Value) -> bool {
    schemas().validators[target].is_valid(doc)
}

#[track_caller]
fn assert_valid(target: &str, doc: &Value, what: &str) {
    let errs = errors(target, doc);
    assert!(
        errs.is_empty(),
        "{what}: rejected by {target}:\n  {}\n{doc:#}",
        errs.join("\n  ")
    );
}

// ---- TOML as JSON ---------------------------------------------------------------------------

/// The JSON equivalent of a TOML value: tables become objects, dates and times RFC 3339 strings
/// (a local date `YYYY-MM-DD`, a time `hh:mm:ss[.frac]`, an offset `Z` or `±hh:mm`).
fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or_else(|| panic!("the TOML float {f} has no JSON equivalent")),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(dt) => Value::String(rfc3339(dt)),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn rfc3339(dt: &toml::value::Datetime) -> String {
    let mut out = String::new();
    if let Some(d) = &dt.date {
        out.push_str(&format!("{:04}-{:02}-{:02}", d.year, d.month, d.day));
    }
    if let Some(t) = &dt.time {
        if dt.date.is_some() {
            out.push('T');
        }
        // TOML 1.1 may leave the seconds out; RFC 3339 may not.
        out.push_str(&format!(
            "{:02}:{:02}:{:02}",
            t.hour,
            t.minute,
            t.second.unwrap_or(0)
        ));
        if let Some(ns) = t.nanosecond {
            let frac = format!("{ns:09}");
            let frac = frac.trim_end_matches('0');
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        }
    }
    match dt.offset {
        Some(toml::value::Offset::Z) => out.push('Z'),
        Some(toml::value::Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
        }
        None => {}
    }
    out
}

fn toml_doc(text: &str, what: &str) -> Value {
    let value: toml::Value =
        toml::from_str(text).unwrap_or_else(|e| panic!("{what} is not TOML: {e}"));
    toml_to_json(&value)
}

/// The ```toml blocks of a Markdown file, in order.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```toml") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn toml_converts_to_json_with_rfc3339_dates() {
    let doc = toml_doc(
        "a = 1\nb = \"x\"\nc = [true, 1.5]\nd = 2026-11-23\ne = 1979-05-27T07:32:00Z\n\
         f = 1979-05-27T00:32:00.5-07:00\ng = 07:32:00\nh = 1979-05-27T07:32:00.000001+05:30\n\
         [t]\nu = { v = 2026-01-02 }\n[[arr]]\nk = 1\n",
        "sample",
    );
    assert_eq!(
        doc,
        json!({
            "a": 1, "b": "x", "c": [true, 1.5], "d": "2026-11-23", "e": "1979-05-27T07:32:00Z",
            "f": "1979-05-27T00:32:00.5-07:00", "g": "07:32:00", "h": "1979-05-27T07:32:00.000001+05:30",
            "t": {"u": {"v": "2026-01-02"}}, "arr": [{"k": 1}]
        })
    );
    let blocks = toml_blocks("x\n```toml\na = 1\n```\n```json\n{}\n```\n  ```toml\nb = 2\n  ```\n");
    assert_eq!(blocks, ["a = 1\n", "b = 2\n"]);
}

// ---- the schemas list what the source knows -------------------------------------------------

/// The `const`s of a `oneOf` of constants, or the members of an `enum`.
fn enum_of(schema: &Value) -> Vec<String> {
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
    }
    schema["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("neither enum nor oneOf: {schema:#}"))
        .iter()
        .map(|v| {
            v["const"]
                .as_str()
                .unwrap_or_else(|| panic!("not a const: {v}"))
                .to_string()
        })
        .collect()
}

fn serde_names<T: serde::Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn schemas_list_exactly_the_codes_and_enums_of_the_source() {
    let docs = &schemas().docs;
    let audit = &docs[AUDIT];
    let codes: Vec<String> = CODES.iter().map(|c| c.code.to_string()).collect();
    let names: Vec<String> = CODES.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        enum_of(&audit["$defs"]["code"]),
        codes,
        "audit.v1 $defs/code"
    );
    assert_eq!(
        enum_of(&audit["$defs"]["name"]),
        names,
        "audit.v1 $defs/name"
    );
    // Each code's description starts with its name and default severity.
    for (c, schema) in CODES
        .iter()
        .zip(audit["$defs"]["code"]["oneOf"].as_array().unwrap())
    {
        let want = format!("{} (default {}): ", c.name, c.default_severity.as_str());
        let description = schema["description"].as_str().unwrap();
        assert!(description.starts_with(&want), "{}: {description}", c.code);
    }
    // One if/then per code, naming the code's name.
    let pairs: Vec<(String, String)> = audit["$defs"]["finding"]["allOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|rule| {
            let code = rule["if"]["properties"]["code"]["const"].as_str()?;
            let name = rule["then"]["properties"]["name"]["const"]
                .as_str()
                .unwrap();
            Some((code.to_string(), name.to_string()))
        })
        .collect();
    let want: Vec<(String, String)> = CODES
        .iter()
        .map(|c| (c.code.to_string(), c.name.to_string()))
        .collect();
    assert_eq!(pairs, want, "audit.v1: the code/name rules");

    let policy = &docs[POLICY];
    assert_eq!(
        enum_of(&policy["$defs"]["severity"]),
        serde_names(&[
            Severity::Allow,
            Severity::Note,
            Severity::Warning,
            Severity::Error
        ])
    );
    assert_eq!(
        enum_of(&policy["$defs"]["trust"]),
        serde_names(&[Trust::PrimaryFirst, Trust::MostRestrictive])
    );
    // A report never holds an allowed finding: the rest of the severities.
    let report_severities: BTreeSet<String> =
        enum_of(&audit["$defs"]["finding"]["properties"]["severity"])
            .into_iter()
            .collect();
    let all: BTreeSet<String> = serde_names(&[Severity::Note, Severity::Warning, Severity::Error])
        .into_iter()
        .collect();
    assert_eq!(report_severities, all);

    let catalog = &docs[CATALOG];
    assert_eq!(
        enum_of(&catalog["$defs"]["termClass"]),
        serde_names(TermClass::ALL)
    );
    assert_eq!(
        enum_of(&catalog["$defs"]["claimSubject"]),
        serde_names(ClaimSubject::ALL)
    );
    let kinds: Vec<String> = catalog["$defs"]["condition"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["properties"]["kind"]["const"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "name_prefix",
            "attribution",
            "pass_through_restrictions",
            "include_license_copy",
            "user_limit",
            "other"
        ]
    );
    // Every condition the schema accepts, the loader reads (and the other way round, below).
    for condition in [
        json!({"kind": "name_prefix", "prefix": "Llama"}),
        json!({"kind": "attribution", "text": "Built with Llama"}),
        json!({"kind": "pass_through_restrictions"}),
        json!({"kind": "include_license_copy"}),
        json!({"kind": "user_limit", "monthly_active_users": 700}),
        json!({"kind": "other", "text": "anything"}),
    ] {
        assert_valid(CONDITION, &condition, "condition");
        let parsed: mlprov::catalog::Condition = serde_json::from_value(condition.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), condition);
    }
}

// ---- running the binary ---------------------------------------------------------------------

/// One JSON document the binary printed.
#[derive(Debug, Clone)]
struct Out {
    /// The command line, for messages.
    what: String,
    /// Its exit code.
    code: i32,
    /// `--fail-on` given (default `error`).
    fail_on: &'static str,
    doc: Value,
}

/// Run `mlprov --format json ARGS` in `cwd`; check the exit code, that nothing panicked and that
/// stdout is one JSON document.
fn json_out(cwd: &Path, args: &[&str], code: i32) -> Out {
    let mut full = vec!["--format", "json"];
    full.extend_from_slice(args);
    let ran = mlprov_in(cwd, &full);
    let what = format!("mlprov {}", full.join(" "));
    assert_eq!(
        ran.code, code,
        "{what}: exit {}, expected {code}\nstdout: {}\nstderr: {}",
        ran.code, ran.stdout, ran.stderr
    );
    assert!(
        !ran.stderr.contains("panicked"),
        "{what} panicked: {}",
        ran.stderr
    );
    let doc: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not one JSON document ({e}):\n{}",
            ran.stdout
        )
    });
    let fail_on = match args
        .iter()
        .position(|a| *a == "--fail-on")
        .map(|i| args[i + 1])
    {
        Some("never") => "never",
        Some("warning") => "warning",
        _ => "error",
    };
    Out {
        what,
        code: ran.code,
        fail_on,
        doc,
    }
}

fn demo_policy() -> String {
    std::fs::read_to_string(root().join("fixtures/demo/mlprov.toml")).unwrap()
}

/// `edit(from, to)` that must change the text.
#[track_caller]
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in:\n{text}");
    text.replace(from, to)
}

/// Everything printed by the scenarios, produced once for all the tests.
struct Outputs {
    audits: Vec<Out>,
    waivers: Vec<Out>,
    license_list: Vec<Out>,
    license_entries: Vec<Out>,
}

fn outputs() -> &'static Outputs {
    static OUTPUTS: OnceLock<Outputs> = OnceLock::new();
    OUTPUTS.get_or_init(|| {
        let mut audits = Vec::new();
        let mut waivers = Vec::new();

        // The demo, under its own policy and variations of it.
        let (_keep, demo) = demo_project();
        let demo = demo.as_path();
        audits.push(json_out(demo, &["audit"], 1));
        audits.push(json_out(demo, &["audit", "--fail-on", "never"], 0));
        audits.push(json_out(demo, &["audit", "--fail-on", "warning"], 1));
        audits.push(json_out(demo, &["audit", "--assume-released", "ticket-classifier"], 1));
        audits.push(json_out(demo, &["audit", "--as-of", "2028-01-01T00:00:00Z"], 1)); // the waiver has expired
        audits.push(json_out(demo, &["audit", "acme-chat-7b"], 0)); // scoped: notes only
        let policy = demo_policy();
        let variants = [
            ("strict.toml", edit(&policy, "trust = \"primary-first\"", "trust = \"most-restrictive\""), 1, "error"),
            (
                "clarified.toml",
                policy
                    .replace("# [[clarification]]", "[[clarification]]")
                    .replace("# license = ", "license = ")
                    .replace("# class = ", "class = ")
                    .replace("# reason = ", "reason = ")
                    .replace("# approved_by = ", "approved_by = "),
                1,
                "error",
            ),
            ("non-commercial.toml", edit(&policy, "commercial = true ", "commercial = false "), 1, "error"),
            (
                "warn.toml",
                format!("{policy}\n[severity]\nL101 = \"warning\"\nL102 = \"warning\"\nL103 = \"warning\"\nL104 = \"warning\"\nG201 = \"warning\"\n"),
                0,
                "error",
            ),
            (
                "warn.toml",
                format!("{policy}\n[severity]\nL101 = \"warning\"\nL102 = \"warning\"\nL103 = \"warning\"\nL104 = \"warning\"\nG201 = \"warning\"\n"),
                1,
                "warning",
            ),
            (
                "pass.toml",
                format!(
                    "{policy}\n[severity]\n{}",
                    CODES
                        .iter()
                        .map(|c| format!("{} = \"{}\"\n", c.code, if c.code == "L107" { "allow" } else { "note" }))
                        .collect::<String>()
                ),
                0,
                "warning",
            ),
        ];
        for (file, text, code, fail_on) in variants {
            let path = demo.join(file);
            std::fs::write(&path, text).unwrap();
            audits.push(json_out(demo, &["audit", "--policy", path.to_str().unwrap(), "--fail-on", fail_on], code));
        }

        // Rows of unknown origin in a recorded composition (G203), and a policy threshold.
        std::fs::write(
            demo.join("data/unmapped_mix.jsonl"),
            "{\"source\":\"scraped\",\"text\":\"a\"}\n{\"source\":\"human\",\"text\":\"b\"}\n",
        )
        .unwrap();
        let tagged = mlprov_in(
            demo,
            &["tag", "dataset", "data/unmapped_mix.jsonl", "--source-column", "source", "--map", "human=original"],
        );
        assert_eq!(tagged.code, 0, "{}", tagged.stderr);
        audits.push(json_out(demo, &["audit", "--fail-on", "never"], 0));
        let threshold = demo.join("threshold.toml");
        std::fs::write(&threshold, format!("{policy}\n[composition]\nwarn_below_share = 0.5\n")).unwrap();
        audits.push(json_out(demo, &["audit", "--policy", threshold.to_str().unwrap()], 1));

        // A waiver, then its revocation, on a fresh demo.
        let (_keep2, demo2) = demo_project();
        let demo2 = demo2.as_path();
        let granted = json_out(
            demo2,
            &[
                "waive", "--code", "L102", "--model", "gpt-4o", "--target", "acme-chat-pro", "--reason",
                "OpenAI agreement 2026-55", "--approved-by", "legal@acme.example", "--expires", "2099-01-01",
            ],
            0,
        );
        let waiver_id = granted.doc["waiver_id"].as_str().expect("waive prints the waiver").to_string();
        waivers.push(granted);
        audits.push(json_out(demo2, &["audit"], 1));
        waivers.push(json_out(
            demo2,
            &["waive", "--revoke", &waiver_id, "--reason", "agreement ended", "--approved-by", "legal@acme.example"],
            0,
        ));
        audits.push(json_out(demo2, &["audit"], 1));

        // A store with a cycle, a dangling reference and a license the catalog does not know; a
        // model of that license is also used as base weights, and no policy file exists.
        let odd = tempfile::tempdir().unwrap();
        let cwd = odd.path();
        assert_eq!(mlprov_in(cwd, &["init"]).code, 0);
        let a = format!("blake3:{}", "a".repeat(64));
        let b = format!("blake3:{}", "b".repeat(64));
        let c = format!("blake3:{}", "d".repeat(64));
        let ghost = format!("blake3:{}", "c".repeat(64));
        let odd_model = "model:x/odd@1#weights";
        let t = json!({"recorded_at": "2026-01-01T00:00:00Z", "recorded_by": "t@h"});
        let with_t = |mut v: Value| {
            v.as_object_mut().unwrap().extend(t.as_object().unwrap().clone());
            v
        };
        let lines = [
            json!({"type": "artifact", "artifact_id": odd_model, "kind": "external_model", "vendor": "x", "model": "odd", "revision": "1", "channel": "weights"}),
            json!({"type": "license_claim", "artifact_id": odd_model, "license_id": "made-up-license", "source": "user", "confidence": "unverified"}),
            json!({"type": "artifact", "artifact_id": a, "kind": "checkpoint", "name": "A"}),
            json!({"type": "artifact", "artifact_id": b, "kind": "checkpoint", "name": "B"}),
            json!({"type": "artifact", "artifact_id": c, "kind": "checkpoint", "name": "C"}),
            json!({"type": "run", "run_id": "run:01936a10-0000-7000-8000-0000000000a1", "kind": "fine_tune", "status": "succeeded",
                   "inputs": [{"artifact_id": a, "role": "base_weights"}, {"artifact_id": odd_model, "role": "teacher"}], "outputs": [b]}),
            json!({"type": "run", "run_id": "run:01936a10-0000-7000-8000-0000000000a2", "kind": "fine_tune", "status": "succeeded",
                   "inputs": [{"artifact_id": b, "role": "base_weights"}, {"artifact_id": ghost, "role": "training_data"}], "outputs": [a]}),
            json!({"type": "run", "run_id": "run:01936a10-0000-7000-8000-0000000000a3", "kind": "fine_tune", "status": "succeeded",
                   "inputs": [{"artifact_id": odd_model, "role": "base_weights"}], "outputs": [c]}),
        ];
        let text: String = lines.into_iter().map(|l| format!("{}\n", with_t(l))).collect();
        std::fs::write(cwd.join("odd.jsonl"), text).unwrap();
        let imported = mlprov_in(cwd, &["import", "odd.jsonl"]);
        assert_eq!(imported.code, 0, "import: {}", imported.stderr);
        audits.push(json_out(cwd, &["audit"], 1));
        audits.push(json_out(cwd, &["audit", "--fail-on", "never"], 0));

        // The license catalog: the list, and every entry.
        let license_list = vec![json_out(demo, &["licenses"], 0)];
        let ids: Vec<String> = license_list[0].doc["licenses"]
            .as_array()
            .expect("licenses lists entries")
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        let license_entries = ids.iter().map(|id| json_out(demo, &["licenses", id.as_str()], 0)).collect();

        Outputs { audits, waivers, license_list, license_entries }
    })
}

// ---- (a) what the binary prints -------------------------------------------------------------

/// What the schema cannot check: the counts add up, the verdict and exit code follow from the
/// findings, each code carries its own name, and the findings are in the documented order.
fn consistent(out: &Out) -> Result<(), String> {
    let doc = &out.doc;
    let findings = doc["findings"].as_array().ok_or("no findings array")?;
    let count = |status: &str, severity: Option<&str>| {
        findings
            .iter()
            .filter(|f| f["status"] == status && severity.is_none_or(|s| f["severity"] == s))
            .count() as u64
    };
    let summary = &doc["summary"];
    let want = json!({
        "errors": count("active", Some("error")),
        "warnings": count("active", Some("warning")),
        "notes": count("active", Some("note")),
        "waived": count("waived", None),
    });
    for key in ["errors", "warnings", "notes", "waived"] {
        if summary[key] != want[key] {
            return Err(format!(
                "{}: summary.{key} is {}, the findings say {}",
                out.what, summary[key], want[key]
            ));
        }
    }
    let verdict = if want["errors"] != 0 {
        "fail"
    } else if want["warnings"] != 0 {
        "warn"
    } else {
        "pass"
    };
    if doc["verdict"] != verdict {
        return Err(format!(
            "{}: verdict {}, the findings say {verdict}",
            out.what, doc["verdict"]
        ));
    }
    let fails = match out.fail_on {
        "never" => false,
        "warning" => want["errors"] != 0 || want["warnings"] != 0,
        _ => want["errors"] != 0,
    };
    if out.code != i32::from(fails) {
        return Err(format!(
            "{}: exit {} with --fail-on {}",
            out.what, out.code, out.fail_on
        ));
    }
    let rank = |f: &Value| match f["severity"].as_str() {
        Some("error") => 0,
        Some("warning") => 1,
        _ => 2,
    };
    for pair in findings.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let key = |f: &Value| (rank(f), f["code"].as_str().unwrap_or_default().to_string());
        if key(a) > key(b) {
            return Err(format!(
                "{}: {} before {}: not most severe first, then by code",
                out.what, a["code"], b["code"]
            ));
        }
    }
    for f in findings {
        let code = f["code"].as_str().unwrap_or_default();
        let known = CODES
            .iter()
            .find(|c| c.code == code)
            .ok_or(format!("{}: unknown code {code}", out.what))?;
        if f["name"] != known.name {
            return Err(format!("{}: {code} is named {}", out.what, f["name"]));
        }
        if let Some(path) = f["path"].as_array() {
            if path.last().map(|s| &s["id"]) != Some(&f["run"]) {
                return Err(format!(
                    "{}: {code}: the path does not end at the run judged",
                    out.what
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_audit_report_matches_audit_v1() {
    let outs = &outputs().audits;
    let mut problems = Vec::new();
    for out in outs {
        let errs = errors(AUDIT, &out.doc);
        if !errs.is_empty() {
            problems.push(format!(
                "{}: rejected by {AUDIT}:\n  {}\n{:#}",
                out.what,
                errs.join("\n  "),
                out.doc
            ));
        }
        if out.doc["$schema"] != json!(format!("{BASE}{AUDIT}")) {
            problems.push(format!("{}: $schema is {}", out.what, out.doc["$schema"]));
        }
        if let Err(e) = consistent(out) {
            problems.push(e);
        }
        for other in [POLICY, CATALOG, LICENSES, WAIVER] {
            if is_valid(other, &out.doc) {
                problems.push(format!("{}: {other} accepts an audit report", out.what));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn the_audit_scenarios_cover_every_shape() {
    let outs = &outputs().audits;
    let findings: Vec<&Value> = outs
        .iter()
        .flat_map(|o| o.doc["findings"].as_array().unwrap())
        .collect();
    let codes: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    let all: BTreeSet<&str> = CODES.iter().map(|c| c.code).collect();
    assert_eq!(
        codes,
        all,
        "codes never reported: {:?}",
        all.difference(&codes)
    );

    let verdicts: BTreeSet<&str> = outs
        .iter()
        .map(|o| o.doc["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, BTreeSet::from(["fail", "pass", "warn"]));
    let trusts: BTreeSet<&str> = outs
        .iter()
        .map(|o| o.doc["trust"].as_str().unwrap())
        .collect();
    assert_eq!(
        trusts,
        BTreeSet::from(["most-restrictive", "primary-first"])
    );
    let has = |pred: &dyn Fn(&Value) -> bool| findings.iter().any(|f| pred(f));
    for (what, seen) in [
        (
            "a report with as_of",
            outs.iter().any(|o| o.doc.get("as_of").is_some()),
        ),
        (
            "a report without as_of",
            outs.iter().any(|o| o.doc.get("as_of").is_none()),
        ),
        (
            "a report with a policy",
            outs.iter().any(|o| o.doc.get("policy").is_some()),
        ),
        (
            "a report without a policy",
            outs.iter().any(|o| o.doc.get("policy").is_none()),
        ),
        ("a waived finding", has(&|f| f["status"] == "waived")),
        ("a finding via outputs", has(&|f| f["via"] == "outputs")),
        ("a finding via weights", has(&|f| f["via"] == "weights")),
        (
            "a clarification",
            has(&|f| f.get("clarification").is_some()),
        ),
        (
            "a clarification with approved_by",
            has(&|f| f["clarification"].get("approved_by").is_some()),
        ),
        (
            "disagreeing claims",
            has(&|f| f.get("disagreeing_claims").is_some()),
        ),
        ("conditions", has(&|f| f.get("conditions").is_some())),
        ("notes", has(&|f| f.get("notes").is_some())),
        (
            "a license with a version",
            has(&|f| f["license"].get("version").is_some()),
        ),
        (
            "a license without a version",
            has(&|f| f.get("license").is_some() && f["license"].get("version").is_none()),
        ),
        (
            "a recorded-claim basis",
            has(&|f| {
                f["license"]["basis"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("recorded claim"))
            }),
        ),
        (
            "a catalog-assignment basis",
            has(&|f| {
                f["license"]["basis"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("catalog assignment"))
            }),
        ),
        (
            "a claim with clause and quote",
            has(&|f| f["claim"].get("clause").is_some() && f["claim"].get("quote").is_some()),
        ),
        (
            "a claim without quote",
            has(&|f| f.get("claim").is_some() && f["claim"].get("quote").is_none()),
        ),
        (
            "an internal target",
            has(&|f| f["target_distribution"] == "internal"),
        ),
        (
            "a released target",
            has(&|f| f["target_distribution"] == "external_weights"),
        ),
        (
            "a G202 naming its run",
            has(&|f| f["code"] == "G202" && f.get("run").is_some()),
        ),
        (
            "a W302 naming a run",
            has(&|f| f["code"] == "W302" && f.get("run").is_some()),
        ),
    ] {
        assert!(seen, "no audit scenario shows {what}");
    }
    // Every run exit code that the scenarios expected was checked in json_out; --fail-on never
    // exits 0 with a failing verdict.
    assert!(outs
        .iter()
        .any(|o| o.fail_on == "never" && o.doc["verdict"] == "fail" && o.code == 0));
}

#[test]
fn licenses_outputs_match_licenses_v1() {
    let o = outputs();
    let builtin = Catalog::builtin().unwrap();
    let list = &o.license_list[0];
    assert_valid(LICENSE_LIST, &list.doc, &list.what);
    assert_valid(LICENSES, &list.doc, &list.what);
    assert!(
        !is_valid(LICENSE_ENTRY, &list.doc),
        "the entry schema accepts the list"
    );
    let rows = list.doc["licenses"].as_array().unwrap();
    assert_eq!(rows.len(), builtin.licenses.len());
    assert_eq!(o.license_entries.len(), builtin.licenses.len());
    for out in &o.license_entries {
        assert_valid(LICENSE_ENTRY, &out.doc, &out.what);
        assert_valid(LICENSES, &out.doc, &out.what);
        assert!(
            !is_valid(LICENSE_LIST, &out.doc),
            "{}: the list schema accepts an entry",
            out.what
        );
        assert!(
            !is_valid(AUDIT, &out.doc) && !is_valid(CATALOG, &out.doc),
            "{}",
            out.what
        );
        // The entry printed is the catalog's, field for field.
        let id = out.doc["id"].as_str().unwrap();
        let entry = builtin.license(id).unwrap();
        assert_eq!(
            out.doc,
            serde_json::to_value(entry).unwrap(),
            "{}",
            out.what
        );
    }
    // Nulls are printed, not left out; and a null where a value belongs is rejected.
    let unversioned = rows
        .iter()
        .find(|r| r["version"].is_null())
        .expect("an entry without a version");
    assert_valid(
        LICENSE_LIST,
        &json!({"licenses": [unversioned]}),
        "a row with version null",
    );
    let mut missing = unversioned.clone();
    missing.as_object_mut().unwrap().remove("version");
    assert!(
        !is_valid(LICENSE_LIST, &json!({"licenses": [missing]})),
        "a row without version"
    );
    let mut broken = o.license_entries[0].doc.clone();
    broken["claims"][0]["class"] = json!("forbidden");
    assert!(
        !is_valid(LICENSES, &broken),
        "an entry with an unknown class"
    );
    let mut broken = o.license_entries[0].doc.clone();
    broken["claims"][0]["source"] = Value::Null;
    assert!(!is_valid(LICENSES, &broken), "a claim with source null");
    let mut broken = o.license_entries[0].doc.clone();
    broken["read"] = json!("2026-11-23T00:00:00Z");
    assert!(!is_valid(LICENSES, &broken), "a read date with a time");
    let mut broken = list.doc.clone();
    broken["licenses"][0]["classes"] = json!([]);
    assert!(!is_valid(LICENSES, &broken), "a row without classes");
}

#[test]
fn waive_outputs_match_waiver_v1() {
    let waivers = &outputs().waivers;
    assert_eq!(waivers.len(), 2);
    for out in waivers {
        assert_valid(WAIVER, &out.doc, &out.what);
        assert!(!is_valid(AUDIT, &out.doc), "{}", out.what);
    }
    assert_eq!(waivers[1].doc["revoked"], true);
    assert_eq!(waivers[0].doc["waiver_id"], waivers[1].doc["waiver_id"]);
}

// ---- (b) policy files -----------------------------------------------------------------------

/// A policy that sets every field (and every severity key).
fn full_policy() -> String {
    let severities: String = CODES
        .iter()
        .zip(["error", "warning", "note", "allow"].iter().cycle())
        .map(|(c, s)| format!("{} = \"{s}\"\n", c.code))
        .collect();
    format!(
        r#"catalog = "licenses-acme.toml"

[organisation]
name = "Acme"
commercial = false
competes_with = ["openai", "Anthropic", "*"]
api_served_is_distribution = false
restrictions_travel = false

[sources]
trust = "most-restrictive"

[severity]
{severities}
[[clarification]]
license = "deepseek-1.0"
class = "internal_only"
subject = "outputs"
reason = "Legal decision 2026-10-02"
approved_by = "legal@acme.example"

[[clarification]]
license = "llama2"
class = "conditional"
subject = "weights"
reason = "Legal decision 2026-10-03"
"#
    )
}

/// The value with every object member that is null left out, at any depth.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[test]
fn policy_files_match_policy_v1() {
    let docs_policy = std::fs::read_to_string(root().join("docs/policy.md")).unwrap();
    let example = toml_blocks(&docs_policy)
        .into_iter()
        .find(|b| b.contains("[organisation]"))
        .expect("docs/policy.md has a TOML example");
    let cases = [
        ("fixtures/demo/mlprov.toml", demo_policy()),
        ("the example of docs/policy.md", example),
        ("a policy with every field", full_policy()),
        ("an empty policy", String::new()),
    ];
    for (what, text) in cases {
        let doc = toml_doc(&text, what);
        assert_valid(POLICY, &doc, what);
        assert!(
            !is_valid(CATALOG, &doc) || doc.as_object().unwrap().is_empty(),
            "{what}: the catalog schema accepts it"
        );
        Policy::from_toml(&text, what).unwrap_or_else(|e| panic!("{what}: mlprov rejects it: {e}"));
    }
    // Every key of Policy is in the schema: serialised defaults (without the catalog, which has
    // no default) validate, and so does the full policy as mlprov reads it.
    // (serde writes unset options as null; the file leaves them out.)
    let full = Policy::from_toml(&full_policy(), "full").unwrap();
    let as_read = without_nulls(serde_json::to_value(&full).unwrap());
    assert_valid(POLICY, &as_read, "the full policy as mlprov reads it");
    assert_eq!(as_read["severity"].as_object().unwrap().len(), CODES.len());
    assert_eq!(as_read["clarification"].as_array().unwrap().len(), 2);
    let defaults = without_nulls(serde_json::to_value(Policy::default()).unwrap());
    assert_valid(POLICY, &defaults, "the default policy");
}

#[test]
fn broken_policies_are_rejected() {
    let base = demo_policy();
    let clarification = "\n[[clarification]]\nlicense = \"deepseek-1.0\"\nclass = \"internal_only\"\nreason = \"r\"\n";
    // Rejected by the schema and by mlprov alike.
    let broken = [
        ("an unknown top-level key", format!("strict = true\n{base}")),
        (
            "an unknown organisation key",
            edit(&base, "[organisation]\n", "[organisation]\ncompetes = []\n"),
        ),
        (
            "an unknown sources key",
            edit(&base, "[sources]\n", "[sources]\nmode = \"x\"\n"),
        ),
        (
            "an unknown finding code",
            format!("{base}\n[severity]\nX999 = \"error\"\n"),
        ),
        (
            "a finding code that does not exist",
            format!("{base}\n[severity]\nL199 = \"error\"\n"),
        ),
        (
            "a finding code in lower case",
            format!("{base}\n[severity]\nl101 = \"error\"\n"),
        ),
        (
            "an unknown severity",
            format!("{base}\n[severity]\nL101 = \"fatal\"\n"),
        ),
        (
            "a severity in upper case",
            format!("{base}\n[severity]\nL101 = \"Error\"\n"),
        ),
        (
            "an unknown class",
            format!(
                "{base}{}",
                edit(clarification, "internal_only", "forbidden")
            ),
        ),
        (
            "a class spelled with dashes",
            format!(
                "{base}{}",
                edit(clarification, "internal_only", "internal-only")
            ),
        ),
        (
            "an unknown subject",
            format!("{base}{clarification}subject = \"data\"\n"),
        ),
        (
            "a clarification without reason",
            format!("{base}{}", edit(clarification, "reason = \"r\"\n", "")),
        ),
        (
            "a clarification without class",
            format!(
                "{base}{}",
                edit(clarification, "class = \"internal_only\"\n", "")
            ),
        ),
        (
            "a clarification with an unknown key",
            format!("{base}{clarification}ticket = 12\n"),
        ),
        (
            "an unknown trust rule",
            edit(&base, "trust = \"primary-first\"", "trust = \"strictest\""),
        ),
        (
            "a trust rule in snake case",
            edit(
                &base,
                "trust = \"primary-first\"",
                "trust = \"most_restrictive\"",
            ),
        ),
        (
            "commercial as a string",
            edit(&base, "commercial = true ", "commercial = \"yes\" "),
        ),
        (
            "competes_with as a string",
            edit(
                &base,
                "competes_with = [\"openai\"]",
                "competes_with = \"openai\"",
            ),
        ),
        (
            "clarification as a table",
            format!(
                "{base}\n[clarification]\nlicense = \"x\"\nclass = \"allowed\"\nreason = \"r\"\n"
            ),
        ),
    ];
    for (what, text) in &broken {
        let doc = toml_doc(text, what);
        assert!(
            !is_valid(POLICY, &doc),
            "{what}: the schema accepts\n{text}"
        );
        assert!(
            Policy::from_toml(text, "p.toml").is_err(),
            "{what}: mlprov accepts\n{text}"
        );
    }
    // The schema is stricter than mlprov here: blank names and repeated vendors.
    let stricter = [
        (
            "an empty license",
            format!("{base}{}", edit(clarification, "\"deepseek-1.0\"", "\"\"")),
        ),
        (
            "an empty vendor",
            edit(
                &base,
                "competes_with = [\"openai\"]",
                "competes_with = [\"\"]",
            ),
        ),
        (
            "a repeated vendor",
            edit(
                &base,
                "competes_with = [\"openai\"]",
                "competes_with = [\"openai\", \"openai\"]",
            ),
        ),
        ("an empty catalog path", format!("catalog = \"\"\n{base}")),
    ];
    for (what, text) in &stricter {
        assert!(
            !is_valid(POLICY, &toml_doc(text, what)),
            "{what}: the schema accepts\n{text}"
        );
        assert!(
            Policy::from_toml(text, "p.toml").is_ok(),
            "{what}: mlprov now rejects it too; move it up"
        );
    }
}

// ---- (c) license catalogs -------------------------------------------------------------------

const CLAIM: &str = r#"[[licenses.claims]]
id = "acme-1.0/outputs"
subject = "outputs"
class = "forbidden_other_llm"
summary = "Outputs may not improve any other LLM."
clause = "1.b"
quote = "You will not use outputs to improve any other large language model."
conditions = [
    { kind = "name_prefix", prefix = "Acme" },
    { kind = "attribution", text = "Built with Acme" },
    { kind = "pass_through_restrictions" },
    { kind = "include_license_copy" },
    { kind = "user_limit", monthly_active_users = 1000000 },
    { kind = "other", text = "keep the notice file" },
]
exempt_family = "acme"
source = "https://acme.example/license"
confidence = "secondary"
read = 2026-11-20
note = "Read by legal."
"#;

const WEIGHTS_CLAIM: &str = r#"[[licenses.claims]]
id = "acme-1.0/weights"
subject = "weights"
class = "forbidden_competing"
summary = "Derivatives may not compete with Acme."
internal_exception = "internal classifiers"
source = "http://acme.example"
confidence = "unverified"
read = "2026-11-20"
"#;

const MODEL: &str = r#"[[models]]
vendor = "acme"
model = "acme-*"
revision = "2026-01"
channel = "api"
license = "acme-1.0"
family = "acme"
from = 2025-01-01
until = 2026-01-01
source = "https://acme.example/models"
confidence = "primary"
read = 2026-11-20
note = "Per the model page."
"#;

/// A small catalog with every field set: one license with `claims`, then `models`.
fn catalog(license_extra: &str, claims: &str, models: &str) -> String {
    format!(
        r#"schema_version = 1

[[licenses]]
id = "acme-1.0"
name = "Acme Model License"
version = "1.0"
effective = 2025-01-01
source = "https://acme.example/license"
read = 2026-11-20
confidence = "primary"
text_file = "llama2.LICENSE.txt"
spdx = "LicenseRef-Acme-1.0"
hf_ids = ["acme"]
hf_license_names = ["acme-license"]
{license_extra}
{claims}
{models}"#
    )
}

/// Whether mlprov refuses a catalog: the loader fails, or `Catalog::validate` finds a problem.
fn mlprov_rejects(text: &str) -> bool {
    match Catalog::from_toml(text, "test catalog") {
        Err(_) => true,
        Ok(c) => !c.validate().is_empty(),
    }
}

#[test]
fn catalog_files_match_license_catalog_v1() {
    let builtin = std::fs::read_to_string(root().join("catalog/licenses.toml")).unwrap();
    let doc = toml_doc(&builtin, "catalog/licenses.toml");
    assert_valid(CATALOG, &doc, "catalog/licenses.toml");
    assert!(
        !is_valid(POLICY, &doc),
        "the policy schema accepts the catalog"
    );
    let loaded = Catalog::builtin().unwrap();
    assert_eq!(
        doc["licenses"].as_array().unwrap().len(),
        loaded.licenses.len()
    );
    assert_eq!(doc["models"].as_array().unwrap().len(), loaded.models.len());

    let full = catalog("", &format!("{CLAIM}\n{WEIGHTS_CLAIM}"), MODEL);
    assert_valid(
        CATALOG,
        &toml_doc(&full, "a catalog with every field"),
        "a catalog with every field",
    );
    let parsed = Catalog::from_toml(&full, "full").unwrap();
    assert_eq!(parsed.validate(), Vec::<String>::new());
    assert_eq!(parsed.licenses[0].claims[0].conditions.len(), 6);

    let docs = std::fs::read_to_string(root().join("docs/license-catalog.md")).unwrap();
    let blocks = toml_blocks(&docs);
    let user_file = blocks
        .iter()
        .find(|b| b.contains("[[licenses]]"))
        .expect("an example user file");
    assert_valid(
        CATALOG,
        &toml_doc(user_file, "docs example"),
        "the user file of docs/license-catalog.md",
    );
    Catalog::from_toml(user_file, "docs example").expect("mlprov reads the docs example");
    let conditions = blocks
        .iter()
        .find(|b| b.starts_with("conditions"))
        .expect("an example of conditions");
    for condition in toml_doc(conditions, "docs conditions")["conditions"]
        .as_array()
        .unwrap()
    {
        assert_valid(
            CONDITION,
            condition,
            "a condition of docs/license-catalog.md",
        );
    }
    // Nothing but the two arrays is required.
    for text in ["", "schema_version = 1\n", "models = []\n"] {
        assert_valid(CATALOG, &toml_doc(text, text), text);
        assert!(!mlprov_rejects(text), "{text:?}");
    }
}

#[test]
fn broken_catalogs_are_rejected() {
    let drop = |text: &str, line: &str| edit(text, line, "");
    let claim = |c: String| catalog("", &c, MODEL);
    let outputs_only = |text: &str| catalog("", text, MODEL);
    // Rejected by the schema and by mlprov alike.
    let broken = [
        (
            "a claim without source",
            claim(drop(CLAIM, "source = \"https://acme.example/license\"\n")),
        ),
        (
            "a claim without confidence",
            claim(drop(CLAIM, "confidence = \"secondary\"\n")),
        ),
        (
            "a claim without read",
            claim(drop(CLAIM, "read = 2026-11-20\n")),
        ),
        (
            "a claim without summary",
            claim(drop(
                CLAIM,
                "summary = \"Outputs may not improve any other LLM.\"\n",
            )),
        ),
        (
            "a claim without subject",
            claim(drop(CLAIM, "subject = \"outputs\"\n")),
        ),
        (
            "a claim without class",
            claim(drop(CLAIM, "class = \"forbidden_other_llm\"\n")),
        ),
        (
            "a claim of an unknown class",
            claim(edit(CLAIM, "forbidden_other_llm", "forbidden")),
        ),
        (
            "a claim of an unknown subject",
            claim(edit(CLAIM, "subject = \"outputs\"", "subject = \"data\"")),
        ),
        (
            "a claim of an unknown confidence",
            claim(edit(CLAIM, "\"secondary\"", "\"tertiary\"")),
        ),
        (
            "a claim with an unknown key",
            claim(format!("{CLAIM}clas = \"allowed\"\n")),
        ),
        (
            "a claim read with a time",
            claim(edit(
                CLAIM,
                "read = 2026-11-20",
                "read = 2026-11-20T00:00:00Z",
            )),
        ),
        (
            "a claim read as a number",
            claim(edit(CLAIM, "read = 2026-11-20", "read = 20261120")),
        ),
        (
            "a claim read on 30 February",
            claim(edit(CLAIM, "read = 2026-11-20", "read = \"2026-02-30\"")),
        ),
        (
            "a claim read before 2000",
            claim(edit(CLAIM, "read = 2026-11-20", "read = 1999-12-31")),
        ),
        (
            "a claim with a non-http source",
            claim(edit(
                CLAIM,
                "https://acme.example/license",
                "ftp://acme.example/license",
            )),
        ),
        (
            "a claim with a source without a dot",
            claim(edit(
                CLAIM,
                "https://acme.example/license",
                "https://localhost/license",
            )),
        ),
        (
            "a claim id without its entry's prefix",
            claim(edit(CLAIM, "\"acme-1.0/outputs\"", "\"outputs\"")),
        ),
        (
            "an unknown condition kind",
            claim(edit(CLAIM, "kind = \"other\"", "kind = \"another\"")),
        ),
        (
            "a condition with an extra key",
            claim(edit(
                CLAIM,
                "prefix = \"Acme\" }",
                "prefix = \"Acme\", text = \"x\" }",
            )),
        ),
        (
            "a name_prefix without prefix",
            claim(edit(
                CLAIM,
                "{ kind = \"name_prefix\", prefix = \"Acme\" }",
                "{ kind = \"name_prefix\" }",
            )),
        ),
        (
            "a user limit of zero",
            claim(edit(
                CLAIM,
                "monthly_active_users = 1000000",
                "monthly_active_users = 0",
            )),
        ),
        (
            "exempt_family on another class",
            claim(edit(
                CLAIM,
                "class = \"forbidden_other_llm\"",
                "class = \"conditional\"",
            )),
        ),
        (
            "internal_exception on another class",
            outputs_only(&format!(
                "{CLAIM}\n{}",
                edit(WEIGHTS_CLAIM, "forbidden_competing", "non_commercial")
            )),
        ),
        ("a license without claims", catalog("", "", MODEL)),
        (
            "a license with claims only about weights",
            outputs_only(WEIGHTS_CLAIM),
        ),
        (
            "a license without source",
            catalog("", CLAIM, MODEL).replacen(
                "source = \"https://acme.example/license\"\n",
                "",
                1,
            ),
        ),
        (
            "a license without read",
            catalog("", CLAIM, MODEL).replacen("read = 2026-11-20\n", "", 1),
        ),
        (
            "a license without confidence",
            catalog("", CLAIM, MODEL).replacen("confidence = \"primary\"\n", "", 1),
        ),
        (
            "a license id with a slash",
            catalog("", CLAIM, MODEL).replace("id = \"acme-1.0\"", "id = \"acme/1.0\""),
        ),
        (
            "a license with an unknown key",
            catalog("licence = \"x\"", CLAIM, MODEL),
        ),
        (
            "a license effective in 1900",
            catalog("", CLAIM, MODEL).replace("effective = 2025-01-01", "effective = 1900-01-01"),
        ),
        (
            "a text_digest that is not hex",
            catalog("text_digest = \"xyz\"", CLAIM, MODEL),
        ),
        (
            "an empty Hub id",
            catalog("", CLAIM, MODEL).replace("hf_ids = [\"acme\"]", "hf_ids = [\"\"]"),
        ),
        (
            "a model without family",
            catalog("", CLAIM, &drop(MODEL, "family = \"acme\"\n")),
        ),
        (
            "a model without channel",
            catalog("", CLAIM, &drop(MODEL, "channel = \"api\"\n")),
        ),
        (
            "a model of an unknown channel",
            catalog("", CLAIM, &edit(MODEL, "\"api\"", "\"web\"")),
        ),
        (
            "a model without source",
            catalog(
                "",
                CLAIM,
                &drop(MODEL, "source = \"https://acme.example/models\"\n"),
            ),
        ),
        (
            "a vendor with a slash",
            catalog(
                "",
                CLAIM,
                &edit(MODEL, "vendor = \"acme\"", "vendor = \"acme/labs\""),
            ),
        ),
        (
            "a model name with a space",
            catalog(
                "",
                CLAIM,
                &edit(MODEL, "model = \"acme-*\"", "model = \"acme chat\""),
            ),
        ),
        (
            "a model with an unknown key",
            catalog("", CLAIM, &format!("{MODEL}licence = \"x\"\n")),
        ),
        (
            "an unknown top-level key",
            format!("extra = 1\n{}", catalog("", CLAIM, MODEL)),
        ),
        (
            "schema_version 2",
            catalog("", CLAIM, MODEL).replace("schema_version = 1", "schema_version = 2"),
        ),
        (
            "licenses as a table",
            "[licenses]\nid = \"x\"\n".to_string(),
        ),
    ];
    for (what, text) in &broken {
        let doc = toml_doc(text, what);
        assert!(
            !is_valid(CATALOG, &doc),
            "{what}: the schema accepts\n{text}"
        );
        assert!(mlprov_rejects(text), "{what}: mlprov accepts\n{text}");
    }
    // The schema is stricter than mlprov here: enums spelled exactly, dates without spaces, no
    // blank optional strings.
    let stricter = [
        (
            "a class in another spelling",
            claim(edit(
                CLAIM,
                "\"forbidden_other_llm\"",
                "\"Forbidden-Other-LLM\"",
            )),
        ),
        (
            "a confidence in upper case",
            claim(edit(CLAIM, "\"secondary\"", "\"SECONDARY\"")),
        ),
        (
            "a subject in upper case",
            claim(edit(
                CLAIM,
                "subject = \"outputs\"",
                "subject = \"Outputs\"",
            )),
        ),
        (
            "a read date with spaces",
            claim(edit(CLAIM, "read = 2026-11-20", "read = \" 2026-11-20 \"")),
        ),
        (
            "a blank clause",
            claim(edit(CLAIM, "clause = \"1.b\"", "clause = \" \"")),
        ),
        // serde's deny_unknown_fields does not reach the variants without fields of an internally
        // tagged enum: mlprov ignores the extra key here.
        (
            "a condition without fields given one",
            claim(edit(
                CLAIM,
                "{ kind = \"include_license_copy\" }",
                "{ kind = \"include_license_copy\", text = \"x\" }",
            )),
        ),
    ];
    for (what, text) in &stricter {
        assert!(
            !is_valid(CATALOG, &toml_doc(text, what)),
            "{what}: the schema accepts\n{text}"
        );
        assert!(
            !mlprov_rejects(text),
            "{what}: mlprov now rejects it too; move it up"
        );
    }
}

// ---- (d) mutated reports --------------------------------------------------------------------

/// A report (cloned) that has a finding matching `pick`, and that finding's index.
fn report_with(pick: impl Fn(&Value) -> bool) -> (Value, usize) {
    for out in &outputs().audits {
        if let Some(i) = out.doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .position(&pick)
        {
            return (out.doc.clone(), i);
        }
    }
    panic!("no audit scenario has such a finding");
}

#[test]
fn mutated_audit_reports_are_rejected() {
    type Change = Box<dyn Fn(&mut Value)>;
    let is = |code: &'static str| move |f: &Value| f["code"] == code;
    let mut cases: Vec<(&str, Value, Change)> = Vec::new();
    let mut finding = |what: &'static str, pick: &dyn Fn(&Value) -> bool, change: Change| {
        let (doc, i) = report_with(pick);
        let change: Change = Box::new(move |d: &mut Value| change(&mut d["findings"][i]));
        cases.push((what, doc, change));
    };
    let l101 = is("L101");
    // codes and names
    finding(
        "an unknown code",
        &l101,
        Box::new(|f| f["code"] = json!("L199")),
    );
    finding(
        "a code in lower case",
        &l101,
        Box::new(|f| f["code"] = json!("l101")),
    );
    finding(
        "a code with another code's name",
        &l101,
        Box::new(|f| f["name"] = json!("duties")),
    );
    finding(
        "an unknown name",
        &l101,
        Box::new(|f| f["name"] = json!("forbidden-other")),
    );
    finding(
        "swapped code and name",
        &is("L106"),
        Box::new(|f| {
            f["code"] = json!("L105");
            f["name"] = json!("duties");
        }),
    );
    finding(
        "a G202 named as G201",
        &is("G202"),
        Box::new(|f| f["name"] = json!("lineage-cycle")),
    );
    finding(
        "a W302 named as W301",
        &is("W302"),
        Box::new(|f| f["name"] = json!("waiver-unused")),
    );
    // severity and status
    finding(
        "severity allow",
        &l101,
        Box::new(|f| f["severity"] = json!("allow")),
    );
    finding(
        "an unknown severity",
        &l101,
        Box::new(|f| f["severity"] = json!("fatal")),
    );
    finding(
        "a severity in upper case",
        &l101,
        Box::new(|f| f["severity"] = json!("Error")),
    );
    finding(
        "an unknown status",
        &l101,
        Box::new(|f| f["status"] = json!("ignored")),
    );
    finding(
        "waived without a waiver",
        &|f| f["status"] == "waived",
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("waiver");
        }),
    );
    finding(
        "an active finding naming a waiver",
        &l101,
        Box::new(|f| f["waiver"] = json!("waiver:01a2082c-640b-77a8-8556-b20c9138e09a")),
    );
    finding(
        "a waived W302",
        &is("W302"),
        Box::new(|f| f["status"] = json!("waived")),
    );
    finding(
        "a W301 without its waiver",
        &is("W301"),
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("waiver");
        }),
    );
    finding(
        "a malformed waiver id",
        &|f| f["status"] == "waived",
        Box::new(|f| f["waiver"] = json!("waiver:1")),
    );
    // evidence path steps
    let with_path = |f: &Value| f["path"].as_array().is_some_and(|p| p.len() > 2);
    for field in ["id", "label", "type", "kind"] {
        for step in [0, 1] {
            finding(
                "a path step without a field",
                &with_path,
                Box::new(move |f| {
                    f["path"][step].as_object_mut().unwrap().remove(field);
                }),
            );
        }
    }
    finding(
        "an artifact step without its role",
        &with_path,
        Box::new(|f| {
            f["path"][0].as_object_mut().unwrap().remove("role");
        }),
    );
    finding(
        "a run step with a role",
        &with_path,
        Box::new(|f| f["path"][1]["role"] = json!("teacher")),
    );
    finding(
        "an artifact step with a run id",
        &with_path,
        Box::new(|f| f["path"][0]["id"] = f["path"][1]["id"].clone()),
    );
    finding(
        "a run step with an artifact id",
        &with_path,
        Box::new(|f| f["path"][1]["id"] = f["path"][0]["id"].clone()),
    );
    finding(
        "a run step with an artifact kind",
        &with_path,
        Box::new(|f| f["path"][1]["kind"] = json!("checkpoint")),
    );
    finding(
        "an artifact step with a run kind",
        &with_path,
        Box::new(|f| f["path"][0]["kind"] = json!("fine_tune")),
    );
    finding(
        "a step of an unknown type",
        &with_path,
        Box::new(|f| f["path"][1]["type"] = json!("edge")),
    );
    finding(
        "a step with an unknown role",
        &with_path,
        Box::new(|f| f["path"][0]["role"] = json!("mentor")),
    );
    finding(
        "a step with an unknown key",
        &with_path,
        Box::new(|f| f["path"][0]["depth"] = json!(1)),
    );
    finding(
        "a path starting at a run",
        &with_path,
        Box::new(|f| {
            f["path"].as_array_mut().unwrap().remove(0);
        }),
    );
    finding(
        "a path of one step",
        &with_path,
        Box::new(|f| {
            f["path"].as_array_mut().unwrap().truncate(1);
        }),
    );
    finding(
        "an empty path",
        &with_path,
        Box::new(|f| f["path"] = json!([])),
    );
    // evidence by code
    finding(
        "an L101 without its license",
        &l101,
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("license");
        }),
    );
    finding(
        "an L101 without its claim",
        &l101,
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("claim");
        }),
    );
    finding(
        "an L101 without its path",
        &l101,
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("path");
        }),
    );
    finding(
        "an L101 without its run",
        &l101,
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("run");
        }),
    );
    finding(
        "an L101 decided by an allowed claim",
        &|f| f["code"] == "L101" && f.get("clarification").is_none(),
        Box::new(|f| f["claim"]["class"] = json!("allowed")),
    );
    finding(
        "an L103 whose clarification pins another class",
        &|f| f["code"] == "L103" && f.get("clarification").is_some(),
        Box::new(|f| f["clarification"]["class"] = json!("conditional")),
    );
    finding(
        "an L103 on an internal target",
        &is("L103"),
        Box::new(|f| f["target_distribution"] = json!("internal")),
    );
    finding(
        "an L101 with conditions",
        &l101,
        Box::new(|f| f["conditions"] = json!(["x"])),
    );
    finding(
        "an L105 without conditions",
        &is("L105"),
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("conditions");
        }),
    );
    finding(
        "an L108 without disagreeing claims",
        &is("L108"),
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("disagreeing_claims");
        }),
    );
    finding(
        "empty disagreeing claims",
        &is("L108"),
        Box::new(|f| f["disagreeing_claims"] = json!([])),
    );
    finding(
        "an L107 with a license",
        &is("L107"),
        Box::new(|f| {
            f["license"] =
                json!({"id": "mit", "name": "MIT", "basis": "recorded claim (user, primary)"})
        }),
    );
    finding(
        "a G201 naming a run",
        &is("G201"),
        Box::new(|f| f["run"] = json!("run:01936a10-0000-7000-8000-0000000000a1")),
    );
    finding(
        "a G202 naming a model",
        &is("G202"),
        Box::new(|f| f["model"] = json!("model:x/odd@1#weights")),
    );
    finding(
        "a W301 naming a run",
        &is("W301"),
        Box::new(|f| f["run"] = json!("run:01936a10-0000-7000-8000-0000000000a1")),
    );
    finding(
        "a target label without a target",
        &|f| f.get("target").is_some(),
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("target");
        }),
    );
    finding(
        "a target without its distribution",
        &|f| f.get("target_distribution").is_some(),
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("target_distribution");
        }),
    );
    finding(
        "via weights with generated_at",
        &|f| f["via"] == "weights",
        Box::new(|f| f["generated_at"] = json!("2026-01-01T00:00:00Z")),
    );
    finding(
        "via outputs without generated_at",
        &|f| f["via"] == "outputs",
        Box::new(|f| {
            f.as_object_mut().unwrap().remove("generated_at");
        }),
    );
    finding(
        "an unknown via",
        &|f| f["via"] == "outputs",
        Box::new(|f| f["via"] = json!("logits")),
    );
    finding(
        "an unknown channel",
        &|f| f.get("channel").is_some(),
        Box::new(|f| f["channel"] = json!("web")),
    );
    finding(
        "an unknown distribution",
        &|f| f.get("target_distribution").is_some(),
        Box::new(|f| f["target_distribution"] = json!("public")),
    );
    finding(
        "generated_at on 30 February",
        &|f| f["via"] == "outputs",
        Box::new(|f| f["generated_at"] = json!("2026-02-30T00:00:00Z")),
    );
    finding(
        "a model that is no artifact id",
        &l101,
        Box::new(|f| f["model"] = json!("gpt-4o")),
    );
    finding(
        "a run that is no run id",
        &l101,
        Box::new(|f| f["run"] = json!("sft acme")),
    );
    // license, claim and clarification
    finding(
        "a license basis in free text",
        &l101,
        Box::new(|f| f["license"]["basis"] = json!("because")),
    );
    finding(
        "a license without name",
        &l101,
        Box::new(|f| {
            f["license"].as_object_mut().unwrap().remove("name");
        }),
    );
    finding(
        "a license version null",
        &l101,
        Box::new(|f| f["license"]["version"] = Value::Null),
    );
    finding(
        "a claim without source",
        &l101,
        Box::new(|f| {
            f["claim"].as_object_mut().unwrap().remove("source");
        }),
    );
    finding(
        "a claim without confidence",
        &l101,
        Box::new(|f| {
            f["claim"].as_object_mut().unwrap().remove("confidence");
        }),
    );
    finding(
        "a claim of an unknown confidence",
        &l101,
        Box::new(|f| f["claim"]["confidence"] = json!("sure")),
    );
    finding(
        "a claim read with a time",
        &l101,
        Box::new(|f| f["claim"]["read"] = json!("2026-11-23T00:00:00Z")),
    );
    finding(
        "a claim with its subject",
        &l101,
        Box::new(|f| f["claim"]["subject"] = json!("outputs")),
    );
    finding(
        "a claim with conditions",
        &l101,
        Box::new(|f| f["claim"]["conditions"] = json!([])),
    );
    finding(
        "a claim id without a slash",
        &l101,
        Box::new(|f| f["claim"]["id"] = json!("llama2")),
    );
    finding(
        "a disagreeing claim of an unknown class",
        &is("L108"),
        Box::new(|f| f["disagreeing_claims"][0]["class"] = json!("banned")),
    );
    finding(
        "a clarification without reason",
        &|f| f.get("clarification").is_some(),
        Box::new(|f| {
            f["clarification"].as_object_mut().unwrap().remove("reason");
        }),
    );
    finding(
        "a clarification with an unknown key",
        &|f| f.get("clarification").is_some(),
        Box::new(|f| f["clarification"]["ticket"] = json!(1)),
    );
    // nulls, unknown keys, empty lists
    finding(
        "a null target",
        &l101,
        Box::new(|f| f["target"] = Value::Null),
    );
    finding(
        "a null clarification",
        &l101,
        Box::new(|f| f["clarification"] = Value::Null),
    );
    finding(
        "an empty notes list",
        &l101,
        Box::new(|f| f["notes"] = json!([])),
    );
    finding(
        "an unknown finding key",
        &l101,
        Box::new(|f| f["evidence"] = json!("x")),
    );
    finding(
        "an empty message",
        &l101,
        Box::new(|f| f["message"] = json!("")),
    );

    // the report itself
    let mut report = |what: &'static str, pick: &dyn Fn(&Value) -> bool, change: Change| {
        let doc = outputs()
            .audits
            .iter()
            .map(|o| &o.doc)
            .find(|d| pick(d))
            .unwrap_or_else(|| panic!("{what}: no such report"))
            .clone();
        cases.push((what, doc, change));
    };
    let failing = |d: &Value| d["verdict"] == "fail";
    let passing =
        |d: &Value| d["verdict"] == "pass" && !d["findings"].as_array().unwrap().is_empty();
    report(
        "another $schema",
        &failing,
        Box::new(|d| d["$schema"] = json!(format!("{BASE}verify.v1.schema.json"))),
    );
    report(
        "no $schema",
        &failing,
        Box::new(|d| {
            d.as_object_mut().unwrap().remove("$schema");
        }),
    );
    report(
        "an unknown verdict",
        &failing,
        Box::new(|d| d["verdict"] = json!("error")),
    );
    report(
        "pass with active errors",
        &failing,
        Box::new(|d| d["verdict"] = json!("pass")),
    );
    report(
        "warn with active errors",
        &failing,
        Box::new(|d| d["verdict"] = json!("warn")),
    );
    report(
        "fail without errors",
        &passing,
        Box::new(|d| d["verdict"] = json!("fail")),
    );
    report(
        "fail counting no errors",
        &failing,
        Box::new(|d| d["summary"]["errors"] = json!(0)),
    );
    report(
        "an unknown trust rule",
        &failing,
        Box::new(|d| d["trust"] = json!("strict")),
    );
    report(
        "no trust rule",
        &failing,
        Box::new(|d| {
            d.as_object_mut().unwrap().remove("trust");
        }),
    );
    report(
        "a null policy",
        &failing,
        Box::new(|d| d["policy"] = Value::Null),
    );
    report(
        "an as_of without offset",
        &failing,
        Box::new(|d| d["as_of"] = json!("2026-01-01T00:00:00")),
    );
    report(
        "an unknown top-level key",
        &failing,
        Box::new(|d| d["clean"] = json!(false)),
    );
    report(
        "a summary with an unknown key",
        &failing,
        Box::new(|d| d["summary"]["allowed"] = json!(0)),
    );
    report(
        "a summary without targets",
        &failing,
        Box::new(|d| {
            d["summary"].as_object_mut().unwrap().remove("targets");
        }),
    );
    report(
        "a negative count",
        &failing,
        Box::new(|d| d["summary"]["notes"] = json!(-1)),
    );
    report(
        "a fractional count",
        &failing,
        Box::new(|d| d["summary"]["notes"] = json!(1.5)),
    );
    report(
        "no findings",
        &failing,
        Box::new(|d| {
            d.as_object_mut().unwrap().remove("findings");
        }),
    );

    assert!(cases.len() > 80, "{} cases", cases.len());
    let mut accepted = Vec::new();
    for (what, doc, change) in &cases {
        assert_valid(AUDIT, doc, &format!("{what} (before the change)"));
        let mut copy = doc.clone();
        change(&mut copy);
        assert_ne!(&copy, doc, "{what}: the mutation changed nothing");
        if is_valid(AUDIT, &copy) {
            accepted.push(*what);
        }
    }
    assert!(accepted.is_empty(), "audit.v1 accepts: {accepted:#?}");
}
