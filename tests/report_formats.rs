//! The reports for people and CI (Markdown, HTML with its SVG lineage picture, SARIF 2.1.0),
//! rendered from the bundled demo through the library and checked by independent parsers:
//! SARIF by the official OASIS SARIF 2.1.0 JSON Schema (vendored) with the Rust `jsonschema`
//! crate and with Python's `jsonschema`; HTML by a strict html.parser pass (balanced tags, no
//! external resources); SVG by Python's `xml.etree`.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use mlprov::audit::{AuditReport, Status};
use mlprov::catalog::Catalog;
use mlprov::export::{html, markdown, sarif, svg, ExportInput};
use mlprov::graph::LineageGraph;
use mlprov::policy::{Policy, Severity};
use mlprov::view::View;
use serde_json::Value;

struct Demo {
    dir: tempfile::TempDir,
    view: View,
    graph: LineageGraph,
    report: AuditReport,
    released: String,
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let built = mlprov::demo::build(&project).unwrap();
    let view = View::build(&built.store.load().unwrap(), None);
    let policy = Policy::locate(None, &project).unwrap();
    let report = mlprov::audit::audit(
        &view,
        &Catalog::builtin().unwrap(),
        &policy,
        &Default::default(),
    );
    let graph = LineageGraph::build(&view);
    Demo {
        dir,
        view,
        graph,
        report,
        released: built.released_checkpoint,
    }
}

impl Demo {
    fn input(&self, root: Option<&str>) -> ExportInput<'_> {
        ExportInput::new(
            &self.view,
            &self.graph,
            &self.report,
            root.map(str::to_string),
            at(),
        )
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn sarif_schema() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vendor/sarif-2.1.0/sarif-schema-2.1.0.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn assert_valid_sarif(doc: &Value) {
    let schema = sarif_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn sarif_is_valid_against_the_official_schema_and_carries_the_evidence() {
    let d = demo();
    let input = d.input(None);
    let text = sarif::render(&input).unwrap();
    assert_eq!(text, sarif::render(&input).unwrap(), "deterministic");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_valid_sarif(&doc);
    let file = d.write("report.sarif", &text);
    common::validate_with("sarif.py", &[file.as_os_str()]);

    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(
        doc["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let run = &doc["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "mlprov");
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), mlprov::audit::codes::CODES.len());
    for r in rules {
        assert_eq!(
            r["helpUri"].as_str().unwrap(),
            format!(
                "https://mlprov.dev/docs/findings#{}",
                r["id"].as_str().unwrap()
            )
        );
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), d.report.findings.len());
    let fingerprints: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["mlprovFinding/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        fingerprints.len(),
        results.len(),
        "fingerprints tell findings apart"
    );

    for (r, f) in results.iter().zip(&d.report.findings) {
        assert_eq!(r["ruleId"], f.code);
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], level);
        assert_eq!(r["message"]["text"], f.message.as_str());
        // Waived findings are suppressed, with the waiver's reason as justification.
        let sup = &r["suppressions"];
        if f.status == Status::Waived {
            assert_eq!(sup[0]["kind"], "external");
            assert!(sup[0]["justification"]
                .as_str()
                .unwrap()
                .contains("Commercial license"));
        } else {
            assert!(sup.is_null());
        }
        // Logical locations name the run, target and model by id.
        let names: Vec<&str> = r["locations"][0]["logicalLocations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l["fullyQualifiedName"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        for id in [&f.target, &f.run, &f.model].into_iter().flatten() {
            assert!(names.contains(&id.as_str()), "{} lacks {id}", f.code);
        }
        // The target's recorded path as a file URI.
        if let Some(t) = &f.target {
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(uri.starts_with("file:///"), "{uri}");
            assert!(
                uri.ends_with(&format!("/checkpoints/{}", d.view.artifacts[t].label())),
                "{uri}"
            );
        }
        // The evidence path as a code flow, step by step.
        if !f.path.is_empty() {
            let steps = r["codeFlows"][0]["threadFlows"][0]["locations"]
                .as_array()
                .unwrap();
            let ids: Vec<&str> = steps
                .iter()
                .map(|s| {
                    s["location"]["logicalLocations"][0]["fullyQualifiedName"]
                        .as_str()
                        .unwrap()
                })
                .collect();
            let want: Vec<&str> = f.path.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, want);
        }
        if let Some(l) = &f.license {
            assert_eq!(r["properties"]["license"], l.id.as_str());
        }
        if let Some(c) = &f.claim {
            assert_eq!(r["properties"]["claimSource"], c.source.as_str());
            assert_eq!(r["properties"]["claimConfidence"], c.confidence.as_str());
        }
    }
    let waived = results
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .count();
    assert_eq!(waived, d.report.summary.waived);

    // A checkpoint's report keeps only the findings about its upstream, and stays valid.
    let scoped = sarif::build(&d.input(Some(&d.released)));
    assert_valid_sarif(&scoped);
    let scoped_results = scoped["runs"][0]["results"].as_array().unwrap();
    assert!(!scoped_results.is_empty());
    assert!(scoped_results.len() < results.len());
    for r in scoped_results {
        let names: Vec<&str> = r["locations"][0]["logicalLocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["fullyQualifiedName"].as_str().unwrap())
            .collect();
        assert!(names.contains(&d.released.as_str()));
    }
}

