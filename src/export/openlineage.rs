//! OpenLineage 2-0-2 events as JSON Lines, both ways.
//!
//! **Export** ([`render`]): for every run in scope one `START` event and one terminal event
//! (`COMPLETE`, or `FAIL` for a failed run; a run still `running` gets only its `START`), in
//! time order. Jobs and datasets live in the namespace `mlprov`; a dataset's name is the
//! artifact id. Standard facets: `jobType` (job), `version` (dataset: the content id for
//! `blake3:`/`blake3tree:` artifacts, else the revision), `datasetType`, and
//! `outputStatistics` (size and file count of outputs). Custom facets, each with a JSON Schema
//! in `schemas/openlineage/`:
//!
//! | key | on | carries |
//! |---|---|---|
//! | `mlprov_artifact` | dataset | kind, names, locations, size, digest, vendor/model/revision/channel, purpose, row composition, license claims (source, confidence, evidence), releases |
//! | `mlprov_role` | input dataset | the role the input played (`additionalRoles` when it played several) |
//! | `mlprov_run` | run | kind, name, status, start and end exactly as recorded (null when unknown) |
//! | `mlprov_findings` | run (last event) | the audit findings about the run |
//!
//! Artifacts in scope that no run in scope reads or writes are sent as `DatasetEvent`s, so
//! nothing in scope is dropped.
//!
//! **Import** ([`import_events`]): events from mlprov or from any producer (Airflow, Spark,
//! dbt, ...) become records. Events are grouped by `runId`; the `mlprov_*` facets restore
//! mlprov's records exactly, and plain datasets become named datasets
//! `dataset:<namespace>/<name>@<version>`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{ExportInput, PRODUCER};
use crate::audit::Finding;
use crate::error::{Error, Result};
use crate::records::{
    self, id, ArtifactKind, ArtifactRecord, Batch, Channel, ClaimSource, Confidence, Distribution,
    LicenseClaimRecord, Purpose, ReleaseRecord, Role, RunInput, RunKind, RunRecord, RunStatus,
};
use crate::view::{Artifact, Run};

/// Namespace of mlprov's jobs and datasets.
pub const NAMESPACE: &str = "mlprov";
pub const SPEC_VERSION: &str = "2-0-2";
pub const RUN_EVENT_SCHEMA: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
pub const DATASET_EVENT_SCHEMA: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent";

pub const JOB_TYPE_FACET_SCHEMA: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
pub const VERSION_FACET_SCHEMA: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";
pub const DATASET_TYPE_FACET_SCHEMA: &str =
    "https://openlineage.io/spec/facets/1-0-1/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet";
pub const OUTPUT_STATISTICS_FACET_SCHEMA: &str = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";

pub const ARTIFACT_FACET_SCHEMA: &str = "https://mlprov.dev/schemas/openlineage/MlprovArtifactDatasetFacet.v1.json#/$defs/MlprovArtifactDatasetFacet";
pub const ROLE_FACET_SCHEMA: &str = "https://mlprov.dev/schemas/openlineage/MlprovRoleInputDatasetFacet.v1.json#/$defs/MlprovRoleInputDatasetFacet";
pub const RUN_FACET_SCHEMA: &str =
    "https://mlprov.dev/schemas/openlineage/MlprovRunRunFacet.v1.json#/$defs/MlprovRunRunFacet";
pub const FINDINGS_FACET_SCHEMA: &str = "https://mlprov.dev/schemas/openlineage/MlprovFindingsRunFacet.v1.json#/$defs/MlprovFindingsRunFacet";

/// Facet keys.
pub const ARTIFACT_FACET: &str = "mlprov_artifact";
pub const ROLE_FACET: &str = "mlprov_role";
pub const RUN_FACET: &str = "mlprov_run";
pub const FINDINGS_FACET: &str = "mlprov_findings";

