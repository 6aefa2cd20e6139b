//! CycloneDX 1.6 ML-BOM (JSON).
//!
//! Mapping:
//! - checkpoints and external models → components of type `machine-learning-model` (with a
//!   `modelCard` whose `modelParameters.datasets` reference the training and eval data of the
//!   runs that made the model, and `pedigree.ancestors` for its base weights); datasets and
//!   synthetic datasets → type `data` with `data: [{type: "dataset", ...}]`; other artifacts →
//!   `file` (a plain file) or `data` of type `other` (a directory);
//! - `bom-ref` = the mlprov artifact id; the root (when given) is `metadata.component`;
//! - `hashes: [{alg: "BLAKE3", content}]` only for plain file digests (`blake3:<hex>`): a
//!   directory's `blake3tree:` digest is a Merkle digest, not a file hash, and is only given as
//!   the `mlprov:artifact_id` property (with `mlprov:id_meaning` saying so);
//! - licenses as a list of `{license: {id | name, url, acknowledgement}}` (never an expression),
//!   `declared` from recorded claims and `concluded` from claims, catalog assignments and the
//!   audit (same rules as the SPDX exporter);
//! - `dependencies`: every component depends on the inputs of the runs that wrote it;
//! - runs → `formulation[0].workflows[]` (bom-ref and uid = run id, task types, inputs with their
//!   role as the `mlprov:role` property, outputs, start and end);
//! - audit findings → `mlprov:finding` properties on the checkpoint they judge
//!   (`mlprov:finding_as_model` on the restricted model), others on `metadata`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::spdx::{
    built_time, document_uuid, download_location, file_digest, first_release, id_meaning,
    licensing, moment, producers, timestamp, uses, License,
};
use super::ExportInput;
use crate::audit::{Finding, Status};
use crate::catalog::Catalog;
use crate::records::{ArtifactKind, Role, RunKind};
use crate::view::{Artifact, Run};

pub const SCHEMA: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";
pub const SPEC_VERSION: &str = "1.6";

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

fn finding_text(f: &Finding) -> String {
    let status = match f.status {
        Status::Active => "active",
        Status::Waived => "waived",
    };
    let mut s = format!(
        "{} {} [{}, {status}]: {}",
        f.code,
        f.name,
        f.severity.as_str(),
        f.message
    );
    if let Some(r) = &f.run {
        s.push_str(&format!(" (run {r})"));
    }
    if let Some(w) = &f.waiver {
        s.push_str(&format!(" (waiver {w})"));
    }
    s
}

fn task_type(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Evaluate => "test",
        RunKind::Merge | RunKind::Mix => "merge",
        _ => "build",
    }
}

fn licenses(lic: &[License], acknowledgement: &str) -> Vec<Value> {
    lic.iter()
        .map(|l| {
            let mut license = if l.listed {
                json!({"id": l.spdx})
            } else {
                {
                    let mut props = vec![prop("mlprov:spdx_id", l.spdx.clone())];
                    props.push(match l.catalogued {
                        true => prop("mlprov:catalog_id", l.key.clone()),
                        false => prop("mlprov:recorded_license", l.key.clone()),
                    });
                    json!({"name": l.name, "properties": props})
                }
            };
            license["acknowledgement"] = json!(acknowledgement);
            if let Some(u) = &l.url {
                license["url"] = json!(u);
            }
            json!({ "license": license })
        })
        .collect()
}

struct Bom<'a> {
    input: &'a ExportInput<'a>,
    catalog: Catalog,
    /// Artifact ids written as components (or as metadata.component).
    present: BTreeSet<String>,
}

impl<'a> Bom<'a> {
    fn label(&self, id: &str) -> String {
        self.input
            .view
            .artifacts
            .get(id)
            .map(|a| a.label())
            .unwrap_or_else(|| id.to_string())
    }

