//! The audit as SARIF 2.1.0, for CI code-scanning views: one rule per finding code, one result
//! per finding in scope. A result's locations name the run, the target checkpoint and the
//! restricted model as logical locations (fully qualified names are mlprov ids) and, when the
//! target was tagged from a path, that path as a `file://` URI. The evidence path is a code
//! flow (one thread-flow location per step, with the role that led on); waived findings carry
//! an external suppression with the waiver's justification. Fingerprints are stable across
//! runs of the audit: a hash of the code, run, target and model (and of the license, waiver or
//! message that tells apart findings that share those).

use serde_json::{json, Map, Value};

use super::ExportInput;
use crate::audit::codes::CODES;
use crate::audit::{Finding, Status};
use crate::error::{Error, Result};
use crate::policy::Severity;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const INFORMATION_URI: &str = "https://mlprov.dev";
pub const FINGERPRINT_KEY: &str = "mlprovFinding/v1";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
        Severity::Allow => "none",
    }
}

/// `file://` URI of an absolute path, percent-encoding every byte outside RFC 3986's
/// unreserved set and `/`.
pub fn file_uri(path: &str) -> String {
    let mut out = String::from("file://");
    if !path.starts_with('/') {
        out.push('/');
    }
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Stable identity of a finding across audits (waiving it does not change it).
pub fn fingerprint(f: &Finding) -> String {
    let discriminator = match f.code.as_bytes().first() {
        Some(b'L') => f.license.as_ref().map(|l| l.id.clone()).unwrap_or_default(),
        Some(b'W') => f.waiver.clone().unwrap_or_default(),
        _ => f.message.clone(),
    };
    let mut h = blake3::Hasher::new();
    for part in [
        f.code,
        f.run.as_deref().unwrap_or(""),
        f.target.as_deref().unwrap_or(""),
        f.model.as_deref().unwrap_or(""),
        discriminator.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex().to_string()
}

fn logical(name: String, id: &str, role: &str) -> Value {
    json!({
        "name": name,
        "fullyQualifiedName": id,
        "kind": "resource",
        "properties": { "role": role },
    })
}

fn rules() -> Vec<Value> {
    CODES
        .iter()
        .map(|c| {
            json!({
                "id": c.code,
                "name": c.name,
                "shortDescription": { "text": format!("{}: {}", c.code, c.name.replace('-', " ")) },
                "fullDescription": { "text": c.summary },
                "helpUri": format!("https://mlprov.dev/docs/findings#{}", c.code),
                "help": { "text": format!("{} See https://mlprov.dev/docs/findings#{} for how verdicts are reached, and `mlprov waive` for approved exceptions.", c.summary, c.code) },
                "defaultConfiguration": { "level": level(c.default_severity) },
                "properties": { "tags": ["license", "provenance", "ml"] },
            })
        })
        .collect()
}

fn result(input: &ExportInput, f: &Finding) -> Value {
    let label = |id: &str| super::markdown::label_of(input, id);
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.code));
    if let Some(i) = CODES.iter().position(|c| c.code == f.code) {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({ "text": f.message }));

    // Where: target, run, model as logical locations; the target's path when it has one.
    let mut logical_locations = Vec::new();
    if let Some(t) = &f.target {
        logical_locations.push(logical(
            f.target_label.clone().unwrap_or_else(|| label(t)),
            t,
            "target",
        ));
    }
    if let Some(run) = &f.run {
        logical_locations.push(logical(label(run), run, "run"));
    }
    if let Some(m) = &f.model {
        logical_locations.push(logical(
            f.model_label.clone().unwrap_or_else(|| label(m)),
            m,
            "model",
        ));
    }
    let physical = f
        .target
        .as_ref()
        .and_then(|t| input.view.artifacts.get(t))
        .and_then(|a| a.locations.iter().next())
        .map(|loc| json!({ "artifactLocation": { "uri": file_uri(loc) } }));
    if !logical_locations.is_empty() || physical.is_some() {
        let mut loc = Map::new();
        if let Some(p) = physical {
            loc.insert("physicalLocation".into(), p);
        }
        if !logical_locations.is_empty() {
            loc.insert("logicalLocations".into(), Value::Array(logical_locations));
        }
        r.insert("locations".into(), json!([loc]));
    }

    // How: the evidence path as one thread flow.
    if !f.path.is_empty() {
        let steps: Vec<Value> = f
            .path
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let text = match (s.node_type, s.role) {
                    ("run", _) => format!("{} run \"{}\"", s.kind, s.label),
                    (_, Some(role)) => {
                        format!("{} {} — used as {role} by the next run", s.kind, s.label)
                    }
                    _ => format!("{} {}", s.kind, s.label),
                };
                let mut props = Map::new();
                props.insert("type".into(), json!(s.node_type));
                props.insert("kind".into(), json!(s.kind));
                if let Some(role) = s.role {
                    props.insert("role".into(), json!(role.as_str()));
                }
                json!({
                    "location": {
                        "logicalLocations": [{
                            "name": s.label,
                            "fullyQualifiedName": s.id,
                            "kind": "resource",
                        }],
                        "message": { "text": text },
                    },
                    "executionOrder": i + 1,
                    "properties": props,
                })
            })
            .collect();
        let first = &f.path[0];
        let last = &f.path[f.path.len() - 1];
        r.insert(
            "codeFlows".into(),
            json!([{
                "message": { "text": format!("how {} reached {}", first.label, last.label) },
                "threadFlows": [{ "locations": steps }],
            }]),
        );
    }

    r.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT_KEY: fingerprint(f) }),
    );

    if f.status == Status::Waived {
        let waiver = f.waiver.as_ref().and_then(|w| input.view.waivers.get(w));
        let justification = match waiver {
            Some(w) => format!(
                "{} (approved by {}, until {}; {})",
                w.reason,
                w.approved_by,
                w.expires_at.format("%Y-%m-%d"),
                w.waiver_id
            ),
            None => f.notes.join("; "),
        };
        let mut sup = Map::new();
        sup.insert("kind".into(), json!("external"));
        sup.insert("status".into(), json!("accepted"));
        sup.insert("justification".into(), json!(justification));
        if let Some(w) = waiver {
            sup.insert(
                "properties".into(),
                json!({
                    "waiver": w.waiver_id,
                    "approvedBy": w.approved_by,
                    "expires": w.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                }),
            );
        }
        r.insert("suppressions".into(), json!([sup]));
    }

    // Everything else a reviewer needs, as properties.
    let mut p = Map::new();
    p.insert(
        "status".into(),
        json!(match f.status {
            Status::Active => "active",
            Status::Waived => "waived",
        }),
    );
    p.insert("severity".into(), json!(f.severity.as_str()));
    p.insert("name".into(), json!(f.name));
    if let Some(l) = &f.license {
        p.insert("license".into(), json!(l.id));
        p.insert("licenseName".into(), json!(l.name));
        if let Some(v) = &l.version {
            p.insert("licenseVersion".into(), json!(v));
        }
        p.insert("licenseBasis".into(), json!(l.basis));
    }
    if let Some(c) = &f.claim {
        p.insert("claim".into(), claim_json(c));
        p.insert("claimSource".into(), json!(c.source));
        p.insert("claimConfidence".into(), json!(c.confidence.as_str()));
    }
    if !f.disagreeing_claims.is_empty() {
        p.insert(
            "disagreeingClaims".into(),
            Value::Array(f.disagreeing_claims.iter().map(claim_json).collect()),
        );
    }
    if let Some(c) = &f.clarification {
        p.insert(
            "clarification".into(),
            json!({ "class": c.class.as_str(), "reason": c.reason, "approvedBy": c.approved_by }),
        );
    }
    if let Some(d) = f.target_distribution {
        p.insert("distribution".into(), json!(d.as_str()));
    }
    if let Some(c) = f.channel {
        p.insert("channel".into(), json!(c.as_str()));
    }
    if let Some(v) = f.via {
        p.insert("via".into(), json!(v.as_str()));
    }
    if let Some(t) = f.generated_at {
        p.insert(
            "generatedAt".into(),
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    if !f.conditions.is_empty() {
        p.insert("conditions".into(), json!(f.conditions));
    }
    if let Some(w) = &f.waiver {
        p.insert("waiver".into(), json!(w));
    }
    if !f.notes.is_empty() {
        p.insert("notes".into(), json!(f.notes));
    }
    r.insert("properties".into(), Value::Object(p));
    Value::Object(r)
}

fn claim_json(c: &crate::audit::ClaimRef) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("class".into(), json!(c.class.as_str()));
    m.insert("summary".into(), json!(c.summary));
    if let Some(cl) = &c.clause {
        m.insert("clause".into(), json!(cl));
    }
    if let Some(q) = &c.quote {
        m.insert("quote".into(), json!(q));
    }
    m.insert("source".into(), json!(c.source));
    m.insert("confidence".into(), json!(c.confidence.as_str()));
    m.insert("read".into(), json!(c.read.to_string()));
    Value::Object(m)
}

