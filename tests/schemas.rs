//! The JSON Schemas in `schemas/` agree with the serde types in `mlprov::records`.
//!
//! Every schema is registered under its `$id` in an in-memory registry: the `jsonschema` crate is
//! built without resolvers, so nothing is fetched from the network or read by path.
//!
//! Covered here:
//! - records built through the library types, sealed and serialised, validate against their kind's
//!   schema and, wrapped as `Record`, against `record.v1` (every enum variant, all optional fields
//!   set and none set);
//! - the schemas name exactly the serialised fields, require exactly the fields serde requires, and
//!   list exactly the serde strings of every enum;
//! - broken documents are rejected, by serde too where serde checks the same thing;
//! - every `schemas/*.json` is a valid draft 2020-12 schema with the expected `$id`, and every
//!   property has a one-line description;
//! - every `fixtures/**/*.records.jsonl` line is a valid `record.v1` document and a `Record`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use jsonschema::{Draft, Registry, Validator};
use mlprov::records::{
    id, ArtifactKind, ArtifactRecord, Channel, ClaimSource, Confidence, Distribution,
    LicenseClaimRecord, Purpose, Record, ReleaseRecord, Role, RunInput, RunKind, RunRecord,
    RunStatus, StoredRecord, WaiverRecord,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

const BASE: &str = "https://mlprov.dev/schemas/";
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// The record kinds: the `type` tag, and the schema file of the kind.
const KINDS: &[(&str, &str)] = &[
    ("artifact", "artifact.v1.schema.json"),
    ("run", "run.v1.schema.json"),
    ("release", "release.v1.schema.json"),
    ("license_claim", "license-claim.v1.schema.json"),
    ("waiver", "waiver.v1.schema.json"),
];
const RECORD: &str = "record.v1.schema.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Schemas {
    /// Every `schemas/*.json`, by file name.
    docs: BTreeMap<String, Value>,
    /// A validator per schema file that is a record schema, with format assertion on.
    strict: BTreeMap<String, Validator>,
    /// The same without format assertion: what a validator that treats `format` as an
    /// annotation (the 2020-12 default) sees.
    lax: BTreeMap<String, Validator>,
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let docs = common::schema_docs();
        let registry = common::schema_registry(docs.values());
        let build = |name: &str, formats: bool| {
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .offline()
                .should_validate_formats(formats)
                .build(&docs[name])
                .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
        };
        let names: Vec<&str> = KINDS.iter().map(|(_, f)| *f).chain([RECORD]).collect();
        let strict = names
            .iter()
            .map(|n| (n.to_string(), build(n, true)))
            .collect();
        let lax = names
            .iter()
            .map(|n| (n.to_string(), build(n, false)))
            .collect();
        Schemas { docs, strict, lax }
    })
}

fn file_of(tag: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(t, _)| *t == tag)
        .unwrap_or_else(|| panic!("no kind {tag}"))
        .1
}

fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at '{}'", e, e.instance_path()))
        .collect()
}

fn assert_valid(schema: &str, doc: &Value) {
    let errs = errors(&schemas().strict[schema], doc);
    assert!(
        errs.is_empty(),
        "{schema} rejects a document it should accept:\n{doc:#}\n{}",
        errs.join("\n")
    );
}

/// The `Record` JSON Lines form of a kind's document.
fn tagged(tag: &str, doc: &Value) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), json!(tag));
    map.extend(doc.as_object().expect("records are objects").clone());
    Value::Object(map)
}

fn obj(doc: &Value) -> &Map<String, Value> {
    doc.as_object().expect("an object")
}

/// Schema object at a JSON pointer into a schema file.
fn at(file: &str, pointer: &str) -> &'static Value {
    schemas().docs[file]
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{file} has nothing at {pointer}"))
}

// ---- records built through the library ----------------------------------------------------------