    /// Inputs of the runs in scope that wrote `id`, by role.
    fn inputs_by_role(&self, id: &str) -> BTreeMap<Role, BTreeSet<String>> {
        let mut out: BTreeMap<Role, BTreeSet<String>> = BTreeMap::new();
        for r in producers(self.input, id) {
            for i in &r.inputs {
                out.entry(i.role).or_default().insert(i.artifact_id.clone());
            }
        }
        out
    }

    fn component(&self, a: &Artifact) -> Value {
        let input = self.input;
        let at = moment(input);
        let model = matches!(
            a.kind,
            ArtifactKind::Checkpoint | ArtifactKind::ExternalModel
        );
        let data = matches!(
            a.kind,
            ArtifactKind::Dataset | ArtifactKind::SyntheticDataset
        );
        let ty = if model {
            "machine-learning-model"
        } else if data || file_digest(&a.id).is_none() {
            "data"
        } else {
            "file"
        };
        let mut c = json!({
            "type": ty,
            "bom-ref": a.id,
            "name": a.label(),
        });
        if let Some(rev) = &a.revision {
            c["version"] = json!(rev);
        }
        if let Some(v) = &a.vendor {
            c["supplier"] = json!({"name": v});
        }
        if let Some(hex) = file_digest(&a.id) {
            c["hashes"] = json!([{"alg": "BLAKE3", "content": hex}]);
        }
        let mut description = vec![format!("mlprov {}", a.kind)];
        description.extend(super::model_and_size_facts(a));
        c["description"] = json!(description.join("; "));

        let lic = licensing(input, a, &self.catalog);
        let mut list = licenses(&lic.declared, "declared");
        list.extend(licenses(&lic.concluded, "concluded"));
        if !list.is_empty() {
            c["licenses"] = Value::Array(list);
        }

        let by_role = self.inputs_by_role(&a.id);
        let runs = producers(input, &a.id);
        if let Some(bases) = by_role.get(&Role::BaseWeights) {
            let ancestors: Vec<Value> = bases
                .iter()
                .map(|b| {
                    let mut anc = json!({
                        "type": "machine-learning-model",
                        "name": self.label(b),
                        "properties": [prop("mlprov:artifact_id", b.clone())],
                    });
                    if let Some(base) = input.view.artifacts.get(b) {
                        if let Some(rev) = &base.revision {
                            anc["version"] = json!(rev);
                        }
                    }
                    if let Some(hex) = file_digest(b) {
                        anc["hashes"] = json!([{"alg": "BLAKE3", "content": hex}]);
                    }
                    anc
                })
                .collect();
            c["pedigree"] = json!({
                "ancestors": ancestors,
                "notes": format!(
                    "base weights of {}",
                    runs.iter().map(|r| format!("{} run {} ({})", r.kind, r.label(), r.id)).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if model {
            let mut datasets = Vec::new();
            let mut card_props = Vec::new();
            for role in [Role::TrainingData, Role::EvalData] {
                for d in by_role.get(&role).into_iter().flatten() {
                    card_props.push(prop(&format!("mlprov:{role}"), d.clone()));
                    if self.present.contains(d)
                        && !datasets.iter().any(|x: &Value| x["ref"] == json!(d))
                    {
                        datasets.push(json!({"ref": d}));
                    }
                }
            }
            let mut card = json!({});
            if !datasets.is_empty() {
                card["modelParameters"] = json!({"datasets": datasets});
            }
            if !card_props.is_empty() {
                card["properties"] = Value::Array(card_props);
            }
            if card.as_object().is_some_and(|m| !m.is_empty()) {
                c["modelCard"] = card;
            }
        } else if ty == "data" {
            let mut d = json!({
                "type": if data { "dataset" } else { "other" },
                "name": a.label(),
            });
            if let Some(url) = download_location(a) {
                d["contents"] = json!({"url": url});
            }
            if a.kind == ArtifactKind::SyntheticDataset {
                let generators: Vec<String> = by_role
                    .get(&Role::Generator)
                    .into_iter()
                    .flatten()
                    .chain(by_role.get(&Role::Teacher).into_iter().flatten())
                    .map(|g| self.label(g))
                    .collect();
                d["description"] = json!(if generators.is_empty() {
                    "synthetic; no generating run recorded".to_string()
                } else {
                    format!("synthetic, generated with {}", generators.join(", "))
                });
            }
            c["data"] = json!([d]);
        }

        let mut props = vec![
            prop("mlprov:artifact_id", a.id.clone()),
            prop("mlprov:id_meaning", id_meaning(&a.id)),
            prop("mlprov:kind", a.kind.as_str()),
        ];
        for l in &a.locations {
            props.push(prop("mlprov:location", l.clone()));
        }
        if let Some(p) = a.purpose {
            props.push(prop("mlprov:purpose", p.as_str()));
        }
        if a.kind == ArtifactKind::Checkpoint {
            props.push(prop("mlprov:distribution", a.distribution_at(at).as_str()));
        }
        if let Some(t) = first_release(a, at) {
            props.push(prop("mlprov:released_at", timestamp(t)));
        }
        props.push(prop("mlprov:built_at", timestamp(built_time(input, a))));
        for r in &runs {
            props.push(prop("mlprov:produced_by", r.id.clone()));
        }
        for (r, role) in uses(input, &a.id) {
            props.push(prop(
                "mlprov:role",
                format!("{role} in {} ({})", r.id, r.label()),
            ));
        }
        for f in input.findings() {
            if f.target.as_deref() == Some(a.id.as_str()) {
                props.push(prop("mlprov:finding", finding_text(f)));
            } else if f.model.as_deref() == Some(a.id.as_str()) {
                props.push(prop("mlprov:finding_as_model", finding_text(f)));
            }
        }
        c["properties"] = Value::Array(props);
        c
    }

    fn workflow(&self, r: &Run) -> Value {
        let mut w = json!({
            "bom-ref": r.id,
            "uid": r.id,
            "name": r.label(),
            "description": format!("mlprov {} run, {}", r.kind, r.status),
            "taskTypes": [task_type(r.kind)],
        });
        let inputs: Vec<Value> = r
            .inputs
            .iter()
            .filter(|i| self.present.contains(&i.artifact_id))
            .map(|i| json!({"resource": {"ref": i.artifact_id}, "properties": [prop("mlprov:role", i.role.as_str())]}))
            .collect();
        if !inputs.is_empty() {
            w["inputs"] = Value::Array(inputs);
        }
        let outputs: Vec<Value> = r
            .outputs
            .iter()
            .filter(|o| self.present.contains(*o))
            .map(|o| json!({"type": "artifact", "resource": {"ref": o}}))
            .collect();
        if !outputs.is_empty() {
            w["outputs"] = Value::Array(outputs);
        }
        if let Some(t) = r.started_at {
            w["timeStart"] = json!(timestamp(t));
        }
        if let Some(t) = r.ended_at {
            w["timeEnd"] = json!(timestamp(t));
        }
        let mut props = vec![
            prop("mlprov:run_kind", r.kind.as_str()),
            prop("mlprov:status", r.status.as_str()),
        ];
        for missing in r
            .inputs
            .iter()
            .map(|i| &i.artifact_id)
            .chain(&r.outputs)
            .filter(|a| !self.present.contains(*a))
        {
            props.push(prop("mlprov:unrecorded_artifact", missing.clone()));
        }
        w["properties"] = Value::Array(props);
        w
    }
}

/// Render the export as a CycloneDX 1.6 BOM.
pub fn render(input: &ExportInput) -> crate::Result<String> {
    let uuid = document_uuid(input, "mlprov-cyclonedx-1.6");
    let artifacts: Vec<&Artifact> = input.artifacts().collect();
    let runs: Vec<&Run> = input.runs().collect();
    let bom = Bom {
        input,
        catalog: Catalog::builtin()?,
        present: artifacts.iter().map(|a| a.id.clone()).collect(),
    };
    let root_artifact = input
        .root
        .as_ref()
        .and_then(|r| input.view.artifacts.get(r))
        .filter(|a| bom.present.contains(&a.id));

    let mut metadata_props = vec![
        prop(
            "mlprov:scope",
            match &input.root {
                Some(r) => format!("upstream of {r}"),
                None => "whole store".to_string(),
            },
        ),
        prop("mlprov:audit_verdict", input.audit.verdict),
        prop(
            "mlprov:audit_summary",
            format!(
                "{} errors, {} warnings, {} notes, {} waived",
                input.audit.summary.errors,
                input.audit.summary.warnings,
                input.audit.summary.notes,
                input.audit.summary.waived
            ),
        ),
    ];
    if let Some(as_of) = input.view.as_of {
        metadata_props.push(prop("mlprov:as_of", timestamp(as_of)));
    }
    for f in input.findings() {
        let placed = [f.target.as_ref(), f.model.as_ref()]
            .into_iter()
            .flatten()
            .any(|id| bom.present.contains(id));
        if !placed {
            metadata_props.push(prop("mlprov:finding", finding_text(f)));
        }
    }
    let mut metadata = json!({
        "timestamp": timestamp(input.generated_at),
        "lifecycles": [{"phase": "post-build"}],
        "tools": {"components": [{
            "type": "application",
            "name": "mlprov",
            "version": super::VERSION,
            "externalReferences": [{"type": "website", "url": super::PRODUCER}],
        }]},
        "properties": metadata_props,
    });
    if let Some(root) = root_artifact {
        metadata["component"] = bom.component(root);
    }

    let components: Vec<Value> = artifacts
        .iter()
        .filter(|a| Some(a.id.as_str()) != root_artifact.map(|r| r.id.as_str()))
        .map(|a| bom.component(a))
        .collect();

    let dependencies: Vec<Value> = artifacts
        .iter()
        .map(|a| {
            let on: BTreeSet<String> = bom
                .inputs_by_role(&a.id)
                .into_values()
                .flatten()
                .filter(|d| bom.present.contains(d) && d != &a.id)
                .collect();
            let mut dep = json!({"ref": a.id});
            if !on.is_empty() {
                dep["dependsOn"] = json!(on);
            }
            dep
        })
        .collect();

    let mut out = json!({
        "$schema": SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": format!("urn:uuid:{uuid}"),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    });
    if !runs.is_empty() {
        out["formulation"] = json!([{
            "bom-ref": format!("formulation:{uuid}"),
            "workflows": runs.iter().map(|r| bom.workflow(r)).collect::<Vec<_>>(),
        }]);
    }
    let mut text = serde_json::to_string_pretty(&out)
        .map_err(|e| crate::Error::usage(format!("CycloneDX rendering failed: {e}")))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_kinds_map_to_cyclonedx_task_types() {
        assert_eq!(task_type(RunKind::Evaluate), "test");
        assert_eq!(task_type(RunKind::Merge), "merge");
        assert_eq!(task_type(RunKind::FineTune), "build");
    }

    #[test]
    fn unlisted_licenses_are_named_never_given_as_ids() {
        let listed = License {
            spdx: "MIT".into(),
            listed: true,
            name: "MIT License".into(),
            url: None,
            key: "mit".into(),
            catalogued: true,
        };
        let other = License {
            spdx: "LicenseRef-x".into(),
            listed: false,
            name: "X terms".into(),
            url: Some("https://x.example/terms".into()),
            key: "x".into(),
            catalogued: false,
        };
        let v = licenses(&[listed, other], "concluded");
        assert_eq!(v[0]["license"]["id"], "MIT");
        assert!(v[1]["license"].get("id").is_none());
        assert_eq!(v[1]["license"]["name"], "X terms");
        assert_eq!(v[1]["license"]["acknowledgement"], "concluded");
    }
}