// ---- custom facets (the same structs write and read them) ------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Digest {
    algorithm: String,
    /// `file` (BLAKE3 of the bytes) or `mlprov-tree-v1` (directory Merkle digest).
    scheme: String,
    hex: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseFacet {
    license: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    source: ClaimSource,
    confidence: Confidence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseFacet {
    distribution: Distribution,
    effective_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactFacet {
    #[serde(rename = "_producer", default)]
    producer: String,
    #[serde(rename = "_schemaURL", default)]
    schema_url: String,
    id: String,
    kind: ArtifactKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    locations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    composition: Option<crate::records::Composition>,
    first_recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseFacet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    releases: Vec<ReleaseFacet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleFacet {
    #[serde(rename = "_producer", default)]
    producer: String,
    #[serde(rename = "_schemaURL", default)]
    schema_url: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    additional_roles: Vec<Role>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunFacet {
    #[serde(rename = "_producer", default)]
    producer: String,
    #[serde(rename = "_schemaURL", default)]
    schema_url: String,
    kind: RunKind,
    /// `null` when the run has no name (the job name is then made up).
    #[serde(default)]
    name: Option<String>,
    status: RunStatus,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ended_at: Option<DateTime<Utc>>,
    first_recorded_at: DateTime<Utc>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn base_facet(schema: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_producer".into(), PRODUCER.into());
    m.insert("_schemaURL".into(), schema.into());
    m
}

fn facet(schema: &str, fields: Value) -> Value {
    let mut m = base_facet(schema);
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    Value::Object(m)
}

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("facets serialise")
}

/// The dataset version of an artifact id: the content id itself, else the revision.
fn version_of(artifact_id: &str) -> Option<String> {
    if id::digest_hex(artifact_id).is_some() {
        return Some(artifact_id.to_string());
    }
    if let Some(rest) = artifact_id.strip_prefix(id::MODEL) {
        let name = rest.rsplit_once('#').map_or(rest, |(n, _)| n);
        return name.rsplit_once('@').map(|(_, r)| r.to_string());
    }
    if let Some(rest) = artifact_id.strip_prefix(id::DATASET) {
        return rest.rsplit_once('@').map(|(_, r)| r.to_string());
    }
    None
}

fn artifact_facet(a: &Artifact) -> ArtifactFacet {
    let digest = id::digest_hex(&a.id).map(|hex| Digest {
        algorithm: "blake3".into(),
        scheme: if a.id.starts_with(id::TREE) {
            "mlprov-tree-v1".into()
        } else {
            "file".into()
        },
        hex: hex.to_string(),
    });
    ArtifactFacet {
        producer: PRODUCER.into(),
        schema_url: ARTIFACT_FACET_SCHEMA.into(),
        id: a.id.clone(),
        kind: a.kind,
        names: a.names.iter().cloned().collect(),
        locations: a.locations.iter().cloned().collect(),
        size_bytes: a.size_bytes,
        file_count: a.file_count,
        digest,
        vendor: a.vendor.clone(),
        model: a.model.clone(),
        revision: a.revision.clone(),
        channel: a.channel,
        purpose: a.purpose,
        composition: a.composition.clone(),
        first_recorded_at: a.first_recorded_at,
        licenses: a
            .license_claims
            .iter()
            .map(|c| LicenseFacet {
                license: c.license_id.clone(),
                version: c.license_version.clone(),
                source: c.source,
                confidence: c.confidence,
                evidence_digest: c.evidence_digest.clone(),
                evidence_path: c.evidence_path.clone(),
                note: c.note.clone(),
                recorded_at: c.recorded_at,
            })
            .collect(),
        releases: a
            .releases
            .iter()
            .map(|r| ReleaseFacet {
                distribution: r.distribution,
                effective_at: r.effective_at,
                note: r.note.clone(),
                recorded_at: r.recorded_at,
            })
            .collect(),
    }
}

/// A dataset (namespace, name, facets) for an artifact id; `None` facets for an artifact no
/// record describes (a dangling reference stays one).
fn dataset(input: &ExportInput, artifact_id: &str) -> Map<String, Value> {
    let mut facets = Map::new();
    if let Some(v) = version_of(artifact_id) {
        facets.insert(
            "version".into(),
            facet(VERSION_FACET_SCHEMA, json!({ "datasetVersion": v })),
        );
    }
    if let Some(a) = input.view.artifacts.get(artifact_id) {
        let model = matches!(
            a.kind,
            ArtifactKind::Checkpoint | ArtifactKind::ExternalModel
        );
        facets.insert(
            "datasetType".into(),
            facet(
                DATASET_TYPE_FACET_SCHEMA,
                json!({ "datasetType": if model { "MODEL" } else { "DATASET" }, "subType": a.kind.as_str() }),
            ),
        );
        facets.insert(ARTIFACT_FACET.into(), to_value(&artifact_facet(a)));
    }
    let mut d = Map::new();
    d.insert("namespace".into(), NAMESPACE.into());
    d.insert("name".into(), artifact_id.into());
    d.insert("facets".into(), Value::Object(facets));
    d
}

fn finding_value(f: &Finding) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), f.code.into());
    m.insert("name".into(), f.name.into());
    m.insert("severity".into(), f.severity.as_str().into());
    m.insert("status".into(), to_value(&f.status));
    m.insert("message".into(), f.message.clone().into());
    let opt = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    };
    opt(&mut m, "target", &f.target);
    opt(&mut m, "targetLabel", &f.target_label);
    opt(&mut m, "model", &f.model);
    opt(&mut m, "modelLabel", &f.model_label);
    opt(&mut m, "waiver", &f.waiver);
    if let Some(d) = f.target_distribution {
        m.insert("targetDistribution".into(), d.as_str().into());
    }
    if let Some(l) = &f.license {
        let mut lic = Map::new();
        lic.insert("id".into(), l.id.clone().into());
        lic.insert("name".into(), l.name.clone().into());
        if let Some(v) = &l.version {
            lic.insert("version".into(), v.clone().into());
        }
        m.insert("license".into(), Value::Object(lic));
    }
    if let Some(c) = &f.claim {
        let mut claim = Map::new();
        claim.insert("id".into(), c.id.clone().into());
        claim.insert("source".into(), c.source.clone().into());
        claim.insert("confidence".into(), c.confidence.as_str().into());
        if let Some(clause) = &c.clause {
            claim.insert("clause".into(), clause.clone().into());
        }
        m.insert("claim".into(), Value::Object(claim));
    }
    Value::Object(m)
}