fn ts(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn hex(seed: u8) -> String {
    blake3::hash(&[seed]).to_hex().to_string()
}

fn sealed<T: StoredRecord>(mut r: T) -> T {
    r.seal();
    assert_eq!(r.record_id().len(), 64);
    r
}

fn artifact(kind: ArtifactKind, full: bool, seed: u8) -> ArtifactRecord {
    let (artifact_id, channel) = match (kind, full) {
        (ArtifactKind::ExternalModel, _) => {
            let channel = Channel::ALL[seed as usize % Channel::ALL.len()];
            (
                id::external_model(
                    "meta-llama",
                    "Llama-3.1-8B-Instruct",
                    full.then_some("2024-07-23"),
                    channel,
                ),
                Some(channel),
            )
        }
        (ArtifactKind::Dataset | ArtifactKind::SyntheticDataset, _) => (id::tree(&hex(seed)), None),
        _ => (id::file(&hex(seed)), None),
    };
    let some = |s: &str| full.then(|| s.to_string());
    ArtifactRecord {
        record_id: String::new(),
        artifact_id,
        kind,
        size_bytes: full.then_some(u64::MAX - u64::from(seed)),
        file_count: full.then_some(0),
        name: some("näme with spaces/and \"quotes\"\n"),
        location: some("s3://bucket/path/to/file.parquet"),
        vendor: some("meta-llama"),
        model: some("Llama-3.1-8B-Instruct"),
        revision: some("2024-07-23"),
        channel: if full {
            channel.or(Some(Channel::Weights))
        } else {
            None
        },
        purpose: full.then(|| Purpose::ALL[seed as usize % Purpose::ALL.len()]),
        composition: full.then(|| mlprov::records::Composition {
            column: "source".into(),
            rows: 3,
            digest_algorithm: "xxh3-64-row-chain/sum128-v1".into(),
            groups: vec![
                mlprov::records::SourceGroup {
                    value: Some("gpt4_alpaca".into()),
                    rows: 2,
                    digest: "0123456789abcdef0123456789abcdef".into(),
                    source: Some("model:openai/gpt-4@unversioned#api".into()),
                    mapped: true,
                },
                mlprov::records::SourceGroup {
                    value: None,
                    rows: 1,
                    digest: "fedcba9876543210fedcba9876543210".into(),
                    source: None,
                    mapped: false,
                },
            ],
        }),
        recorded_at: Utc.timestamp_opt(1_714_564_800, 123_456_789).unwrap(),
        recorded_by: "alice@host".into(),
    }
}

fn run(kind: RunKind, status: RunStatus, full: bool, seed: u8) -> RunRecord {
    let inputs = if full {
        Role::ALL
            .iter()
            .enumerate()
            .map(|(i, &role)| RunInput {
                artifact_id: id::file(&hex(seed.wrapping_add(i as u8))),
                role,
            })
            .chain([RunInput {
                artifact_id: id::external_model("openai", "gpt-4o", None, Channel::Api),
                role: Role::Teacher,
            }])
            .collect()
    } else {
        Vec::new()
    };
    RunRecord {
        record_id: String::new(),
        run_id: id::new_run(),
        kind,
        name: full.then(|| "sft-v2".into()),
        status,
        started_at: full.then(|| ts("2024-05-01T10:00:00+02:00")),
        ended_at: full.then(|| ts("2024-05-01T12:30:00.5Z")),
        inputs,
        outputs: if full {
            vec![id::file(&hex(200)), id::tree(&hex(201))]
        } else {
            Vec::new()
        },
        recorded_at: ts("2024-05-01T12:30:01Z"),
        recorded_by: "bob@gpu-01".into(),
    }
}

fn release(distribution: Distribution, full: bool) -> ReleaseRecord {
    ReleaseRecord {
        record_id: String::new(),
        artifact_id: id::tree(&hex(7)),
        distribution,
        effective_at: ts("2024-06-01T00:00:00.000001Z"),
        note: full.then(|| "HF release, see ticket 42".into()),
        recorded_at: ts("2024-06-01T00:00:00Z"),
        recorded_by: "carol@laptop".into(),
    }
}

fn license_claim(source: ClaimSource, confidence: Confidence, full: bool) -> LicenseClaimRecord {
    LicenseClaimRecord {
        record_id: String::new(),
        artifact_id: id::external_model(
            "meta-llama",
            "Llama-3.1-8B",
            Some("main"),
            Channel::Weights,
        ),
        license_id: "llama3.1".into(),
        license_version: full.then(|| "2024-07-23".into()),
        source,
        confidence,
        evidence_digest: full.then(|| hex(9)),
        evidence_path: full.then(|| "LICENSE".into()),
        note: full.then(|| "read from the repo".into()),
        recorded_at: ts("2024-05-02T08:00:00.250Z"),
        recorded_by: "dave@host".into(),
    }
}

fn waiver(full: bool, revoked: bool) -> WaiverRecord {
    WaiverRecord {
        record_id: String::new(),
        waiver_id: id::new_waiver(),
        code: "L101".into(),
        model: Some(id::external_model(
            "meta-llama",
            "Llama-2-7b",
            Some("main"),
            Channel::Weights,
        )),
        license: full.then(|| "llama2".into()),
        target: full.then(|| id::tree(&hex(11))),
        reason: "research prototype, legal ticket 7".into(),
        approved_by: "legal@acme".into(),
        expires_at: ts("2027-01-01T00:00:00Z"),
        revoked,
        recorded_at: ts("2026-11-01T00:00:00Z"),
        recorded_by: "erin@host".into(),
    }
}

/// Every record the tests use: each enum variant at least once, all optional fields set and none.
fn all_records() -> Vec<Record> {
    let mut out = Vec::new();
    for (i, &kind) in ArtifactKind::ALL.iter().enumerate() {
        for full in [true, false] {
            out.push(Record::Artifact(sealed(artifact(kind, full, i as u8))));
        }
    }
    for (i, _) in Channel::ALL.iter().enumerate() {
        out.push(Record::Artifact(sealed(artifact(
            ArtifactKind::ExternalModel,
            true,
            i as u8,
        ))));
    }
    for (i, &kind) in RunKind::ALL.iter().enumerate() {
        for &status in RunStatus::ALL {
            out.push(Record::Run(sealed(run(kind, status, i % 2 == 0, i as u8))));
        }
    }
    for &distribution in Distribution::ALL {
        for full in [true, false] {
            out.push(Record::Release(sealed(release(distribution, full))));
        }
    }
    for &source in ClaimSource::ALL {
        for &confidence in Confidence::ALL {
            for full in [true, false] {
                out.push(Record::LicenseClaim(sealed(license_claim(
                    source, confidence, full,
                ))));
            }
        }
    }
    for (i, _) in Purpose::ALL.iter().enumerate() {
        out.push(Record::Artifact(sealed(artifact(
            ArtifactKind::Checkpoint,
            true,
            i as u8,
        ))));
    }
    for full in [true, false] {
        for revoked in [true, false] {
            out.push(Record::Waiver(sealed(waiver(full, revoked))));
        }
    }
    out
}

/// The kind tag and the untagged serialisation of a record.
fn split(record: &Record) -> (&'static str, Value) {
    let inner = match record {
        Record::Artifact(r) => serde_json::to_value(r),
        Record::Run(r) => serde_json::to_value(r),
        Record::Release(r) => serde_json::to_value(r),
        Record::LicenseClaim(r) => serde_json::to_value(r),
        Record::Waiver(r) => serde_json::to_value(r),
    };
    let tag = match record {
        Record::Artifact(_) => "artifact",
        Record::Run(_) => "run",
        Record::Release(_) => "release",
        Record::LicenseClaim(_) => "license_claim",
        Record::Waiver(_) => "waiver",
    };
    (tag, inner.unwrap())
}

/// One full (every optional field set) sealed record of each kind, untagged.
fn full_docs() -> Vec<(&'static str, Value)> {
    vec![
        (
            "artifact",
            serde_json::to_value(sealed(artifact(ArtifactKind::ExternalModel, true, 1))).unwrap(),
        ),
        (
            "run",
            serde_json::to_value(sealed(run(RunKind::Distill, RunStatus::Succeeded, true, 2)))
                .unwrap(),
        ),
        (
            "release",
            serde_json::to_value(sealed(release(Distribution::ApiServed, true))).unwrap(),
        ),
        (
            "license_claim",
            serde_json::to_value(sealed(license_claim(
                ClaimSource::LicenseFile,
                Confidence::Primary,
                true,
            )))
            .unwrap(),
        ),
        (
            "waiver",
            serde_json::to_value(sealed(waiver(true, true))).unwrap(),
        ),
    ]
}

/// Whether serde accepts a kind's untagged document.
fn serde_accepts(tag: &str, doc: &Value) -> bool {
    fn ok<T: DeserializeOwned>(doc: &Value) -> bool {
        serde_json::from_value::<T>(doc.clone()).is_ok()
    }
    match tag {
        "artifact" => ok::<ArtifactRecord>(doc),
        "run" => ok::<RunRecord>(doc),
        "release" => ok::<ReleaseRecord>(doc),
        "license_claim" => ok::<LicenseClaimRecord>(doc),
        "waiver" => ok::<WaiverRecord>(doc),
        _ => unreachable!(),
    }
}

// ---- (a) real records validate -----------------------------------------------------------------

#[test]
fn library_records_validate_against_their_schemas() {
    let records = all_records();
    let mut seen_keys: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for record in &records {
        let (tag, doc) = split(record);
        assert_valid(file_of(tag), &doc);
        seen_keys
            .entry(tag)
            .or_default()
            .extend(obj(&doc).keys().cloned());

        let line = serde_json::to_value(record).unwrap();
        assert_eq!(
            line,
            tagged(tag, &doc),
            "Record is the kind's fields beside a type key"
        );
        assert_valid(RECORD, &line);
        // and back: what the schema accepted is what serde reads
        let text = serde_json::to_string(record).unwrap();
        assert_eq!(&serde_json::from_str::<Record>(&text).unwrap(), record);
    }
    // the coverage the brief asks for actually happened
    let count = |tag: &str| records.iter().filter(|r| split(r).0 == tag).count();
    assert!(count("artifact") >= ArtifactKind::ALL.len() * 2);
    assert!(count("run") >= RunKind::ALL.len() * RunStatus::ALL.len());
    assert!(count("release") >= Distribution::ALL.len() * 2);
    assert!(count("license_claim") >= ClaimSource::ALL.len() * Confidence::ALL.len() * 2);
    // every property a schema defines was exercised by some record
    for (tag, file) in KINDS {
        let defined: BTreeSet<String> = obj(at(file, "/$defs/fields/properties"))
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            seen_keys[tag], defined,
            "{file}: properties differ from the keys the records serialise"
        );
    }
}

