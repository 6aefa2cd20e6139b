//! SPDX 3.0.1 (AI/Dataset) and CycloneDX 1.6 (ML-BOM) exports of the demo lineage, checked by
//! the official offline validators (`tests/validators/spdx3.py`: JSON Schema + SHACL;
//! `tests/validators/cyclonedx.py`: cyclonedx-python-lib strict) and by the Rust `jsonschema`
//! crate against the vendored CycloneDX schema, plus the rules neither schema states.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use mlprov::audit::AuditReport;
use mlprov::export::{cyclonedx, spdx, ExportInput};
use mlprov::graph::LineageGraph;
use mlprov::view::View;

struct Demo {
    dir: tempfile::TempDir,
    view: View,
    graph: LineageGraph,
    audit: AuditReport,
    released: String,
    /// Plan key → artifact id.
    ids: std::collections::HashMap<String, String>,
}

/// The demo lineage built through the library, audited with its policy (about 0.3 s).
fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let built = mlprov::demo::build(&project).unwrap();
    let view = View::build(&built.store.load().unwrap(), None);
    let graph = LineageGraph::build(&view);
    let catalog = mlprov::catalog::Catalog::builtin().unwrap();
    let policy = mlprov::policy::Policy::locate(None, &project).unwrap();
    let audit = mlprov::audit::audit(&view, &catalog, &policy, &Default::default());
    Demo {
        dir,
        view,
        graph,
        audit,
        released: built.released_checkpoint.clone(),
        ids: built.ids,
    }
}

/// A fixed moment with sub-second digits, which SPDX must not see.
fn generated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + chrono::Duration::microseconds(654_321)
}

type Render = fn(&ExportInput) -> mlprov::Result<String>;

impl Demo {
    fn input(&self, root: Option<&str>) -> ExportInput<'_> {
        ExportInput::new(
            &self.view,
            &self.graph,
            &self.audit,
            root.map(str::to_string),
            generated_at(),
        )
    }

    /// (name, rendered) for the whole store and for the released checkpoint.
    fn rendered(&self, render: Render) -> Vec<(&'static str, String)> {
        vec![
            ("store", render(&self.input(None)).unwrap()),
            (
                "released",
                render(&self.input(Some(&self.released))).unwrap(),
            ),
        ]
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn hex(id: &str) -> Option<&str> {
    id.strip_prefix("blake3:")
}

// ---------------------------------------------------------------------------------------------
// SPDX 3.0.1
// ---------------------------------------------------------------------------------------------

fn graph(doc: &Value) -> &Vec<Value> {
    doc["@graph"].as_array().expect("@graph")
}

fn mlprov_id(el: &Value) -> Option<&str> {
    el["externalIdentifier"]
        .as_array()?
        .iter()
        .find(|x| x["issuingAuthority"] == "mlprov")?["identifier"]
        .as_str()
}

fn by_mlprov_id(doc: &Value) -> BTreeMap<String, &Value> {
    graph(doc)
        .iter()
        .filter_map(|e| mlprov_id(e).map(|i| (i.to_string(), e)))
        .collect()
}

fn relationships<'a>(doc: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    graph(doc)
        .iter()
        .filter(move |e| e["type"] == "Relationship" && e["relationshipType"] == kind)
}

/// A validator for a vendored schema, compiled offline (other vendored files resolvable by $id).
fn vendored_validator(
    folder: &str,
    main: &str,
    others: &[&str],
    draft: jsonschema::Draft,
) -> jsonschema::Validator {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vendor")
        .join(folder);
    let load = |f: &str| -> Value { json(&std::fs::read_to_string(dir.join(f)).unwrap()) };
    let registry = jsonschema::Registry::new()
        .draft(draft)
        .extend(others.iter().map(|f| {
            let doc = load(f);
            (doc["$id"].as_str().expect("$id").to_string(), doc)
        }))
        .expect("schema ids are URIs")
        .prepare()
        .expect("schemas register");
    jsonschema::options()
        .with_draft(draft)
        .with_registry(&registry)
        .offline()
        .build(&load(main))
        .unwrap_or_else(|e| panic!("{folder}/{main} does not compile: {e}"))
}