fn run_uuid(run: &Run) -> Result<&str> {
    run.id
        .strip_prefix(id::RUN)
        .filter(|u| uuid::Uuid::parse_str(u).is_ok())
        .ok_or_else(|| Error::usage(format!("run id '{}' is not run:<uuid>", run.id)))
}

/// The job name of a run: its name, else `<kind>.<uuid>`.
pub fn job_name(run: &Run) -> String {
    match &run.name {
        Some(n) if !n.trim().is_empty() => n.clone(),
        _ => format!(
            "{}.{}",
            run.kind,
            run.id.strip_prefix(id::RUN).unwrap_or(&run.id)
        ),
    }
}

/// The OpenLineage export of `input`: one event a line, each line ending in `\n`.
pub fn render(input: &ExportInput) -> Result<String> {
    // (event time, order within a run, tie-break id, event)
    let mut events: Vec<(DateTime<Utc>, u8, String, Value)> = Vec::new();
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    let findings: Vec<&Finding> = input.findings().collect();

    for run in input.runs() {
        let uuid = run_uuid(run)?;
        // Inputs grouped by artifact, roles in recorded order.
        let mut roles: Vec<(&str, Vec<Role>)> = Vec::new();
        for i in &run.inputs {
            touched.insert(&i.artifact_id);
            match roles.iter_mut().find(|(a, _)| *a == i.artifact_id) {
                Some((_, rs)) => {
                    if !rs.contains(&i.role) {
                        rs.push(i.role)
                    }
                }
                None => roles.push((&i.artifact_id, vec![i.role])),
            }
        }
        let inputs: Vec<Value> = roles
            .iter()
            .map(|(a, rs)| {
                let mut d = dataset(input, a);
                let role = RoleFacet {
                    producer: PRODUCER.into(),
                    schema_url: ROLE_FACET_SCHEMA.into(),
                    role: rs[0],
                    additional_roles: rs[1..].to_vec(),
                };
                d.insert("inputFacets".into(), json!({ ROLE_FACET: to_value(&role) }));
                Value::Object(d)
            })
            .collect();
        let mut seen_out = BTreeSet::new();
        let outputs: Vec<Value> = run
            .outputs
            .iter()
            .filter(|o| seen_out.insert(o.as_str()))
            .map(|o| {
                touched.insert(o);
                let mut d = dataset(input, o);
                if let Some(a) = input.view.artifacts.get(o) {
                    if a.size_bytes.is_some() || a.file_count.is_some() {
                        let mut stats = base_facet(OUTPUT_STATISTICS_FACET_SCHEMA);
                        if let Some(s) = a.size_bytes {
                            stats.insert("size".into(), s.into());
                        }
                        if let Some(n) = a.file_count {
                            stats.insert("fileCount".into(), n.into());
                        }
                        d.insert("outputFacets".into(), json!({ "outputStatistics": stats }));
                    }
                }
                Value::Object(d)
            })
            .collect();

        let run_facet = RunFacet {
            producer: PRODUCER.into(),
            schema_url: RUN_FACET_SCHEMA.into(),
            kind: run.kind,
            name: run.name.clone(),
            status: run.status,
            started_at: run.started_at,
            ended_at: run.ended_at,
            first_recorded_at: run.first_recorded_at,
        };
        let job = json!({
            "namespace": NAMESPACE,
            "name": job_name(run),
            "facets": {
                "jobType": facet(JOB_TYPE_FACET_SCHEMA, json!({
                    "processingType": "BATCH",
                    "integration": "MLPROV",
                    "jobType": run.kind.as_str(),
                })),
            },
        });
        let run_findings: Vec<Value> = findings
            .iter()
            .filter(|f| f.run.as_deref() == Some(run.id.as_str()))
            .map(|f| finding_value(f))
            .collect();

        let start_time = run.started_at.unwrap_or(run.first_recorded_at);
        let terminal = match run.status {
            RunStatus::Running => None,
            RunStatus::Succeeded => Some("COMPLETE"),
            RunStatus::Failed => Some("FAIL"),
        };
        let mut kinds = vec![("START", start_time, 0u8)];
        if let Some(t) = terminal {
            kinds.push((
                t,
                run.ended_at
                    .or(run.started_at)
                    .unwrap_or(run.first_recorded_at),
                1,
            ));
        }
        let last = kinds.len() - 1;
        for (n, (event_type, at, order)) in kinds.into_iter().enumerate() {
            let mut run_facets = Map::new();
            run_facets.insert(RUN_FACET.into(), to_value(&run_facet));
            if n == last && !run_findings.is_empty() {
                run_facets.insert(
                    FINDINGS_FACET.into(),
                    facet(FINDINGS_FACET_SCHEMA, json!({ "findings": run_findings })),
                );
            }
            let event = json!({
                "eventType": event_type,
                "eventTime": time(at),
                "producer": PRODUCER,
                "schemaURL": RUN_EVENT_SCHEMA,
                "run": { "runId": uuid, "facets": run_facets },
                "job": job,
                "inputs": inputs,
                "outputs": outputs,
            });
            events.push((at, order, run.id.clone(), event));
        }
    }

    // Artifacts in scope that no run in scope touches: static dataset events.
    for a in input
        .artifacts()
        .filter(|a| !touched.contains(a.id.as_str()))
    {
        let event = json!({
            "eventTime": time(a.first_recorded_at),
            "producer": PRODUCER,
            "schemaURL": DATASET_EVENT_SCHEMA,
            "dataset": Value::Object(dataset(input, &a.id)),
        });
        events.push((a.first_recorded_at, 0, a.id.clone(), event));
    }

    events.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    let mut out = String::new();
    for (_, _, _, e) in events {
        out.push_str(&serde_json::to_string(&e).expect("events serialise"));
        out.push('\n');
    }
    Ok(out)
}