#[test]
fn minimal_records_serialise_exactly_the_required_fields() {
    let minimal = [
        (
            "artifact",
            serde_json::to_value(sealed(artifact(ArtifactKind::Other, false, 0))).unwrap(),
        ),
        (
            "run",
            serde_json::to_value(sealed(run(RunKind::Train, RunStatus::Running, false, 0)))
                .unwrap(),
        ),
        (
            "release",
            serde_json::to_value(sealed(release(Distribution::Internal, false))).unwrap(),
        ),
        (
            "license_claim",
            serde_json::to_value(sealed(license_claim(
                ClaimSource::User,
                Confidence::Unverified,
                false,
            )))
            .unwrap(),
        ),
        (
            "waiver",
            serde_json::to_value(sealed(waiver(false, false))).unwrap(),
        ),
    ];
    for (tag, doc) in &minimal {
        let file = file_of(tag);
        let required: BTreeSet<&str> = at(file, "/$defs/fields/required")
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let keys: BTreeSet<&str> = obj(doc)
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "record_id")
            // A waiver needs a model or a license (`anyOf`), so its minimal form carries one.
            .filter(|k| !(*tag == "waiver" && *k == "model"))
            .collect();
        assert_eq!(
            keys, required,
            "{file}: required list vs. a record with no optional field"
        );
        assert_valid(file, doc);
        assert_valid(RECORD, &tagged(tag, doc));
    }
}