/// The SARIF document (pretty JSON).
pub fn build(input: &ExportInput) -> Value {
    let findings: Vec<&Finding> = input.findings().collect();
    let counts = super::markdown::Counts::of(&findings);
    let results: Vec<Value> = findings.iter().map(|f| result(input, f)).collect();
    let scope = input.root.clone().unwrap_or_else(|| "store".into());
    let mut run_props = Map::new();
    run_props.insert("verdict".into(), json!(counts.verdict()));
    run_props.insert(
        "summary".into(),
        json!({
            "errors": counts.errors,
            "warnings": counts.warnings,
            "notes": counts.notes,
            "waived": counts.waived(),
        }),
    );
    run_props.insert("scope".into(), json!(scope));
    if let Some(t) = input.view.as_of {
        run_props.insert(
            "asOf".into(),
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    if let Some(p) = &input.audit.policy {
        run_props.insert("policy".into(), json!(p));
    }
    run_props.insert(
        "trust".into(),
        serde_json::to_value(input.audit.trust).unwrap_or(Value::Null),
    );
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "mlprov",
                    "fullName": "mlprov distillation-license audit",
                    "version": super::VERSION,
                    "semanticVersion": super::VERSION,
                    "informationUri": INFORMATION_URI,
                    "rules": rules(),
                }
            },
            "automationDetails": { "id": format!("mlprov/audit/{scope}/") },
            "invocations": [{
                "executionSuccessful": true,
                "endTimeUtc": input.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": run_props,
        }]
    })
}