// ---- import ------------------------------------------------------------------------------------

/// What one event says about an artifact.
enum Seen {
    /// An mlprov artifact, restored exactly.
    Full(Box<ArtifactFacet>),
    /// A dataset from another producer (or a content id without mlprov's facet).
    Plain {
        kind: ArtifactKind,
        name: String,
        size: Option<u64>,
        files: Option<u64>,
    },
    /// Only referenced (an mlprov dataset no record described when exported).
    Reference,
}

struct ArtifactAcc {
    seen: Seen,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct RunAcc {
    facet: Option<(DateTime<Utc>, RunFacet)>,
    job_kind: Option<RunKind>,
    job_name: String,
    start: Option<DateTime<Utc>>,
    terminal: Option<(DateTime<Utc>, RunStatus)>,
    last_event: Option<DateTime<Utc>>,
    inputs: Vec<RunInput>,
    outputs: Vec<String>,
    producer: String,
}

fn str_field<'a>(v: &'a Value, key: &str, what: &str) -> std::result::Result<&'a str, String> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{what}.{key} is not a string")),
        None => Err(format!("{what} has no {key}")),
    }
}

fn parse_time(s: &str, what: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| records::timestamp(t.with_timezone(&Utc)))
        .map_err(|e| format!("{what} '{s}' is not an RFC 3339 date-time: {e}"))
}