#[test]
fn required_fields_agree_with_serde() {
    // Removing any one field: the schemas reject exactly when serde rejects.
    for (tag, doc) in full_docs() {
        let file = file_of(tag);
        for key in obj(&doc).keys() {
            let mut without = doc.clone();
            without.as_object_mut().unwrap().remove(key);
            let by_serde = serde_accepts(tag, &without);
            let by_schema = schemas().strict[file].is_valid(&without);
            assert_eq!(
                by_schema, by_serde,
                "{file}: without '{key}': schema says {by_schema}, serde {by_serde}"
            );
            let line = tagged(tag, &without);
            let by_record_serde = serde_json::from_value::<Record>(line.clone()).is_ok();
            let by_record_schema = schemas().strict[RECORD].is_valid(&line);
            assert_eq!(
                by_record_schema, by_record_serde,
                "{RECORD} as {tag}, without '{key}'"
            );
        }
    }
    // and inside a run input, both fields are required
    for key in ["artifact_id", "role"] {
        let (_, mut doc) = full_docs().swap_remove(1);
        doc["inputs"][0].as_object_mut().unwrap().remove(key);
        assert!(!serde_accepts("run", &doc));
        assert!(
            !schemas().strict[file_of("run")].is_valid(&doc),
            "run input without {key}"
        );
    }
}

#[test]
fn enums_list_exactly_the_serde_strings() {
    fn strings<T: serde::Serialize>(all: &[T]) -> Vec<Value> {
        all.iter()
            .map(|v| serde_json::to_value(v).unwrap())
            .collect()
    }
    let cases: Vec<(&str, &str, Vec<Value>)> = vec![
        (
            "artifact.v1.schema.json",
            "/$defs/fields/properties/kind/enum",
            strings(ArtifactKind::ALL),
        ),
        (
            "artifact.v1.schema.json",
            "/$defs/fields/properties/channel/enum",
            strings(Channel::ALL),
        ),
        (
            "run.v1.schema.json",
            "/$defs/fields/properties/kind/enum",
            strings(RunKind::ALL),
        ),
        (
            "run.v1.schema.json",
            "/$defs/fields/properties/status/enum",
            strings(RunStatus::ALL),
        ),
        (
            "run.v1.schema.json",
            "/$defs/runInput/properties/role/enum",
            strings(Role::ALL),
        ),
        (
            "release.v1.schema.json",
            "/$defs/fields/properties/distribution/enum",
            strings(Distribution::ALL),
        ),
        (
            "license-claim.v1.schema.json",
            "/$defs/fields/properties/source/enum",
            strings(ClaimSource::ALL),
        ),
        (
            "license-claim.v1.schema.json",
            "/$defs/fields/properties/confidence/enum",
            strings(Confidence::ALL),
        ),
    ];
    for (file, pointer, serde_strings) in cases {
        assert_eq!(
            at(file, pointer).as_array().unwrap(),
            &serde_strings,
            "{file}{pointer}"
        );
    }
    // the type tags of `Record`
    let tags: BTreeSet<&str> = all_records().iter().map(|r| split(r).0).collect();
    let listed: Vec<&str> = at(RECORD, "/properties/type/enum")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), tags.len(), "{listed:?}");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), tags);
}

#[test]
fn id_and_timestamp_formats_accept_what_mlprov_writes() {
    let common = "https://mlprov.dev/schemas/common.v1.schema.json#/$defs/";
    let def = |name: &str| {
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(REGISTRY_FOR_DEFS.get_or_init(registry_for_defs))
            .offline()
            .should_validate_formats(true)
            .build(&json!({ "$ref": format!("{common}{name}") }))
            .unwrap()
    };
    let artifact_id = def("artifactId");
    for ok in [
        id::file(&hex(1)),
        id::tree(&hex(2)),
        id::external_model("openai", "gpt-4o", Some("2024-08-06"), Channel::Api),
        id::external_model("meta-llama", "Llama-3.1-8B", None, Channel::Weights),
        id::external_model("hf", "org/model-name.v2", Some("a1b2c3"), Channel::Weights),
    ] {
        assert!(id::is_valid(&ok), "{ok}");
        assert!(artifact_id.is_valid(&json!(ok)), "artifactId rejects {ok}");
    }
    let run_id = def("runId");
    for _ in 0..8 {
        assert!(run_id.is_valid(&json!(id::new_run())));
    }
    let stamp = def("timestamp");
    for ok in [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00.1Z",
        "2024-05-01T12:00:00.123456Z",
        "2024-05-01T12:00:00.123456789Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:00:00.5-07:30",
        "0001-01-01T00:00:00Z",
    ] {
        assert!(stamp.is_valid(&json!(ok)), "timestamp rejects {ok}");
        assert!(
            serde_json::from_value::<DateTime<Utc>>(json!(ok)).is_ok(),
            "serde rejects {ok}"
        );
    }
    // what chrono writes, for instants across the range mlprov records
    for (secs, nanos) in [
        (0, 0),
        (1_714_564_800, 1_000),
        (1_714_564_800, 120_000_000),
        (4_102_444_799, 999_999_000),
    ] {
        let t = mlprov::records::timestamp(Utc.timestamp_opt(secs, nanos).unwrap());
        assert!(stamp.is_valid(&serde_json::to_value(t).unwrap()), "{t:?}");
    }
}