fn spdx_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        vendored_validator(
            "spdx-3.0.1",
            "schema.json",
            &[],
            jsonschema::Draft::Draft202012,
        )
    })
}

fn cyclonedx_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        vendored_validator(
            "cyclonedx-1.6",
            "bom-1.6.schema.json",
            &["spdx.schema.json", "jsf-0.82.schema.json"],
            jsonschema::Draft::Draft7,
        )
    })
}

fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at '{}'", e.instance_path()))
        .collect()
}

/// Run a validator script expecting it to fail; its output.
fn rejected_by(script: &str, path: &std::path::Path) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/validators")
        .join(script);
    let out = std::process::Command::new(common::validator_python())
        .arg(&script)
        .arg(path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{} should reject {}:\n{text}",
        script.display(),
        path.display()
    );
    text
}

#[test]
fn spdx_documents_pass_schema_and_shacl() {
    let d = demo();
    let docs = d.rendered(spdx::render);
    // The whole documents against schema.json (the Python validator goes item by item).
    for (name, text) in &docs {
        let errors = schema_errors(spdx_schema(), &json(text));
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    let paths: Vec<PathBuf> = docs
        .iter()
        .map(|(name, text)| d.write(&format!("{name}.spdx3.json"), text))
        .collect();
    let args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let started = Instant::now();
    common::validate_with("spdx3.py", &args);
    eprintln!(
        "spdx3.py (JSON Schema + SHACL + license rule, {} documents, {} elements): {:.1?}",
        docs.len(),
        docs.iter()
            .map(|(_, t)| graph(&json(t)).len())
            .sum::<usize>(),
        started.elapsed()
    );
}

#[test]
fn spdx_validators_reject_what_they_should() {
    let d = demo();
    let mut doc = json(&spdx::render(&d.input(Some(&d.released))).unwrap());
    let els = by_mlprov_id(&doc);
    let ckpt = els[&d.released]["spdxId"].as_str().unwrap().to_string();
    let sft_mix = els[&d.ids["sft-mix"]]["spdxId"]
        .as_str()
        .unwrap()
        .to_string();
    let g = doc["@graph"].as_array_mut().unwrap();
    // JSON Schema: fractional seconds.
    let p = g.iter_mut().find(|e| e["spdxId"] == ckpt.as_str()).unwrap();
    p["releaseTime"] = Value::from("2026-11-15T00:00:00.5Z");
    // SHACL: a supplier that is not an Agent (a dataset); the schema cannot tell.
    let p = g
        .iter_mut()
        .find(|e| e["spdxId"] == sft_mix.as_str())
        .unwrap();
    p["suppliedBy"] = Value::from(ckpt.clone());
    // The license rule: the checkpoint loses its concluded license.
    g.retain(|e| !(e["from"] == ckpt.as_str() && e["relationshipType"] == "hasConcludedLicense"));
    assert!(
        !schema_errors(spdx_schema(), &doc).is_empty(),
        "schema.json accepts fractional seconds"
    );
    let path = d.write("bad.spdx3.json", &serde_json::to_string(&doc).unwrap());
    let out = rejected_by("spdx3.py", &path);
    assert!(
        out.contains("[schema]") && out.contains("releaseTime"),
        "{out}"
    );
    assert!(
        out.contains("[shacl]") && out.contains("suppliedBy"),
        "{out}"
    );
    assert!(
        out.contains("[profile]") && out.contains("0 hasConcludedLicense"),
        "{out}"
    );
}

#[test]
fn spdx_every_package_has_one_declared_and_one_concluded_license() {
    let d = demo();
    for (name, text) in d.rendered(spdx::render) {
        let doc = json(&text);
        let packages: Vec<&Value> = graph(&doc)
            .iter()
            .filter(|e| e["type"] == "ai_AIPackage" || e["type"] == "dataset_DatasetPackage")
            .collect();
        assert!(packages.len() >= 5, "{name}: {} packages", packages.len());
        let licenses: BTreeMap<&str, &str> = graph(&doc)
            .iter()
            .filter(|e| e["type"] == "simplelicensing_LicenseExpression")
            .map(|e| {
                (
                    e["spdxId"].as_str().unwrap(),
                    e["simplelicensing_licenseExpression"].as_str().unwrap(),
                )
            })
            .collect();
        for p in &packages {
            let id = p["spdxId"].as_str().unwrap();
            for kind in ["hasDeclaredLicense", "hasConcludedLicense"] {
                let rels: Vec<&Value> = relationships(&doc, kind)
                    .filter(|r| r["from"] == id)
                    .collect();
                assert_eq!(rels.len(), 1, "{name}: {id} has {} {kind}", rels.len());
                let to = rels[0]["to"].as_array().unwrap();
                assert_eq!(to.len(), 1, "{name}: {id} {kind} → {to:?}");
                let to = to[0].as_str().unwrap();
                assert!(
                    to == spdx::NOASSERTION_LICENSE || licenses.contains_key(to),
                    "{name}: {id} {kind} → {to}, neither NoAssertion nor a license expression here"
                );
            }
        }
        // Expressions: listed SPDX ids (from the catalog) or LicenseRef-, joined by AND.
        for expr in licenses.values() {
            for part in expr.split(" AND ") {
                assert!(
                    part.starts_with("LicenseRef-")
                        || ["Apache-2.0", "MIT", "CC-BY-NC-4.0"].contains(&part),
                    "{name}: unexpected license id {part} in {expr}"
                );
                assert!(
                    part.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                    "{part}"
                );
            }
        }
    }
    // The released checkpoint declares Apache-2.0 (model card and user claim); gpt-4o has no
    // claim but the catalog concludes the OpenAI terms; mystery-7b has nothing at all.
    let doc = json(&spdx::render(&d.input(None)).unwrap());
    let els = by_mlprov_id(&doc);
    let license_of = |artifact: &str, kind: &str| -> String {
        let id = els[artifact]["spdxId"].as_str().unwrap();
        let to = relationships(&doc, kind).find(|r| r["from"] == id).unwrap()["to"][0]
            .as_str()
            .unwrap()
            .to_string();
        graph(&doc)
            .iter()
            .find(|e| e["spdxId"] == to.as_str())
            .map(|e| {
                e["simplelicensing_licenseExpression"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .unwrap_or(to)
    };
    assert_eq!(license_of(&d.released, "hasDeclaredLicense"), "Apache-2.0");
    assert_eq!(license_of(&d.released, "hasConcludedLicense"), "Apache-2.0");
    assert_eq!(
        license_of(&d.ids["gpt-4o"], "hasDeclaredLicense"),
        spdx::NOASSERTION_LICENSE
    );
    assert_eq!(
        license_of(&d.ids["gpt-4o"], "hasConcludedLicense"),
        "LicenseRef-OpenAI-Services-Agreement"
    );
    assert_eq!(
        license_of(&d.ids["mystery-7b"], "hasConcludedLicense"),
        spdx::NOASSERTION_LICENSE
    );
    assert_eq!(
        license_of(&d.ids["seed-prompts"], "hasDeclaredLicense"),
        "LicenseRef-cc-by-4.0"
    );
}

#[test]
fn spdx_hashes_are_file_digests_only() {
    let d = demo();
    for (name, text) in d.rendered(spdx::render) {
        let doc = json(&text);
        let (mut files, mut trees) = (0, 0);
        for (id, el) in by_mlprov_id(&doc) {
            let hashes = el["verifiedUsing"].as_array().cloned().unwrap_or_default();
            match hex(&id) {
                Some(h) => {
                    files += 1;
                    assert_eq!(
                        hashes,
                        vec![
                            serde_json::json!({"type": "Hash", "algorithm": "blake3", "hashValue": h})
                        ],
                        "{name}: {id}"
                    );
                }
                None => {
                    assert!(hashes.is_empty(), "{name}: {id} must not carry a hash");
                    if id.starts_with("blake3tree:") {
                        trees += 1;
                        let comment = el["externalIdentifier"][0]["comment"].as_str().unwrap();
                        assert!(comment.contains("not a hash of any file"), "{comment}");
                    }
                }
            }
        }
        assert!(
            files > 0 && trees > 0,
            "{name}: {files} files, {trees} trees"
        );
    }
}

#[test]
fn spdx_records_lineage_and_timestamps_exactly() {
    let d = demo();
    let doc = json(&spdx::render(&d.input(Some(&d.released))).unwrap());
    let els = by_mlprov_id(&doc);
    let iri = |key: &str| els[&d.ids[key]]["spdxId"].as_str().unwrap().to_string();
    let has = |kind: &str, from: &str, to: &str| {
        relationships(&doc, kind)
            .any(|r| r["from"] == from && r["to"].as_array().unwrap().iter().any(|t| t == to))
    };
    let ckpt = iri("acme-chat-7b");
    assert_eq!(els[&d.released]["type"], "ai_AIPackage");
    assert_eq!(els[&d.ids["sft-mix"]]["type"], "dataset_DatasetPackage");
    assert!(has("trainedOn", &ckpt, &iri("sft-mix")));
    assert!(has("testedOn", &ckpt, &iri("chat-eval")));
    assert!(has("ancestorOf", &iri("qwen2.5-7b-instruct"), &ckpt));
    assert!(has(
        "generates",
        &iri("deepseek-v3"),
        &iri("synthetic-math")
    ));
    let build = graph(&doc)
        .iter()
        .find(|e| {
            e["type"] == "build_Build"
                && e["build_buildId"] == "run:01936a10-0000-7000-8000-000000000003"
        })
        .expect("the fine-tune run is a build_Build");
    assert_eq!(
        build["build_buildType"],
        "https://mlprov.dev/spdx/build-type/fine_tune"
    );
    assert_eq!(build["build_buildStartTime"], "2026-09-10T00:00:00Z");
    let b = build["spdxId"].as_str().unwrap();
    assert!(has("hasInput", b, &iri("sft-mix")));
    assert!(has("hasOutput", b, &ckpt));
    // The evaluation run downstream of the checkpoint is not upstream of it: out of scope.
    assert!(!graph(&doc)
        .iter()
        .any(|e| e["build_buildId"] == "run:01936a10-0000-7000-8000-000000000004"));
    let doc_el = graph(&doc)
        .iter()
        .find(|e| e["type"] == "SpdxDocument")
        .unwrap();
    assert_eq!(doc_el["rootElement"], serde_json::json!([ckpt]));
    // Findings about the checkpoint are review annotations on it.
    assert!(graph(&doc).iter().any(|e| e["type"] == "Annotation"
        && e["subject"] == ckpt.as_str()
        && e["statement"].as_str().unwrap().starts_with("L106 ")));
    // Every id is an IRI; every time is exactly YYYY-MM-DDThh:mm:ssZ.
    let stamp =
        |s: &str| s.len() == 20 && s.ends_with('Z') && DateTime::parse_from_rfc3339(s).is_ok();
    assert_eq!(graph(&doc)[0]["created"], "2026-11-23T12:00:00Z");
    for e in graph(&doc) {
        if let Some(id) = e["spdxId"].as_str() {
            assert!(id.starts_with(spdx::NAMESPACE), "{id}");
        }
        for key in [
            "created",
            "releaseTime",
            "builtTime",
            "build_buildStartTime",
            "build_buildEndTime",
        ] {
            if let Some(t) = e[key].as_str() {
                assert!(stamp(t), "{key} = {t}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CycloneDX 1.6
// ---------------------------------------------------------------------------------------------

fn components(bom: &Value) -> Vec<&Value> {
    bom["metadata"]["component"]
        .as_object()
        .map(|_| &bom["metadata"]["component"])
        .into_iter()
        .chain(bom["components"].as_array().unwrap())
        .collect()
}

fn property<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .filter_map(|p| p["value"].as_str())
        .collect()
}

#[test]
fn cyclonedx_boms_pass_the_strict_validator_and_the_vendored_schema() {
    let d = demo();
    let boms = d.rendered(cyclonedx::render);
    for (name, text) in &boms {
        let errors = schema_errors(cyclonedx_schema(), &json(text));
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    let paths: Vec<PathBuf> = boms
        .iter()
        .map(|(name, text)| d.write(&format!("{name}.cdx.json"), text))
        .collect();
    let args: Vec<&std::ffi::OsStr> = paths.iter().map(|p| p.as_os_str()).collect();
    let started = Instant::now();
    common::validate_with("cyclonedx.py", &args);
    eprintln!(
        "cyclonedx.py ({} BOMs): {:.1?}",
        boms.len(),
        started.elapsed()
    );
}

#[test]
fn cyclonedx_validators_reject_what_they_should() {
    let d = demo();
    let mut bom = json(&cyclonedx::render(&d.input(Some(&d.released))).unwrap());
    let sft_mix = d.ids["sft-mix"].as_str();
    let c = bom["components"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["bom-ref"] == sft_mix)
        .unwrap();
    c["hashes"][0]["alg"] = Value::from("blake3"); // CycloneDX spells it BLAKE3
    bom["dependencies"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"ref": "blake3:nowhere"}));
    assert!(
        !schema_errors(cyclonedx_schema(), &bom).is_empty(),
        "bom-1.6 accepts alg 'blake3'"
    );
    let path = d.write("bad.cdx.json", &serde_json::to_string(&bom).unwrap());
    let out = rejected_by("cyclonedx.py", &path);
    assert!(out.contains("[schema]"), "{out}");
    assert!(
        out.contains("[refs]") && out.contains("blake3:nowhere"),
        "{out}"
    );
}

#[test]
fn cyclonedx_hashes_licenses_and_lineage() {
    let d = demo();
    for (name, text) in d.rendered(cyclonedx::render) {
        let bom = json(&text);
        assert_eq!(bom["specVersion"], "1.6");
        assert!(bom["serialNumber"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:"));
        assert_eq!(bom["metadata"]["timestamp"], "2026-11-23T12:00:00Z");
        for c in components(&bom) {
            let id = property(c, "mlprov:artifact_id")[0];
            assert_eq!(c["bom-ref"], id);
            let hashes = c["hashes"].as_array().cloned().unwrap_or_default();
            match hex(id) {
                Some(h) => assert_eq!(
                    hashes,
                    vec![serde_json::json!({"alg": "BLAKE3", "content": h})],
                    "{name}: {id}"
                ),
                None => assert!(hashes.is_empty(), "{name}: {id} must not carry a hash"),
            }
            if let Some(list) = c["licenses"].as_array() {
                for l in list {
                    assert!(
                        l.get("license").is_some() && l.get("expression").is_none(),
                        "{l}"
                    );
                    if let Some(id) = l["license"]["id"].as_str() {
                        assert!(
                            !id.starts_with("LicenseRef-"),
                            "{id} is not a listed SPDX id"
                        );
                    }
                }
            }
            match property(c, "mlprov:kind")[0] {
                "checkpoint" | "external_model" => assert_eq!(c["type"], "machine-learning-model"),
                "dataset" | "synthetic_dataset" => {
                    assert_eq!(c["type"], "data");
                    assert_eq!(c["data"][0]["type"], "dataset");
                }
                _ => {}
            }
        }
    }
    let bom = json(&cyclonedx::render(&d.input(Some(&d.released))).unwrap());
    let root = &bom["metadata"]["component"];
    assert_eq!(root["bom-ref"], d.released.as_str());
    assert!(!bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["bom-ref"] == d.released.as_str()));
    let datasets: BTreeSet<&str> = root["modelCard"]["modelParameters"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        datasets,
        BTreeSet::from([d.ids["sft-mix"].as_str(), d.ids["chat-eval"].as_str()])
    );
    assert_eq!(
        property(&root["pedigree"]["ancestors"][0], "mlprov:artifact_id"),
        vec![d.ids["qwen2.5-7b-instruct"].as_str()]
    );
    assert!(root["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .any(
            |l| l["license"]["id"] == "Apache-2.0" && l["license"]["acknowledgement"] == "declared"
        ));
    let dep = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["ref"] == d.released.as_str())
        .unwrap();
    let on: BTreeSet<&str> = dep["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        on.contains(d.ids["sft-mix"].as_str())
            && on.contains(d.ids["qwen2.5-7b-instruct"].as_str()),
        "{on:?}"
    );
    let workflows = bom["formulation"][0]["workflows"].as_array().unwrap();
    let sft = workflows
        .iter()
        .find(|w| w["uid"] == "run:01936a10-0000-7000-8000-000000000003")
        .unwrap();
    assert_eq!(sft["bom-ref"], sft["uid"]);
    assert_eq!(sft["taskTypes"], serde_json::json!(["build"]));
    assert_eq!(sft["timeStart"], "2026-09-10T00:00:00Z");
    assert_eq!(sft["timeEnd"], "2026-09-12T06:00:00Z");
    assert!(sft["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["resource"]["ref"] == d.ids["sft-mix"].as_str()
            && property(i, "mlprov:role") == vec!["training_data"]));
    assert!(sft["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["resource"]["ref"] == d.released.as_str()));
    // The audit's findings travel with the components they judge.
    let store = json(&cyclonedx::render(&d.input(None)).unwrap());
    let judged = components(&store)
        .into_iter()
        .find(|c| c["bom-ref"] == d.ids["acme-mistral-chat"].as_str())
        .unwrap();
    assert!(
        property(judged, "mlprov:finding")
            .iter()
            .any(|f| f.starts_with("L101 ")),
        "{judged:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Both
// ---------------------------------------------------------------------------------------------

#[test]
fn exports_are_deterministic_for_the_same_input() {
    let d = demo();
    for render in [spdx::render as Render, cyclonedx::render] {
        for root in [None, Some(d.released.as_str())] {
            assert_eq!(
                render(&d.input(root)).unwrap(),
                render(&d.input(root)).unwrap(),
                "same input, different output"
            );
        }
        // Another moment is another document (new SPDX namespace, new CycloneDX serial number).
        let later = ExportInput::new(
            &d.view,
            &d.graph,
            &d.audit,
            None,
            generated_at() + chrono::Duration::days(1),
        );
        assert_ne!(render(&d.input(None)).unwrap(), render(&later).unwrap());
    }
}

#[test]
fn a_run_as_root_is_the_subject_of_both_exports() {
    let d = demo();
    let run = "run:01936a10-0000-7000-8000-000000000003";
    let input = d.input(Some(run));
    let doc = json(&spdx::render(&input).unwrap());
    assert!(schema_errors(spdx_schema(), &doc).is_empty());
    let build = graph(&doc)
        .iter()
        .find(|e| e["build_buildId"] == run)
        .unwrap();
    let doc_el = graph(&doc)
        .iter()
        .find(|e| e["type"] == "SpdxDocument")
        .unwrap();
    assert_eq!(doc_el["rootElement"], serde_json::json!([build["spdxId"]]));
    // Profile-required properties are on every package.
    for e in graph(&doc) {
        let required: &[&str] = match e["type"].as_str().unwrap() {
            "ai_AIPackage" => &[
                "suppliedBy",
                "software_downloadLocation",
                "software_packageVersion",
                "software_primaryPurpose",
                "releaseTime",
            ],
            "dataset_DatasetPackage" => &[
                "dataset_datasetType",
                "builtTime",
                "originatedBy",
                "releaseTime",
                "software_downloadLocation",
                "software_primaryPurpose",
            ],
            _ => &[],
        };
        for key in required {
            assert!(e.get(*key).is_some(), "{} lacks {key}", e["spdxId"]);
        }
    }
    let bom = json(&cyclonedx::render(&input).unwrap());
    assert!(schema_errors(cyclonedx_schema(), &bom).is_empty());
    assert!(
        bom["metadata"].get("component").is_none(),
        "a run is not a component"
    );
    assert!(property(&bom["metadata"], "mlprov:scope")[0].ends_with(run));
    let workflows = bom["formulation"][0]["workflows"].as_array().unwrap();
    assert!(workflows.iter().any(|w| w["uid"] == run));
    // The checkpoint the run wrote is downstream of it: outside the scope.
    assert!(!components(&bom)
        .iter()
        .any(|c| c["bom-ref"] == d.released.as_str()));
}