/// Percent-encode what an mlprov id cannot hold (`%`, `@`, `#`, whitespace, control characters).
fn sanitise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || c == '@' || c == '#' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The id of a dataset known only by namespace, name and version.
pub fn named_dataset_id(namespace: &str, name: &str, version: Option<&str>) -> String {
    let version = version.map(sanitise).filter(|v| !v.is_empty());
    id::named_dataset(
        &format!("{}/{}", sanitise(namespace), sanitise(name)),
        Some(version.as_deref().unwrap_or("unversioned")),
    )
}

fn facet_of<T: for<'de> Deserialize<'de>>(
    facets: Option<&Value>,
    key: &str,
) -> std::result::Result<Option<T>, String> {
    match facets.and_then(|f| f.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| format!("{key} facet: {e}")),
    }
}

fn check_artifact_id(value: &str, what: &str) -> std::result::Result<(), String> {
    if id::is_valid(value) && !value.starts_with(id::RUN) && !value.starts_with(id::WAIVER) {
        Ok(())
    } else {
        Err(format!("{what} '{value}' is not an artifact id"))
    }
}

/// Read one dataset of an event: its artifact id and what the event says about it.
fn read_dataset(
    d: &Value,
    what: &str,
    implied: ArtifactKind,
    stats_key: &str,
) -> std::result::Result<(String, Seen), String> {
    if !d.is_object() {
        return Err(format!("{what} is not an object"));
    }
    let namespace = str_field(d, "namespace", what)?;
    let name = str_field(d, "name", what)?;
    if name.is_empty() {
        return Err(format!("{what}.name is empty"));
    }
    let facets = d.get("facets");
    if let Some(f) = facets {
        if !f.is_object() {
            return Err(format!("{what}.facets is not an object"));
        }
    }
    if let Some(a) =
        facet_of::<ArtifactFacet>(facets, ARTIFACT_FACET).map_err(|e| format!("{what}: {e}"))?
    {
        check_artifact_id(&a.id, &format!("{what}: {ARTIFACT_FACET}.id"))?;
        return Ok((a.id.clone(), Seen::Full(Box::new(a))));
    }
    let version = match facets.and_then(|f| f.get("version")) {
        None => None,
        Some(v) => Some(str_field(
            v,
            "datasetVersion",
            &format!("{what}.facets.version"),
        )?),
    };
    if namespace == NAMESPACE && id::is_valid(name) {
        check_artifact_id(name, &format!("{what}.name"))?;
        return Ok((name.to_string(), Seen::Reference));
    }
    let stats = d.get(stats_key).and_then(|f| {
        f.get(if stats_key == "inputFacets" {
            "inputStatistics"
        } else {
            "outputStatistics"
        })
    });
    let stat = |k: &str| stats.and_then(|s| s.get(k)).and_then(Value::as_u64);
    let plain = |kind| Seen::Plain {
        kind,
        name: format!("{namespace}/{name}"),
        size: stat("size"),
        files: stat("fileCount"),
    };
    if let Some(v) = version.filter(|v| v.starts_with("blake3")) {
        if id::digest_hex(v).is_none() || !id::is_valid(v) {
            return Err(format!(
                "{what}: datasetVersion '{v}' starts like a BLAKE3 id but is not one (blake3:<64 lowercase hex> or blake3tree:<64 lowercase hex>)"
            ));
        }
        return Ok((v.to_string(), plain(implied)));
    }
    let artifact_id = named_dataset_id(namespace, name, version);
    check_artifact_id(&artifact_id, what)?;
    Ok((artifact_id, plain(implied)))
}