static REGISTRY_FOR_DEFS: OnceLock<Registry<'static>> = OnceLock::new();

fn registry_for_defs() -> Registry<'static> {
    Registry::new()
        .draft(Draft::Draft202012)
        .extend(
            common::schema_docs()
                .into_values()
                .map(|d| (d["$id"].as_str().unwrap().to_string(), d)),
        )
        .unwrap()
        .prepare()
        .unwrap()
}

// ---- (b) broken documents are rejected ---------------------------------------------------------

/// How serde relates to a broken document.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Serde {
    /// serde rejects it too: the schema and the types agree.
    Rejects,
    /// The schema is stricter than serde here (id syntax, timestamp spelling, null for absent).
    Lenient,
}

struct Broken {
    what: String,
    tag: &'static str,
    doc: Value,
    serde: Serde,
    /// Rejected only when `format` is asserted (a calendar check a pattern cannot make).
    needs_format: bool,
}

fn broken_documents() -> Vec<Broken> {
    let full: BTreeMap<&str, Value> = full_docs().into_iter().collect();
    let mut out = Vec::new();
    let mut case =
        |what: &str, tag: &'static str, serde: Serde, f: &dyn Fn(&mut Map<String, Value>)| {
            let mut doc = full[tag].clone();
            f(doc.as_object_mut().unwrap());
            out.push(Broken {
                what: what.to_string(),
                tag,
                doc,
                serde,
                needs_format: false,
            });
        };
    use Serde::*;

    // missing required fields
    case("artifact without artifact_id", "artifact", Rejects, &|m| {
        drop(m.remove("artifact_id"))
    });
    case("artifact without recorded_by", "artifact", Rejects, &|m| {
        drop(m.remove("recorded_by"))
    });
    case("run without status", "run", Rejects, &|m| {
        drop(m.remove("status"))
    });
    case("run without run_id", "run", Rejects, &|m| {
        drop(m.remove("run_id"))
    });
    case("release without effective_at", "release", Rejects, &|m| {
        drop(m.remove("effective_at"))
    });
    case(
        "license claim without confidence",
        "license_claim",
        Rejects,
        &|m| drop(m.remove("confidence")),
    );
    case("run input without role", "run", Rejects, &|m| {
        drop(m["inputs"][0].as_object_mut().unwrap().remove("role"))
    });

    // unknown fields
    for (tag, _) in KINDS {
        let tag: &'static str = tag;
        case(
            &format!("{tag} with an unknown field"),
            tag,
            Rejects,
            &|m| drop(m.insert("colour".into(), json!("red"))),
        );
        case(&format!("{tag} with a type key"), tag, Rejects, &|m| {
            drop(m.insert("type".into(), json!(tag)))
        });
    }
    case("run input with an unknown field", "run", Rejects, &|m| {
        m["inputs"][0]
            .as_object_mut()
            .unwrap()
            .insert("weight".into(), json!(1));
    });

    // bad enum values, including spellings FromStr would accept but serde does not
    case("artifact kind 'model'", "artifact", Rejects, &|m| {
        drop(m.insert("kind".into(), json!("model")))
    });
    case("artifact kind 'Dataset'", "artifact", Rejects, &|m| {
        drop(m.insert("kind".into(), json!("Dataset")))
    });
    case("channel 'web'", "artifact", Rejects, &|m| {
        drop(m.insert("channel".into(), json!("web")))
    });
    case("run kind 'fine-tune'", "run", Rejects, &|m| {
        drop(m.insert("kind".into(), json!("fine-tune")))
    });
    case("run status 'done'", "run", Rejects, &|m| {
        drop(m.insert("status".into(), json!("done")))
    });
    case("role 'teacher_model'", "run", Rejects, &|m| {
        m["inputs"][0]["role"] = json!("teacher_model")
    });
    case("distribution 'public'", "release", Rejects, &|m| {
        drop(m.insert("distribution".into(), json!("public")))
    });
    case("claim source 'web'", "license_claim", Rejects, &|m| {
        drop(m.insert("source".into(), json!("web")))
    });
    case("confidence 'high'", "license_claim", Rejects, &|m| {
        drop(m.insert("confidence".into(), json!("high")))
    });
    case("confidence as a number", "license_claim", Rejects, &|m| {
        drop(m.insert("confidence".into(), json!(1)))
    });

    // bad artifact ids, wherever an artifact id goes
    let bad_artifact_ids = [
        String::new(),
        format!("sha256:{}", hex(1)),
        format!("blake3:{}", &hex(1)[..63]),
        format!("blake3:{}0", hex(1)),
        format!(
            "blake3tree:{}",
            hex(1).replace(|c: char| c.is_ascii_digit(), "g")
        ),
        format!("BLAKE3:{}", hex(1)),
        format!("blake3: {}", hex(1)),
        format!("blake3:{}\t", hex(1)),
        hex(1),
        "model:openai/gpt-4o@2024-08-06#web".into(),
        "model:openai/gpt-4o@2024-08-06".into(),
        "model:openai/gpt 4o@2024-08-06#api".into(),
        "model:gpt-4o@2024-08-06#api".into(),
        "model:openai/gpt-4o#api".into(),
        "model:/gpt-4o@x#api".into(),
        "model:openai/gpt-4o@#api".into(),
        id::new_run(),
    ];
    for bad in &bad_artifact_ids {
        let bad = json!(bad);
        case(&format!("artifact_id {bad}"), "artifact", Lenient, &|m| {
            drop(m.insert("artifact_id".into(), bad.clone()))
        });
    }
    let bad = json!("blake3:nothex");
    case("release artifact_id", "release", Lenient, &|m| {
        drop(m.insert("artifact_id".into(), bad.clone()))
    });
    case(
        "license claim artifact_id",
        "license_claim",
        Lenient,
        &|m| drop(m.insert("artifact_id".into(), bad.clone())),
    );
    case("run input artifact_id", "run", Lenient, &|m| {
        m["inputs"][0]["artifact_id"] = bad.clone()
    });
    case("run output artifact_id", "run", Lenient, &|m| {
        m["outputs"][1] = bad.clone()
    });
    case("a run id as a run output", "run", Lenient, &|m| {
        m["outputs"][0] = json!(id::new_run())
    });

    // uppercase hex
    let upper = hex(3).to_uppercase();
    case("uppercase file digest", "artifact", Lenient, &|m| {
        drop(m.insert("artifact_id".into(), json!(id::file(&upper))))
    });
    case("uppercase tree digest", "release", Lenient, &|m| {
        drop(m.insert("artifact_id".into(), json!(id::tree(&upper))))
    });
    case("uppercase record_id", "run", Lenient, &|m| {
        drop(m.insert("record_id".into(), json!(upper)))
    });
    case(
        "uppercase evidence_digest",
        "license_claim",
        Lenient,
        &|m| drop(m.insert("evidence_digest".into(), json!(upper))),
    );

    // record ids and run ids
    case("empty record_id", "artifact", Lenient, &|m| {
        drop(m.insert("record_id".into(), json!("")))
    });
    case("short record_id", "release", Lenient, &|m| {
        drop(m.insert("record_id".into(), json!(&hex(1)[..63])))
    });
    case("record_id as a number", "release", Rejects, &|m| {
        drop(m.insert("record_id".into(), json!(7)))
    });
    let uuid = id::new_run()[4..].to_string();
    for bad in [
        "run:not-a-uuid".to_string(),
        uuid.clone(),
        format!("run:{}", uuid.to_uppercase()),
        format!("run:{}", uuid.replace('-', "")),
        format!("run:{{{uuid}}}"),
        format!("run:urn:uuid:{uuid}"),
        format!("run:{uuid} "),
    ] {
        let bad = json!(bad);
        case(&format!("run_id {bad}"), "run", Lenient, &|m| {
            drop(m.insert("run_id".into(), bad.clone()))
        });
    }

    // timestamps: numbers, fractional numbers, and strings that are not RFC 3339 date-times
    for (bad, serde) in [
        (json!(1_714_564_800), Rejects),
        (json!(1_714_564_800.5), Rejects),
        (json!("1714564800.5"), Rejects),
        (json!("2024-05-01"), Rejects),
        (json!("2024-05-01T12:00Z"), Rejects),
        (json!("2024-05-01T12:00:00"), Rejects),
        (json!("2024-05-01T12:00:00.Z"), Rejects),
        (json!("2024-05-01T12:00:00,5Z"), Rejects),
        (json!("2024-05-01T12:00:00.1234567890Z"), Lenient),
        (json!("2024-05-01T12:00:00+0200"), Lenient),
        (json!("2024-05-01 12:00:00Z"), Lenient),
        (json!("2024-05-01t12:00:00z"), Lenient),
        (json!("2024-05-01T12:00:00 UTC"), Lenient),
        (json!(" 2024-05-01T12:00:00Z"), Lenient),
        (json!("2024-13-01T00:00:00Z"), Rejects),
        (json!("2024-05-01T24:00:00Z"), Rejects),
        (json!("2024-5-1T12:00:00Z"), Lenient),
        (json!("yesterday"), Rejects),
        (json!(""), Rejects),
    ] {
        for (tag, field) in [
            ("artifact", "recorded_at"),
            ("release", "effective_at"),
            ("run", "ended_at"),
        ] {
            case(&format!("{field} {bad}"), tag, serde, &|m| {
                drop(m.insert(field.into(), bad.clone()))
            });
        }
    }

    // sizes
    case("negative size", "artifact", Rejects, &|m| {
        drop(m.insert("size_bytes".into(), json!(-1)))
    });
    case("negative file count", "artifact", Rejects, &|m| {
        drop(m.insert("file_count".into(), json!(-5)))
    });
    case("fractional size", "artifact", Rejects, &|m| {
        drop(m.insert("size_bytes".into(), json!(1.5)))
    });
    case("size as a string", "artifact", Rejects, &|m| {
        drop(m.insert("size_bytes".into(), json!("12")))
    });
    case("size past u64", "artifact", Rejects, &|m| {
        drop(m.insert(
            "size_bytes".into(),
            serde_json::from_str("18446744073709551616").unwrap(),
        ))
    });

    // wrong JSON types elsewhere
    case("name as a number", "artifact", Rejects, &|m| {
        drop(m.insert("name".into(), json!(5)))
    });
    case("inputs as an object", "run", Rejects, &|m| {
        drop(m.insert("inputs".into(), json!({})))
    });
    case("outputs as a string", "run", Rejects, &|m| {
        drop(m.insert("outputs".into(), json!(id::file(&hex(1)))))
    });
    case("inputs null", "run", Rejects, &|m| {
        drop(m.insert("inputs".into(), Value::Null))
    });
    case("note null", "release", Lenient, &|m| {
        drop(m.insert("note".into(), Value::Null))
    });
    case("recorded_by null", "license_claim", Rejects, &|m| {
        drop(m.insert("recorded_by".into(), Value::Null))
    });

    // calendar checks only `format` can make
    for (tag, field) in [("artifact", "recorded_at"), ("run", "started_at")] {
        let mut doc = full[tag].clone();
        doc[field] = json!("2024-02-30T00:00:00Z");
        out.push(Broken {
            what: format!("{field} on 30 February"),
            tag,
            doc,
            serde: Rejects,
            needs_format: true,
        });
    }
    out
}

