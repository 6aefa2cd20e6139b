//! SPDX 3.0.1 (JSON-LD) with the AI, Dataset, Build and SimpleLicensing profiles.
//!
//! Mapping (see `docs/concepts.md` for the mlprov side):
//! - checkpoints and external models → `ai_AIPackage`; datasets and synthetic datasets →
//!   `dataset_DatasetPackage`; other artifacts → `software_Package` (purpose `other`);
//! - a plain file digest (`blake3:<hex>`) → `verifiedUsing: [{Hash, blake3, hex}]`; a directory
//!   digest (`blake3tree:<hex>`, a Merkle digest of the tree, *not* a hash of any file's bytes)
//!   is never written as a `Hash`: every artifact carries its mlprov id as an
//!   `externalIdentifier` (type `other`, issued by mlprov) whose comment says which it is;
//! - runs → `build_Build` (`build_buildType` `https://mlprov.dev/spdx/build-type/<kind>`,
//!   `build_buildId` = run id) with one `hasInput` relationship per role (the role in its
//!   comment) and one `hasOutput`; a model a run wrote is `trainedOn` its training data and
//!   `testedOn` its eval data (an `evaluate` run's models are `testedOn` its eval data), base
//!   weights are `ancestorOf` the models derived from them and generators `generates` what
//!   they generated;
//! - every package has exactly one `hasDeclaredLicense` (recorded claims that are not the
//!   catalog's) and one `hasConcludedLicense` (claims + catalog assignments + licenses the audit
//!   named for it), each to a `simplelicensing_LicenseExpression` (SPDX ids where the catalog
//!   entry has a listed id, `LicenseRef-*` otherwise, joined with `AND`) or to
//!   `expandedlicensing_NoAssertionLicense` when nothing is known;
//! - audit findings → `Annotation`s (type `review`) on the checkpoint (or run) they are about.
//!
//! Element ids are IRIs under `https://mlprov.dev/spdx/<uuid>` where the uuid is derived from
//! the input (root, scope, as-of, generation time), so the same input gives the same document.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ExportInput;
use crate::catalog::{Catalog, LicenseEntry};
use crate::records::{id, ArtifactKind, ClaimSource, Distribution, Role, RunKind};
use crate::view::{Artifact, Run};

pub const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
pub const SPEC_VERSION: &str = "3.0.1";
/// Prefix of every element IRI; the document's uuid follows.
pub const NAMESPACE: &str = "https://mlprov.dev/spdx/";
/// `build_buildType` of a run: this plus the run kind.
pub const BUILD_TYPE_BASE: &str = "https://mlprov.dev/spdx/build-type/";
/// The SPDX individual for "no assertion about the license".
pub const NOASSERTION_LICENSE: &str = "expandedlicensing_NoAssertionLicense";
const CREATION_INFO: &str = "_:creationinfo";

// ---------------------------------------------------------------------------------------------
// Helpers shared with the CycloneDX exporter
// ---------------------------------------------------------------------------------------------