fn read_role(d: &Value, what: &str) -> std::result::Result<Vec<Role>, String> {
    let facets = d.get("inputFacets");
    match facet_of::<RoleFacet>(facets, ROLE_FACET).map_err(|e| format!("{what}: {e}"))? {
        Some(r) => Ok(std::iter::once(r.role).chain(r.additional_roles).collect()),
        None => Ok(vec![Role::Source]),
    }
}

fn datasets<'a>(event: &'a Value, key: &str) -> std::result::Result<&'a [Value], String> {
    match event.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{key} is not an array")),
    }
}

fn remember(
    artifacts: &mut BTreeMap<String, ArtifactAcc>,
    artifact_id: String,
    seen: Seen,
    at: DateTime<Utc>,
) {
    let rank = |s: &Seen| match s {
        Seen::Full(_) => 2,
        Seen::Plain { .. } => 1,
        Seen::Reference => 0,
    };
    match artifacts.get_mut(&artifact_id) {
        Some(acc) => {
            if rank(&seen) > rank(&acc.seen) {
                acc.seen = seen;
            } else if let (
                Seen::Plain { size, files, .. },
                Seen::Plain {
                    size: s2,
                    files: f2,
                    ..
                },
            ) = (&mut acc.seen, &seen)
            {
                *size = size.or(*s2);
                *files = files.or(*f2);
            }
            acc.at = acc.at.min(at);
        }
        None => {
            artifacts.insert(artifact_id, ArtifactAcc { seen, at });
        }
    }
}

fn producer_of(event: &Value) -> String {
    event
        .get("producer")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("openlineage")
        .to_string()
}