/// Table rows of a Markdown document: the count of unescaped pipes of each row line.
fn table_shapes(md: &str) -> Vec<Vec<usize>> {
    let mut tables = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for line in md.lines() {
        if line.starts_with('|') {
            let b = line.as_bytes();
            let pipes = (0..b.len())
                .filter(|&i| {
                    b[i] == b'|' && (i == 0 || b[i - 1] != b'\\' || (i >= 2 && b[i - 2] == b'\\'))
                })
                .count();
            current.push(pipes);
        } else if !current.is_empty() {
            tables.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        tables.push(current);
    }
    tables
}

#[test]
fn markdown_reports_verdict_lineage_findings_artifacts_and_waivers() {
    let d = demo();
    let input = d.input(None);
    let md = markdown::render(&input).unwrap();
    assert_eq!(md, markdown::render(&input).unwrap(), "deterministic");
    assert!(md.starts_with("# mlprov report: whole store\n"));
    assert!(md.contains("Generated 2026-12-01T00:00:00Z by mlprov"));
    assert!(md.contains("## Verdict: **FAIL**"));
    assert!(md.contains("```mermaid\nflowchart LR\n"));
    assert!(md.contains("classDef restricted"));
    assert!(md.contains("linkStyle "));
    for f in &d.report.findings {
        assert!(md.contains(&format!("`{}`", f.code)), "{}", f.code);
    }
    let l101 = d.report.findings.iter().find(|f| f.code == "L101").unwrap();
    let quote = l101.claim.as_ref().unwrap().quote.as_ref().unwrap();
    assert!(md.contains(&format!("  > {}", markdown::text(quote))));
    assert!(md.contains(&format!(
        "source: {}",
        markdown::text(&l101.claim.as_ref().unwrap().source)
    )));
    assert!(md.contains("- **Disagreeing claims:**"));
    assert!(md.contains("- **Conditions:**"));
    assert!(
        md.contains("- **Path:** external\\_model **Llama-2-70b-chat** —generator → generate run")
    );
    for a in d.view.artifacts.values() {
        assert!(
            md.contains(&format!("`{}`", a.id)),
            "artifact table lacks {}",
            a.id
        );
    }
    assert!(
        md.contains("apache-2.0 (license\\_file, primary)") || md.contains("(user, unverified)")
    );
    let waiver = d.view.waivers.keys().next().unwrap();
    assert!(md.contains(&format!("| `{waiver}` | **active** | L104 |")));
    // Every table keeps one column count in every row.
    let tables = table_shapes(&md);
    assert!(tables.len() >= 4);
    for t in &tables {
        assert!(t.iter().all(|&n| n == t[0]), "ragged table: {t:?}");
    }

    // A checkpoint's report: its own lineage, no unrelated findings.
    let scoped = markdown::render(&d.input(Some(&d.released))).unwrap();
    assert!(scoped.starts_with("# mlprov report: acme-chat-7b\n"));
    assert!(scoped.contains("`L106`") && scoped.contains("`L108`"));
    assert!(!scoped.contains("`L101`"));
    assert!(!scoped.contains("acme-mistral-chat"));
}

#[test]
fn html_is_one_self_contained_well_formed_file() {
    let d = demo();
    let input = d.input(None);
    let page = html::render(&input).unwrap();
    assert_eq!(page, html::render(&input).unwrap(), "deterministic");
    let file = d.write("report.html", &page);
    common::validate_with("html_wellformed.py", &[file.as_os_str()]);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        page.matches("<svg ").count(),
        1,
        "the lineage picture is inline"
    );
    assert!(page.contains("class=\"edge restricted\""));
    assert!(page.contains("<style>"));
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no scripts needed");
    assert!(!lower.contains("<link"));
    assert!(!lower.contains("<img"));
    assert!(!lower.contains("src=\"http") && !lower.contains("href=\"http"));
    for f in &d.report.findings {
        assert!(
            page.contains(&format!("data-code=\"{}\"", f.code)),
            "{}",
            f.code
        );
    }
    assert_eq!(
        page.matches("<details class=\"finding ").count(),
        d.report.findings.len()
    );
    assert!(page.contains("finding sev-waived"));
    assert!(page.contains("class=\"verdict fail\""));
    for a in d.view.artifacts.values() {
        assert!(page.contains(&format!("<code>{}</code>", svg::escape(&a.id))));
    }
    let waiver = d.view.waivers.keys().next().unwrap();
    assert!(page.contains(&format!(
        "<td class=\"id\"><code>{waiver}</code></td><td class=\"state active\">active</td>"
    )));
}