/// `YYYY-MM-DDThh:mm:ssZ`: the only form SPDX 3 accepts (no fractional seconds).
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A uuid (v8) derived from everything that makes this export what it is: same input, same
/// uuid. `domain` keeps the uuids of different formats apart.
pub(crate) fn document_uuid(input: &ExportInput, domain: &str) -> uuid::Uuid {
    let mut h = blake3::Hasher::new();
    h.update(domain.as_bytes());
    h.update(b"\0");
    h.update(input.root.as_deref().unwrap_or("*").as_bytes());
    h.update(b"\0");
    for id in &input.scope {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    h.update(b"\0");
    if let Some(as_of) = input.view.as_of {
        h.update(as_of.to_rfc3339().as_bytes());
    }
    h.update(b"\0");
    h.update(input.generated_at.to_rfc3339().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Uuid::new_v8(bytes)
}

/// The moment state is read at: the view's as-of, else the export's time (never the clock).
pub(crate) fn moment(input: &ExportInput) -> DateTime<Utc> {
    input.view.as_of.unwrap_or(input.generated_at)
}

/// The BLAKE3 hex of a plain file digest; `None` for directory (tree) digests and named ids.
pub(crate) fn file_digest(artifact_id: &str) -> Option<&str> {
    artifact_id.strip_prefix(id::FILE)
}

/// What the artifact's id is, in words (for comments and properties).
pub(crate) fn id_meaning(artifact_id: &str) -> &'static str {
    if artifact_id.starts_with(id::FILE) {
        "BLAKE3 of the file's bytes (the hex b3sum prints)"
    } else if artifact_id.starts_with(id::TREE) {
        "mlprov-tree-v1 Merkle digest of a directory tree (BLAKE3-based, domain-separated); \
         not a hash of any file's bytes, so it is not given as a file hash"
    } else if artifact_id.starts_with(id::MODEL) {
        "external model named by vendor/model@revision#channel (no bytes were hashed)"
    } else if artifact_id.starts_with(id::DATASET) {
        "dataset known by its published name@revision (no bytes were hashed)"
    } else {
        "mlprov artifact id"
    }
}

/// A location as a URI: kept when it has a scheme, `file://` for an absolute path, else none.
pub(crate) fn location_uri(location: &str) -> Option<String> {
    if location.contains("://") {
        return Some(location.to_string());
    }
    if location.starts_with('/') {
        let mut out = String::from("file://");
        for b in location.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        return Some(out);
    }
    None
}

/// The first location that makes a URI.
pub(crate) fn download_location(a: &Artifact) -> Option<String> {
    a.locations.iter().find_map(|l| location_uri(l))
}

/// When the artifact was released: its first release beyond internal use, if any.
pub(crate) fn first_release(a: &Artifact, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    a.releases
        .iter()
        .filter(|r| r.effective_at <= at && r.distribution != Distribution::Internal)
        .map(|r| r.effective_at)
        .min()
}

/// Runs in scope that wrote this artifact.
pub(crate) fn producers<'a>(input: &'a ExportInput, artifact_id: &'a str) -> Vec<&'a Run> {
    input
        .view
        .producers(artifact_id)
        .filter(|r| input.scope.contains(&r.id))
        .collect()
}

/// When the artifact was made: the end of the latest run that wrote it, else when mlprov first
/// recorded it.
pub(crate) fn built_time(input: &ExportInput, a: &Artifact) -> DateTime<Utc> {
    producers(input, &a.id)
        .iter()
        .filter_map(|r| r.ended_at.or(r.started_at))
        .max()
        .unwrap_or(a.first_recorded_at)
}

/// One license, as SPDX and CycloneDX name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct License {
    /// SPDX license id (`Apache-2.0`) or `LicenseRef-*`.
    pub spdx: String,
    /// Whether `spdx` is a listed SPDX id (not a `LicenseRef-`).
    pub listed: bool,
    pub name: String,
    /// Where the license text or terms are (the catalog entry's source).
    pub url: Option<String>,
    /// The catalog entry id, or the recorded id when the catalog does not know it.
    pub key: String,
    /// Whether the catalog knows it.
    pub catalogued: bool,
}

/// The declared and concluded licenses of an artifact, each sorted and without duplicates.
#[derive(Debug, Clone, Default)]
pub(crate) struct Licensing {
    pub declared: Vec<License>,
    pub concluded: Vec<License>,
}

/// `[A-Za-z0-9.-]+`: what SPDX allows in a license id or after `LicenseRef-`.
fn idstring(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

fn entry_license(e: &LicenseEntry) -> License {
    let (spdx, listed) = match e.spdx.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.starts_with("LicenseRef-") => (
            format!("LicenseRef-{}", idstring(&s["LicenseRef-".len()..])),
            false,
        ),
        Some(s) if idstring(s) == s => (s.to_string(), true),
        _ => (format!("LicenseRef-{}", idstring(&e.id)), false),
    };
    License {
        spdx,
        listed,
        name: e.name.clone(),
        url: Some(e.source.clone()).filter(|s| !s.is_empty()),
        key: e.id.clone(),
        catalogued: true,
    }
}