/// Read a JSON Lines file of OpenLineage events (`origin` names it in errors). Run events are
/// grouped by `runId` into one run record each; datasets become artifact records (with their
/// license claims and releases when mlprov's facets are present). Job events (no run) carry
/// no run to record and are skipped. Every problem names its line; on error nothing is
/// returned, so nothing is half-imported. The batch is sealed; append it once.
pub fn import_events(text: &str, origin: &str) -> Result<Batch> {
    let mut runs: BTreeMap<String, RunAcc> = BTreeMap::new();
    let mut artifacts: BTreeMap<String, ArtifactAcc> = BTreeMap::new();
    let mut producers: BTreeMap<String, String> = BTreeMap::new();

    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {}", n + 1);
        let bad = |reason: String| Error::bad_record(origin, at(), reason);
        let event: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        if !event.is_object() {
            return Err(bad("an OpenLineage event is a JSON object".into()));
        }
        let event_time = str_field(&event, "eventTime", "the event")
            .and_then(|t| parse_time(t, "eventTime"))
            .map_err(bad)?;
        let producer = producer_of(&event);

        if let Some(run) = event.get("run") {
            let raw = str_field(run, "runId", "run").map_err(bad)?;
            let uuid = uuid::Uuid::parse_str(raw.trim())
                .map_err(|e| bad(format!("run.runId '{raw}' is not a UUID: {e}")))?;
            let run_id = format!("{}{}", id::RUN, uuid.hyphenated());
            let event_type = match event.get("eventType") {
                None | Some(Value::Null) => "OTHER",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err(bad("eventType is not a string".into())),
            };
            let status = match event_type {
                "START" | "RUNNING" | "OTHER" => None,
                "COMPLETE" => Some(RunStatus::Succeeded),
                "FAIL" | "ABORT" => Some(RunStatus::Failed),
                other => {
                    return Err(bad(format!(
                        "eventType '{other}' is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"
                    )))
                }
            };
            let job = event
                .get("job")
                .ok_or_else(|| bad("a run event has no job".into()))?;
            let job_ns = str_field(job, "namespace", "job").map_err(bad)?;
            let job_name = str_field(job, "name", "job").map_err(bad)?;
            let job_kind = job
                .get("facets")
                .and_then(|f| f.get("jobType"))
                .and_then(|t| t.get("jobType"))
                .and_then(Value::as_str)
                .and_then(|k| k.parse::<RunKind>().ok());
            let run_facet: Option<RunFacet> =
                facet_of(run.get("facets"), RUN_FACET).map_err(bad)?;
            let kind = run_facet
                .as_ref()
                .map(|f| f.kind)
                .or(job_kind)
                .unwrap_or(RunKind::Transform);

            let mut inputs = Vec::new();
            for (i, d) in datasets(&event, "inputs").map_err(bad)?.iter().enumerate() {
                let what = format!("inputs[{i}]");
                let roles = read_role(d, &what).map_err(bad)?;
                let (aid, seen) =
                    read_dataset(d, &what, roles[0].implied_kind(), "inputFacets").map_err(bad)?;
                producers
                    .entry(aid.clone())
                    .or_insert_with(|| producer.clone());
                remember(&mut artifacts, aid.clone(), seen, event_time);
                for role in roles {
                    inputs.push(RunInput {
                        artifact_id: aid.clone(),
                        role,
                    });
                }
            }
            let mut outputs = Vec::new();
            for (i, d) in datasets(&event, "outputs").map_err(bad)?.iter().enumerate() {
                let (aid, seen) = read_dataset(
                    d,
                    &format!("outputs[{i}]"),
                    kind.output_kind(),
                    "outputFacets",
                )
                .map_err(bad)?;
                producers
                    .entry(aid.clone())
                    .or_insert_with(|| producer.clone());
                remember(&mut artifacts, aid.clone(), seen, event_time);
                outputs.push(aid);
            }

            let acc = runs.entry(run_id).or_default();
            if acc.producer.is_empty() {
                acc.producer = producer;
            }
            if let Some(f) = run_facet {
                if let Some((_, earlier)) = &acc.facet {
                    if earlier.kind != f.kind {
                        return Err(bad(format!(
                            "{RUN_FACET}.kind '{}' contradicts '{}' in an earlier event of this run",
                            f.kind, earlier.kind
                        )));
                    }
                }
                if acc.facet.as_ref().is_none_or(|(t, _)| *t <= event_time) {
                    acc.facet = Some((event_time, f));
                }
            }
            if acc.job_name.is_empty() {
                acc.job_name = if job_ns == NAMESPACE {
                    job_name.to_string()
                } else {
                    format!("{job_ns}/{job_name}")
                };
            }
            acc.job_kind = acc.job_kind.or(job_kind);
            if event_type == "START" {
                acc.start = Some(acc.start.map_or(event_time, |s| s.min(event_time)));
            }
            if let Some(s) = status {
                if acc.terminal.is_none_or(|(t, _)| t <= event_time) {
                    acc.terminal = Some((event_time, s));
                }
            }
            acc.last_event = Some(acc.last_event.map_or(event_time, |t| t.max(event_time)));
            for i in inputs {
                if !acc.inputs.contains(&i) {
                    acc.inputs.push(i);
                }
            }
            for o in outputs {
                if !acc.outputs.contains(&o) {
                    acc.outputs.push(o);
                }
            }
        } else if let Some(d) = event.get("dataset") {
            let (aid, seen) =
                read_dataset(d, "dataset", ArtifactKind::Dataset, "facets").map_err(bad)?;
            producers.entry(aid.clone()).or_insert(producer);
            remember(&mut artifacts, aid, seen, event_time);
        } else if event.get("job").is_some() {
            // A JobEvent: static lineage of a job, no run to record.
            continue;
        } else {
            return Err(bad(
                "neither a run event (run), a dataset event (dataset) nor a job event (job)".into(),
            ));
        }
    }

    let mut batch = Batch::default();
    for (aid, acc) in artifacts {
        let by = producers
            .get(&aid)
            .cloned()
            .unwrap_or_else(|| "openlineage".into());
        match acc.seen {
            Seen::Reference => {}
            Seen::Plain {
                kind,
                name,
                size,
                files,
            } => batch.artifacts.push(ArtifactRecord {
                size_bytes: size,
                file_count: files,
                name: Some(name),
                recorded_at: acc.at,
                recorded_by: by,
                ..ArtifactRecord::new(aid, kind)
            }),
            Seen::Full(f) => restore_artifact(&mut batch, *f, &by),
        }
    }
    for (run_id, acc) in runs {
        let (kind, name, status, started_at, ended_at, recorded_at) = match acc.facet {
            Some((_, f)) => (
                f.kind,
                f.name,
                f.status,
                f.started_at,
                f.ended_at,
                f.first_recorded_at,
            ),
            None => (
                acc.job_kind.unwrap_or(RunKind::Transform),
                Some(acc.job_name.clone()),
                acc.terminal.map_or(RunStatus::Running, |(_, s)| s),
                acc.start,
                acc.terminal.map(|(t, _)| t),
                acc.last_event.expect("a run has an event"),
            ),
        };
        batch.runs.push(RunRecord {
            record_id: String::new(),
            run_id,
            kind,
            name,
            status,
            started_at: started_at.map(records::timestamp),
            ended_at: ended_at.map(records::timestamp),
            inputs: acc.inputs,
            outputs: acc.outputs,
            recorded_at: records::timestamp(recorded_at),
            recorded_by: acc.producer,
        });
    }
    batch.seal();
    Ok(batch)
}