#[test]
fn broken_documents_are_rejected() {
    let s = schemas();
    let cases = broken_documents();
    assert!(cases.len() > 100, "{} cases", cases.len());
    for case in &cases {
        let file = file_of(case.tag);
        assert!(
            !s.strict[file].is_valid(&case.doc),
            "{file} accepts a broken document ({}):\n{:#}",
            case.what,
            case.doc
        );
        if !case.needs_format {
            assert!(
                !s.lax[file].is_valid(&case.doc),
                "{file} without format assertion accepts {}",
                case.what
            );
        }
        if case.serde == Serde::Rejects {
            assert!(
                !serde_accepts(case.tag, &case.doc),
                "serde accepts {} but the schema rejects it",
                case.what
            );
        }
        // The JSON Lines form: tagged with its own type, unless the case already added one.
        if !obj(&case.doc).contains_key("type") {
            let line = tagged(case.tag, &case.doc);
            assert!(
                !s.strict[RECORD].is_valid(&line),
                "{RECORD} accepts a broken document ({})",
                case.what
            );
            if !case.needs_format {
                assert!(
                    !s.lax[RECORD].is_valid(&line),
                    "{RECORD} without format assertion accepts {}",
                    case.what
                );
            }
            if case.serde == Serde::Rejects {
                assert!(
                    serde_json::from_value::<Record>(line).is_err(),
                    "Record accepts {}",
                    case.what
                );
            }
        }
    }
}