fn unknown_license(recorded: &str, name: Option<&str>) -> License {
    License {
        spdx: format!("LicenseRef-{}", idstring(recorded)),
        listed: false,
        name: name.unwrap_or(recorded).to_string(),
        url: None,
        key: recorded.to_string(),
        catalogued: false,
    }
}

fn resolve<'c>(
    catalog: &'c Catalog,
    license: &str,
    version: Option<&str>,
) -> Option<&'c LicenseEntry> {
    version
        .and_then(|v| catalog.license(&format!("{license}@{v}")))
        .or_else(|| catalog.license(license))
}

fn dedup(mut v: Vec<License>) -> Vec<License> {
    v.sort();
    v.dedup_by(|a, b| a.spdx == b.spdx);
    v
}

/// Declared: what the recorded claims say (user, LICENSE file, model card). Concluded: those,
/// plus catalog claims, the catalog's assignments for the model (in force at the export's
/// moment) and every license the audit named for it.
pub(crate) fn licensing(input: &ExportInput, a: &Artifact, catalog: &Catalog) -> Licensing {
    let mut declared = Vec::new();
    let mut concluded = Vec::new();
    for c in &a.license_claims {
        let l = match resolve(catalog, &c.license_id, c.license_version.as_deref()) {
            Some(e) => entry_license(e),
            None => unknown_license(&c.license_id, None),
        };
        if c.source != ClaimSource::Catalog {
            declared.push(l.clone());
        }
        concluded.push(l);
    }
    if let (Some(vendor), Some(model), Some(channel)) = (&a.vendor, &a.model, a.channel) {
        for asg in catalog.assignments(
            vendor,
            model,
            a.revision.as_deref(),
            channel,
            Some(moment(input)),
        ) {
            match catalog.license(&asg.license) {
                Some(e) => concluded.push(entry_license(e)),
                None => concluded.push(unknown_license(&asg.license, None)),
            }
        }
    }
    for f in input.findings() {
        if f.model.as_deref() != Some(a.id.as_str()) {
            continue;
        }
        if let Some(l) = &f.license {
            match catalog.license(&l.id) {
                Some(e) => concluded.push(entry_license(e)),
                None => concluded.push(unknown_license(&l.id, Some(&l.name))),
            }
        }
    }
    Licensing {
        declared: dedup(declared),
        concluded: dedup(concluded),
    }
}

/// `A AND B`, or `None` when nothing is known.
pub(crate) fn expression(licenses: &[License]) -> Option<String> {
    if licenses.is_empty() {
        return None;
    }
    Some(
        licenses
            .iter()
            .map(|l| l.spdx.as_str())
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

/// `training_data in run:… (sft)` for every use of the artifact by a run in scope.
pub(crate) fn uses<'a>(input: &'a ExportInput, artifact_id: &'a str) -> Vec<(&'a Run, Role)> {
    let mut out: Vec<(&Run, Role)> = input
        .view
        .consumers(artifact_id)
        .filter(|(r, _)| input.scope.contains(&r.id))
        .map(|(r, i)| (r, i.role))
        .collect();
    out.sort_by(|a, b| (a.0.id.as_str(), a.1).cmp(&(b.0.id.as_str(), b.1)));
    out
}

// ---------------------------------------------------------------------------------------------
// SPDX document
// ---------------------------------------------------------------------------------------------

/// The percent-encoded form of an id, safe in an IRI fragment.
fn fragment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    h.finalize().to_hex()[..16].to_string()
}

fn is_model(kind: ArtifactKind) -> bool {
    matches!(kind, ArtifactKind::Checkpoint | ArtifactKind::ExternalModel)
}