pub fn render(input: &ExportInput) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&build(input))
        .map_err(|e| Error::usage(format!("serialising SARIF: {e}")))?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_are_percent_encoded() {
        assert_eq!(
            file_uri("/data/a b/ü#1.jsonl"),
            "file:///data/a%20b/%C3%BC%231.jsonl"
        );
        assert_eq!(file_uri("/plain/path-1_2.~x"), "file:///plain/path-1_2.~x");
    }

    #[test]
    fn rules_cover_every_code_with_a_help_uri() {
        let r = rules();
        assert_eq!(r.len(), CODES.len());
        assert_eq!(r[0]["helpUri"], "https://mlprov.dev/docs/findings#L101");
        assert_eq!(r[0]["defaultConfiguration"]["level"], "error");
    }

    #[test]
    fn fingerprints_survive_waiving_and_tell_licenses_apart() {
        use crate::audit::LicenseRef;
        let mut f = Finding {
            code: "L101",
            name: "forbidden-other-llm",
            severity: Severity::Error,
            status: Status::Active,
            message: "m".into(),
            run: Some("run:1".into()),
            target: Some("blake3:t".into()),
            target_label: None,
            target_distribution: None,
            model: Some("model:v/m@r#api".into()),
            model_label: None,
            channel: None,
            via: None,
            generated_at: None,
            license: Some(LicenseRef {
                id: "llama2".into(),
                name: "Llama 2".into(),
                version: None,
                basis: "b".into(),
            }),
            claim: None,
            clarification: None,
            disagreeing_claims: Vec::new(),
            conditions: Vec::new(),
            rows: None,
            path: Vec::new(),
            waiver: None,
            notes: Vec::new(),
        };
        let before = fingerprint(&f);
        assert_eq!(before.len(), 64);
        f.status = Status::Waived;
        f.waiver = Some("waiver:1".into());
        f.message = "reworded".into();
        assert_eq!(fingerprint(&f), before);
        f.license.as_mut().unwrap().id = "llama3".into();
        assert_ne!(fingerprint(&f), before);
    }
}