/// The records of one mlprov artifact from its facet: one observation per name and location
/// (so the merged view has them all), its license claims and releases.
fn restore_artifact(batch: &mut Batch, f: ArtifactFacet, by: &str) {
    let at = records::timestamp(f.first_recorded_at);
    let observations = f.names.len().max(f.locations.len()).max(1);
    for i in 0..observations {
        let mut rec = ArtifactRecord {
            name: f.names.get(i).cloned(),
            location: f.locations.get(i).cloned(),
            recorded_at: at,
            recorded_by: by.to_string(),
            ..ArtifactRecord::new(f.id.clone(), f.kind)
        };
        if i == 0 {
            rec.size_bytes = f.size_bytes;
            rec.file_count = f.file_count;
            rec.vendor = f.vendor.clone();
            rec.model = f.model.clone();
            rec.revision = f.revision.clone();
            rec.channel = f.channel;
            rec.purpose = f.purpose;
            rec.composition = f.composition.clone();
        }
        batch.artifacts.push(rec);
    }
    for c in f.licenses {
        batch.license_claims.push(LicenseClaimRecord {
            record_id: String::new(),
            artifact_id: f.id.clone(),
            license_id: c.license,
            license_version: c.version,
            source: c.source,
            confidence: c.confidence,
            evidence_digest: c.evidence_digest,
            evidence_path: c.evidence_path,
            note: c.note,
            recorded_at: records::timestamp(c.recorded_at),
            recorded_by: by.to_string(),
        });
    }
    for r in f.releases {
        batch.releases.push(ReleaseRecord {
            record_id: String::new(),
            artifact_id: f.id.clone(),
            distribution: r.distribution,
            effective_at: records::timestamp(r.effective_at),
            note: r.note,
            recorded_at: records::timestamp(r.recorded_at),
            recorded_by: by.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_datasets_get_valid_named_ids() {
        let a = named_dataset_id("postgres://u@db:5432", "public.orders #2", Some("v 1@x"));
        assert_eq!(
            a,
            "dataset:postgres://u%40db:5432/public.orders%20%232@v%201%40x"
        );
        assert!(id::is_valid(&a));
        assert_eq!(
            named_dataset_id("s3://b", "k%", Some("")),
            "dataset:s3://b/k%25@unversioned"
        );
        assert!(id::is_valid(&named_dataset_id(
            "ns",
            "tab\there\u{7}",
            None
        )));
    }

    #[test]
    fn versions_of_ids() {
        let f = id::file(&"a".repeat(64));
        assert_eq!(version_of(&f).as_deref(), Some(f.as_str()));
        assert_eq!(
            version_of("model:openai/gpt-4o@2024-08-06#api").as_deref(),
            Some("2024-08-06")
        );
        assert_eq!(version_of("dataset:org/name@main").as_deref(), Some("main"));
    }

    #[test]
    fn empty_input_is_an_empty_batch_and_job_events_are_skipped() {
        assert!(import_events("\n  \n", "x").unwrap().is_empty());
        let job = r#"{"eventTime":"2026-01-01T00:00:00Z","producer":"p","schemaURL":"s","job":{"namespace":"n","name":"j"}}"#;
        assert!(import_events(job, "x").unwrap().is_empty());
    }
}