fn is_data(kind: ArtifactKind) -> bool {
    matches!(kind, ArtifactKind::Dataset | ArtifactKind::SyntheticDataset)
}

struct Doc<'a> {
    input: &'a ExportInput<'a>,
    base: String,
    catalog: Catalog,
    /// Element IRI of every artifact and run written.
    iri: BTreeMap<String, String>,
    /// Agents by IRI.
    agents: BTreeMap<String, Value>,
    /// License expression → element.
    licenses: BTreeMap<String, Value>,
    /// By (from, type, to, comment), for a stable, readable order.
    relationships: BTreeMap<(String, String, String, String), Value>,
}

impl<'a> Doc<'a> {
    fn element(&self, local: &str) -> String {
        format!("{}#{local}", self.base)
    }

    fn local_org(&mut self) -> String {
        let iri = self.element("org-local");
        self.agents.entry(iri.clone()).or_insert_with(|| {
            json!({
                "type": "Organization",
                "spdxId": iri,
                "creationInfo": CREATION_INFO,
                "name": "the organisation operating this mlprov store",
                "comment": "mlprov records who tagged each artifact but not a supplier; artifacts made \
                            or tagged in house are shown as supplied by this organisation",
            })
        });
        iri
    }

    fn vendor_org(&mut self, vendor: &str) -> String {
        let iri = self.element(&format!("org-{}", fragment(vendor)));
        self.agents.entry(iri.clone()).or_insert_with(|| {
            json!({
                "type": "Organization",
                "spdxId": iri,
                "creationInfo": CREATION_INFO,
                "name": vendor,
                "comment": "model vendor as recorded by mlprov",
            })
        });
        iri
    }