/// Parse the SVG with Python's xml.etree and list the data-id of every node and the
/// (from, to) of every edge drawn as restricted or waived.
fn svg_marks(file: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == S + "svg", root.tag
out = {"restricted": [], "waived": [], "nodes": [], "restricted_edges": [], "waived_edges": [], "titles": 0}
for el in root.iter():
    cls = (el.get("class") or "").split()
    if el.tag == S + "g" and "node" in cls:
        out["nodes"].append(el.get("data-id"))
        for mark in ("restricted", "waived"):
            if mark in cls:
                out[mark].append(el.get("data-id"))
        if el.find(S + "title") is not None:
            out["titles"] += 1
    if el.tag == S + "path" and "edge" in cls:
        for mark in ("restricted", "waived"):
            if mark in cls:
                out[mark + "_edges"].append([el.get("data-from"), el.get("data-to")])
print(json.dumps(out))
"#;
    let out = Command::new(common::validator_python())
        .arg("-c")
        .arg(SCRIPT)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xml.etree rejected the SVG: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn svg_parses_as_xml_and_highlights_restricted_paths() {
    let d = demo();
    let input = d.input(None);
    let picture = svg::render(&input);
    assert_eq!(picture, svg::render(&input), "deterministic");
    let file = d.write("lineage.svg", &picture);
    let marks = svg_marks(&file);
    let list = |k: &str| -> BTreeSet<String> {
        marks[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let edges = |k: &str| -> BTreeSet<(String, String)> {
        marks[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v[0].as_str().unwrap().to_string(),
                    v[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(list("nodes"), input.scope, "every node in scope is drawn");
    assert_eq!(
        marks["titles"].as_u64().unwrap() as usize,
        input.scope.len(),
        "every node has a tooltip"
    );

    let restricted = list("restricted");
    let restricted_edges = edges("restricted_edges");
    for f in d.report.findings.iter().filter(|f| f.code == "L101") {
        for w in f.path.windows(2) {
            assert!(restricted.contains(&w[0].id), "{} is not red", w[0].label);
            assert!(
                restricted_edges.contains(&(w[0].id.clone(), w[1].id.clone())),
                "{} → {}",
                w[0].label,
                w[1].label
            );
        }
        let target = f.target.clone().unwrap();
        assert!(restricted.contains(&target));
        assert!(restricted_edges.contains(&(f.run.clone().unwrap(), target)));
    }
    // The waived L104 path is muted, not red; notes mark nothing.
    let l104 = d.report.findings.iter().find(|f| f.code == "L104").unwrap();
    assert_eq!(l104.status, Status::Waived);
    assert!(list("waived").contains(l104.model.as_ref().unwrap()));
    assert!(!restricted.contains(l104.model.as_ref().unwrap()));
    assert!(!edges("waived_edges").is_empty());
    let note_only = &d.released; // acme-chat-7b has only notes (L106, L108)
    assert!(!restricted.contains(note_only));

    // A checkpoint's picture: only its upstream.
    let scoped = d.input(Some(&d.released));
    let file = d.write("scoped.svg", &svg::render(&scoped));
    let marks = svg_marks(&file);
    let nodes: BTreeSet<String> = marks["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, scoped.scope);
    assert!(marks["restricted"].as_array().unwrap().is_empty());
}