#[test]
fn record_schema_rejects_bad_type_tags() {
    let record = &schemas().strict[RECORD];
    let (_, artifact_doc) = full_docs().swap_remove(0);
    let mut lines: Vec<(String, Value)> = Vec::new();
    for bad in [
        json!("artefact"),
        json!("Artifact"),
        json!("license-claim"),
        json!("LicenseClaim"),
        json!(1),
        Value::Null,
    ] {
        let mut line = tagged("artifact", &artifact_doc);
        line["type"] = bad.clone();
        lines.push((format!("type {bad}"), line));
    }
    lines.push(("no type".into(), artifact_doc.clone()));
    for (tag, _) in KINDS.iter().filter(|(t, _)| *t != "artifact") {
        lines.push((
            format!("artifact fields tagged {tag}"),
            tagged(tag, &artifact_doc),
        ));
    }
    for (tag, doc) in full_docs().into_iter().skip(1) {
        lines.push((
            format!("{tag} fields tagged artifact"),
            tagged("artifact", &doc),
        ));
    }
    lines.push((
        "an array".into(),
        json!([tagged("artifact", &artifact_doc)]),
    ));
    lines.push(("a string".into(), json!("artifact")));
    for (what, line) in lines {
        assert!(!record.is_valid(&line), "{RECORD} accepts {what}");
        assert!(
            serde_json::from_value::<Record>(line).is_err(),
            "Record accepts {what}"
        );
    }
}

#[test]
fn record_schema_reports_errors_against_the_line_s_own_kind() {
    let record = &schemas().strict[RECORD];
    let full: BTreeMap<&str, Value> = full_docs().into_iter().collect();

    let mut line = tagged("run", &full["run"]);
    line.as_object_mut().unwrap().remove("status");
    let errs = errors(record, &line);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("status"), "{errs:#?}");

    let mut line = tagged("release", &full["release"]);
    line["colour"] = json!("red");
    let errs = errors(record, &line);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("colour"), "{errs:#?}");

    let mut line = tagged("license_claim", &full["license_claim"]);
    line["type"] = json!("licence_claim");
    let errs = errors(record, &line);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("licence_claim"), "{errs:#?}");

    let mut line = tagged("artifact", &full["artifact"]);
    line["size_bytes"] = json!(-1);
    let errs = errors(record, &line);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("/size_bytes"), "{errs:#?}");
}

// ---- (c) the schema files themselves -----------------------------------------------------------