    fn license(&mut self, licenses: &[License]) -> String {
        let Some(expr) = expression(licenses) else {
            return NOASSERTION_LICENSE.to_string();
        };
        let iri = self.element(&format!("license-{}", short_hash(&[&expr])));
        self.licenses.entry(expr.clone()).or_insert_with(|| {
            let mut el = json!({
                "type": "simplelicensing_LicenseExpression",
                "spdxId": iri,
                "creationInfo": CREATION_INFO,
                "simplelicensing_licenseExpression": expr,
                "comment": licenses
                    .iter()
                    .map(|l| match l.catalogued {
                        true => format!("{}: {} (mlprov catalog entry {})", l.spdx, l.name, l.key),
                        false => format!("{}: recorded as '{}', not in the mlprov catalog", l.spdx, l.key),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            });
            let custom: Vec<Value> = licenses
                .iter()
                .filter(|l| !l.listed)
                .filter_map(|l| {
                    l.url.as_ref().map(|u| json!({"type": "DictionaryEntry", "key": l.spdx, "value": u}))
                })
                .collect();
            if !custom.is_empty() {
                el["simplelicensing_customIdToUri"] = Value::Array(custom);
            }
            el
        });
        iri
    }

    fn relate(&mut self, from: &str, kind: &str, to: Vec<String>, comment: Option<String>) {
        if to.is_empty() {
            return;
        }
        let mut to = to;
        to.sort();
        to.dedup();
        let joined = to.join(" ");
        let iri = self.element(&format!(
            "rel-{}",
            short_hash(&[from, kind, &joined, comment.as_deref().unwrap_or("")])
        ));
        let key = (
            from.to_string(),
            kind.to_string(),
            joined,
            comment.clone().unwrap_or_default(),
        );
        let mut el = json!({
            "type": "Relationship",
            "spdxId": iri,
            "creationInfo": CREATION_INFO,
            "from": from,
            "relationshipType": kind,
            "to": to,
        });
        if let Some(c) = comment {
            el["comment"] = Value::String(c);
        }
        self.relationships.insert(key, el);
    }

    fn artifact(&mut self, a: &Artifact) -> Value {
        let input = self.input;
        let at = moment(input);
        let iri = self.iri[&a.id].clone();
        let supplier = match &a.vendor {
            Some(v) => self.vendor_org(v),
            None => self.local_org(),
        };
        let (ty, purpose) = if is_model(a.kind) {
            ("ai_AIPackage", "model")
        } else if is_data(a.kind) {
            ("dataset_DatasetPackage", "data")
        } else {
            ("software_Package", "other")
        };
        let released = first_release(a, at);
        let mut comment = format!("mlprov {}", a.kind);
        match released {
            Some(_) => comment.push_str("; releaseTime is its first release beyond internal use"),
            None => comment
                .push_str("; no release recorded: releaseTime is when mlprov first recorded it"),
        }
        let mut el = json!({
            "type": ty,
            "spdxId": iri,
            "creationInfo": CREATION_INFO,
            "name": a.label(),
            "comment": comment,
            "externalIdentifier": [{
                "type": "ExternalIdentifier",
                "externalIdentifierType": "other",
                "identifier": a.id,
                "issuingAuthority": "mlprov",
                "comment": id_meaning(&a.id),
            }],
            "software_primaryPurpose": purpose,
            "software_downloadLocation": download_location(a).unwrap_or_else(|| "NOASSERTION".into()),
            "software_packageVersion": a.revision.clone().unwrap_or_else(|| a.id.clone()),
            "suppliedBy": supplier,
            "originatedBy": [supplier],
            "releaseTime": timestamp(released.unwrap_or(a.first_recorded_at)),
            "builtTime": timestamp(built_time(input, a)),
        });
        if let Some(hex) = file_digest(&a.id) {
            el["verifiedUsing"] =
                json!([{"type": "Hash", "algorithm": "blake3", "hashValue": hex}]);
        }
        let mut description = Vec::new();
        if a.names.len() > 1 {
            description.push(format!(
                "also named: {}",
                a.names
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if a.locations.len() > 1 {
            description.push(format!(
                "seen at: {}",
                a.locations.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        description.extend(super::model_and_size_facts(a));
        if !description.is_empty() {
            el["description"] = Value::String(description.join("; "));
        }
        let made_by: Vec<String> = producers(input, &a.id)
            .iter()
            .map(|r| {
                let inputs: Vec<String> = r
                    .inputs
                    .iter()
                    .map(|i| {
                        let label = input
                            .view
                            .artifacts
                            .get(&i.artifact_id)
                            .map(|x| x.label())
                            .unwrap_or_else(|| i.artifact_id.clone());
                        format!("{} {label}", i.role)
                    })
                    .collect();
                format!(
                    "{} run {} ({}): {}",
                    r.kind,
                    r.label(),
                    r.id,
                    inputs.join(", ")
                )
            })
            .collect();
        if is_model(a.kind) {
            if !made_by.is_empty() {
                el["ai_informationAboutTraining"] = Value::String(made_by.join("; "));
            }
            let mut app = Vec::new();
            if let Some(p) = a.purpose {
                app.push(format!("purpose: {p}"));
            }
            if a.kind == ArtifactKind::Checkpoint {
                app.push(format!("distribution: {}", a.distribution_at(at)));
            }
            if !app.is_empty() {
                el["ai_informationAboutApplication"] = Value::String(app.join("; "));
            }
        }
        if is_data(a.kind) {
            el["dataset_datasetType"] = json!(["noAssertion"]);
            if let Some(size) = a.size_bytes {
                el["dataset_datasetSize"] = json!(size);
            }
            if a.kind == ArtifactKind::SyntheticDataset || !made_by.is_empty() {
                let what = if a.kind == ArtifactKind::SyntheticDataset {
                    "synthetic"
                } else {
                    "derived"
                };
                let how = if made_by.is_empty() {
                    "no generating run recorded".to_string()
                } else {
                    made_by.join("; ")
                };
                el["dataset_dataCollectionProcess"] = Value::String(format!("{what}: {how}"));
            }
        }
        el
    }

    fn build(&self, r: &Run) -> Value {
        let mut el = json!({
            "type": "build_Build",
            "spdxId": self.iri[&r.id],
            "creationInfo": CREATION_INFO,
            "name": r.label(),
            "comment": format!("mlprov {} run, {}", r.kind, r.status),
            "build_buildType": format!("{BUILD_TYPE_BASE}{}", r.kind),
            "build_buildId": r.id,
        });
        if let Some(t) = r.started_at {
            el["build_buildStartTime"] = Value::String(timestamp(t));
        }
        if let Some(t) = r.ended_at {
            el["build_buildEndTime"] = Value::String(timestamp(t));
        }
        let missing: Vec<&str> = r
            .inputs
            .iter()
            .map(|i| i.artifact_id.as_str())
            .chain(r.outputs.iter().map(String::as_str))
            .filter(|a| !self.iri.contains_key(*a))
            .collect();
        if !missing.is_empty() {
            el["description"] = Value::String(format!(
                "references artifacts no record describes: {}",
                missing.join(", ")
            ));
        }
        el
    }

    fn run_relationships(&mut self, r: &Run) {
        let input = self.input;
        let build = self.iri[&r.id].clone();
        let known = |doc: &Doc, id: &str| doc.iri.get(id).cloned();
        let mut by_role: BTreeMap<Role, Vec<String>> = BTreeMap::new();
        for i in &r.inputs {
            if let Some(iri) = known(self, &i.artifact_id) {
                by_role.entry(i.role).or_default().push(iri);
            }
        }
        for (role, to) in &by_role {
            self.relate(
                &build,
                "hasInput",
                to.clone(),
                Some(format!("mlprov role: {role}")),
            );
        }
        let outputs: Vec<String> = r.outputs.iter().filter_map(|o| known(self, o)).collect();
        self.relate(&build, "hasOutput", outputs, None);

        let kind_of = |id: &str| input.view.artifacts.get(id).map(|a| a.kind);
        let models_out: Vec<&String> = r
            .outputs
            .iter()
            .filter(|o| kind_of(o).is_some_and(is_model))
            .collect();
        let with_role = |role: Role| -> Vec<String> {
            r.inputs
                .iter()
                .filter(|i| i.role == role)
                .filter_map(|i| self.iri.get(&i.artifact_id).cloned())
                .collect()
        };
        let training = with_role(Role::TrainingData);
        let eval = with_role(Role::EvalData);
        let bases: Vec<String> = with_role(Role::BaseWeights);
        let generators: Vec<String> = with_role(Role::Generator);
        let out_models: Vec<String> = models_out
            .iter()
            .filter_map(|o| self.iri.get(*o).cloned())
            .collect();
        let mut tested: Vec<String> = out_models.clone();
        if r.kind == RunKind::Evaluate {
            tested.extend(
                r.inputs
                    .iter()
                    .filter(|i| {
                        i.role != Role::EvalData && kind_of(&i.artifact_id).is_some_and(is_model)
                    })
                    .filter_map(|i| self.iri.get(&i.artifact_id).cloned()),
            );
        }
        let note = format!("mlprov {} run {}", r.kind, r.id);
        for m in &out_models {
            self.relate(m, "trainedOn", training.clone(), Some(note.clone()));
        }
        for m in &tested {
            self.relate(m, "testedOn", eval.clone(), Some(note.clone()));
        }
        for b in &bases {
            self.relate(
                b,
                "ancestorOf",
                out_models.clone(),
                Some(format!("base weights of {note}")),
            );
        }
        let outputs: Vec<String> = r
            .outputs
            .iter()
            .filter_map(|o| self.iri.get(o).cloned())
            .collect();
        for g in &generators {
            self.relate(
                g,
                "generates",
                outputs.clone(),
                Some(format!("generator in {note}")),
            );
        }
    }
}

/// Render the export as an SPDX 3.0.1 JSON-LD document.
pub fn render(input: &ExportInput) -> crate::Result<String> {
    let uuid = document_uuid(input, "mlprov-spdx-3.0.1");
    let base = format!("{NAMESPACE}{uuid}");
    let mut doc = Doc {
        input,
        base: base.clone(),
        catalog: Catalog::builtin()?,
        iri: BTreeMap::new(),
        agents: BTreeMap::new(),
        licenses: BTreeMap::new(),
        relationships: BTreeMap::new(),
    };
    let artifacts: Vec<&Artifact> = input.artifacts().collect();
    let runs: Vec<&Run> = input.runs().collect();
    for a in &artifacts {
        let iri = doc.element(&fragment(&a.id));
        doc.iri.insert(a.id.clone(), iri);
    }
    for r in &runs {
        let iri = doc.element(&fragment(&r.id));
        doc.iri.insert(r.id.clone(), iri);
    }

    let creator = doc.element("mlprov");
    let tool = doc.element("mlprov-tool");
    let mut graph: Vec<Value> = vec![
        json!({
            "type": "CreationInfo",
            "@id": CREATION_INFO,
            "specVersion": SPEC_VERSION,
            "created": timestamp(input.generated_at),
            "createdBy": [creator],
            "createdUsing": [tool],
        }),
        json!({
            "type": "SoftwareAgent",
            "spdxId": creator,
            "creationInfo": CREATION_INFO,
            "name": "mlprov",
        }),
        json!({
            "type": "Tool",
            "spdxId": tool,
            "creationInfo": CREATION_INFO,
            "name": format!("mlprov {}", super::VERSION),
            "externalIdentifier": [{
                "type": "ExternalIdentifier",
                "externalIdentifierType": "other",
                "identifier": super::PRODUCER,
                "issuingAuthority": "mlprov",
            }],
        }),
    ];

    let mut packages = Vec::new();
    for a in &artifacts {
        let el = doc.artifact(a);
        let iri = doc.iri[&a.id].clone();
        let lic = licensing(input, a, &doc.catalog);
        let declared = doc.license(&lic.declared);
        let concluded = doc.license(&lic.concluded);
        doc.relate(&iri, "hasDeclaredLicense", vec![declared], None);
        doc.relate(&iri, "hasConcludedLicense", vec![concluded], None);
        packages.push(el);
    }
    let mut builds = Vec::new();
    for r in &runs {
        builds.push(doc.build(r));
        doc.run_relationships(r);
    }

    let mut annotations = BTreeMap::new();
    for f in input.findings() {
        let subject = f
            .target
            .as_ref()
            .and_then(|t| doc.iri.get(t))
            .or_else(|| f.run.as_ref().and_then(|r| doc.iri.get(r)))
            .cloned()
            .unwrap_or_else(|| base.clone());
        let mut statement = format!(
            "{} {} [{}, {}]: {}",
            f.code,
            f.name,
            f.severity.as_str(),
            match f.status {
                crate::audit::Status::Active => "active",
                crate::audit::Status::Waived => "waived",
            },
            f.message
        );
        if let Some(c) = &f.claim {
            statement.push_str(&format!(
                " (claim {}{}, {})",
                c.id,
                c.clause
                    .as_ref()
                    .map(|cl| format!(" clause {cl}"))
                    .unwrap_or_default(),
                c.source
            ));
        }
        if let Some(w) = &f.waiver {
            statement.push_str(&format!(" (waiver {w})"));
        }
        let iri = doc.element(&format!("finding-{}", short_hash(&[&subject, &statement])));
        annotations.insert(
            iri.clone(),
            json!({
                "type": "Annotation",
                "spdxId": iri,
                "creationInfo": CREATION_INFO,
                "annotationType": "review",
                "subject": subject,
                "statement": statement,
            }),
        );
    }

    let root_elements: Vec<String> = match input.root.as_ref().and_then(|r| doc.iri.get(r)) {
        Some(iri) => vec![iri.clone()],
        None => artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::Checkpoint)
            .map(|a| doc.iri[&a.id].clone())
            .collect(),
    };
    graph.extend(std::mem::take(&mut doc.agents).into_values());
    graph.extend(packages);
    graph.extend(builds);
    graph.extend(std::mem::take(&mut doc.licenses).into_values());
    graph.extend(std::mem::take(&mut doc.relationships).into_values());
    graph.extend(annotations.into_values());

    let elements: BTreeSet<String> = graph
        .iter()
        .filter_map(|e| e.get("spdxId").and_then(Value::as_str).map(str::to_string))
        .collect();
    let subject = match input.root.as_ref() {
        Some(r) => input
            .view
            .artifacts
            .get(r)
            .map(|a| a.label())
            .or_else(|| input.view.runs.get(r).map(|x| x.label()))
            .unwrap_or_else(|| r.clone()),
        None => "the whole mlprov store".to_string(),
    };
    let mut document = json!({
        "type": "SpdxDocument",
        "spdxId": base,
        "creationInfo": CREATION_INFO,
        "name": format!("mlprov provenance of {subject}"),
        "comment": format!(
            "lineage and distillation-license audit by mlprov; audit verdict: {} ({} errors, {} warnings, {} notes, {} waived)",
            input.audit.verdict,
            input.audit.summary.errors,
            input.audit.summary.warnings,
            input.audit.summary.notes,
            input.audit.summary.waived
        ),
        "profileConformance": ["core", "software", "ai", "dataset", "build", "simpleLicensing"],
        "element": elements.into_iter().collect::<Vec<_>>(),
    });
    if !root_elements.is_empty() {
        document["rootElement"] = json!(root_elements);
    }
    graph.insert(3, document);

    let out = json!({ "@context": CONTEXT, "@graph": graph });
    let mut text = serde_json::to_string_pretty(&out)
        .map_err(|e| crate::Error::usage(format!("SPDX rendering failed: {e}")))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_no_fractional_seconds() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 12, 5, 9).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(timestamp(t), "2026-11-23T12:05:09Z");
    }

    #[test]
    fn fragments_and_locations_are_iri_safe() {
        assert_eq!(fragment("model:a/b@c#api"), "model:a/b@c%23api");
        assert_eq!(
            location_uri("/data/my set.jsonl").as_deref(),
            Some("file:///data/my%20set.jsonl")
        );
        assert_eq!(
            location_uri("s3://bucket/x").as_deref(),
            Some("s3://bucket/x")
        );
        assert_eq!(location_uri("relative/x"), None);
    }

    #[test]
    fn license_ids_follow_spdx_rules() {
        let catalog = Catalog::builtin().unwrap();
        let apache = entry_license(catalog.license("apache-2.0").unwrap());
        assert_eq!((apache.spdx.as_str(), apache.listed), ("Apache-2.0", true));
        let llama = entry_license(catalog.license("llama3.1").unwrap());
        assert!(
            llama.spdx.starts_with("LicenseRef-") && !llama.listed,
            "{llama:?}"
        );
        let unknown = unknown_license("cc by 4.0", None);
        assert_eq!(unknown.spdx, "LicenseRef-cc-by-4.0");
        assert_eq!(
            expression(&[apache, llama.clone()]).unwrap(),
            format!("Apache-2.0 AND {}", llama.spdx)
        );
        assert_eq!(expression(&[]), None);
    }

    #[test]
    fn only_file_digests_are_hashes() {
        assert_eq!(
            file_digest(&id::file(&"ab".repeat(32))),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(file_digest(&id::tree(&"ab".repeat(32))), None);
        assert!(id_meaning(&id::tree(&"ab".repeat(32))).contains("not a hash of any file"));
    }
}