/// Every `properties` entry in a schema, outside `if` conditions, with where it is.
fn properties_in<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "if" {
                    continue;
                }
                let child_path = format!("{path}/{key}");
                if key == "properties" {
                    if let Value::Object(props) = child {
                        for (name, prop) in props {
                            out.push((format!("{child_path}/{name}"), prop));
                        }
                    }
                }
                properties_in(child, child_path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                properties_in(item, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_schema_file_is_a_valid_2020_12_schema() {
    let s = schemas();
    let expected: BTreeSet<String> = KINDS
        .iter()
        .map(|(_, f)| f.to_string())
        .chain([RECORD.to_string(), "common.v1.schema.json".to_string()])
        .collect();
    let present: BTreeSet<String> = s.docs.keys().cloned().collect();
    assert!(
        present.is_superset(&expected),
        "missing schema files: {:?}",
        expected.difference(&present)
    );

    let readme =
        std::fs::read_to_string(root().join("schemas/README.md")).expect("schemas/README.md");
    let registry = registry_for_defs();
    for (name, doc) in &s.docs {
        if let Err(e) = jsonschema::meta::validate(doc) {
            panic!("{name} is not a valid schema: {e}");
        }
        assert_eq!(doc["$schema"], DRAFT_2020_12, "{name}: $schema");
        assert_eq!(
            doc["$id"],
            format!("{BASE}{name}"),
            "{name}: $id must be the base URI plus the file name"
        );
        for key in ["title", "description"] {
            assert!(
                doc[key].as_str().is_some_and(|t| !t.trim().is_empty()),
                "{name}: no {key}"
            );
        }
        assert!(
            readme.contains(name.as_str()),
            "schemas/README.md does not mention {name}"
        );
        // compiles, with every $ref resolved from the registry alone
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&registry)
            .offline()
            .build(doc)
            .unwrap_or_else(|e| panic!("{name} does not compile offline: {e}"));
        // every $ref is either local or names another schema here by its $id
        let text = serde_json::to_string(doc).unwrap();
        for r in text
            .split("\"$ref\":\"")
            .skip(1)
            .map(|t| &t[..t.find('"').unwrap()])
        {
            let target = r.split('#').next().unwrap();
            assert!(
                target.is_empty() || s.docs.values().any(|d| d["$id"] == target),
                "{name}: $ref {r} names no schema in schemas/"
            );
        }
        // user-facing descriptions, one line each, on every property
        let mut props = Vec::new();
        properties_in(doc, String::new(), &mut props);
        for (path, prop) in props {
            let description = prop["description"].as_str().unwrap_or_default();
            assert!(
                !description.trim().is_empty() && !description.contains('\n'),
                "{name}{path}: needs a one-line description"
            );
        }
    }
}

// ---- (d) fixtures ------------------------------------------------------------------------------

/// Checks a JSON Lines file of records: each non-blank line is a valid `record.v1` document that
/// deserialises as a `Record`. Returns the number of records, or every problem found.
fn check_records_jsonl(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let validator = &schemas().strict[RECORD];
    let mut problems = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{at}: not JSON: {e}"));
                continue;
            }
        };
        let errs = errors(validator, &value);
        if !errs.is_empty() {
            problems.push(format!("{at}: {}", errs.join("; ")));
        } else if let Err(e) = serde_json::from_value::<Record>(value) {
            problems.push(format!(
                "{at}: valid against {RECORD} but not a Record: {e}"
            ));
        }
        count += 1;
    }
    if problems.is_empty() {
        Ok(count)
    } else {
        Err(problems.join("\n"))
    }
}

fn record_fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            record_fixtures(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".records.jsonl"))
        {
            out.push(path);
        }
    }
}

#[test]
fn fixture_record_files_validate() {
    let mut files = Vec::new();
    record_fixtures(&root().join("fixtures"), &mut files);
    files.sort();
    let problems: Vec<String> = files
        .iter()
        .filter_map(|f| check_records_jsonl(f).err())
        .collect();
    assert!(
        problems.is_empty(),
        "invalid fixture records:\n{}",
        problems.join("\n")
    );
}

#[test]
fn fixture_checker_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<String> = all_records()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    let path = dir.path().join("ok.records.jsonl");
    std::fs::write(&path, format!("{}\n\n", good.join("\n"))).unwrap();
    assert_eq!(check_records_jsonl(&path), Ok(good.len()));

    let mut bad_record = serde_json::to_value(&all_records()[0]).unwrap();
    bad_record["kind"] = json!("model");
    let path = dir.path().join("bad.records.jsonl");
    std::fs::write(&path, format!("{}\n{bad_record}\n{{not json\n", good[0])).unwrap();
    let err = check_records_jsonl(&path).unwrap_err();
    assert!(
        err.contains("bad.records.jsonl:2:") && err.contains("bad.records.jsonl:3: not JSON"),
        "{err}"
    );
    assert!(!err.contains(":1:"), "{err}");
}

#[test]
fn fixture_walk_finds_only_records_jsonl_files() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    for name in [
        "top.records.jsonl",
        "a/b/deep.records.jsonl",
        "a/other.jsonl",
        "a/b/x.records.json",
        "a/records.jsonl.bak",
    ] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let mut found = Vec::new();
    record_fixtures(dir.path(), &mut found);
    found.sort();
    assert_eq!(
        found,
        vec![
            dir.path().join("a/b/deep.records.jsonl"),
            dir.path().join("top.records.jsonl")
        ]
    );
    record_fixtures(&dir.path().join("missing"), &mut found);
    assert_eq!(found.len(), 2);
}
