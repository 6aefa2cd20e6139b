//! W3C PROV-JSON (W3C Member Submission 2013-04-24).
//!
//! | mlprov | PROV |
//! |---|---|
//! | artifact | `entity` `mlprov:artifact/<prefix>_<rest>`, `prov:type` `mlprov:Dataset`, `mlprov:SyntheticDataset`, `mlprov:Checkpoint`, `mlprov:ExternalModel` or `mlprov:Other`; `mlprov:id` (the original id), `mlprov:blake3` (hex), names, locations, size, vendor/model/revision/channel, license claims |
//! | run | `activity` `mlprov:run/<uuid>` with `prov:startTime`/`prov:endTime`, `prov:type` `mlprov:FineTune`..., `mlprov:status` |
//! | input with a role | `used` with `prov:role` (`mlprov:training_data`, ...) |
//! | output | `wasGeneratedBy`; and `wasDerivedFrom` from every input of the run (with `prov:activity` and `mlprov:role`) |
//! | external model's vendor | `agent` `mlprov:vendor/<vendor>` (`prov:Organization`) and `wasAttributedTo` |
//!
//! Identifiers are qualified names in the `mlprov:` namespace whose local part is the id's
//! prefix and its percent-encoded rest (only `A-Z a-z 0-9 - . _ ~` stay as they are), so every
//! id is a valid PROV-N local name; the original id is kept in `mlprov:id`. Relations get
//! blank ids (`_:u1`, `_:g1`, `_:d1`, `_:a1`). Models stay entities (their outputs and weights
//! are what flows); only vendors are agents.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::ExportInput;
use crate::error::Result;
use crate::records::{id, ArtifactKind, Role, RunKind};
use crate::view::Artifact;

pub const NAMESPACE_URI: &str = "https://mlprov.dev/ns/";

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The PROV qualified name of an artifact or run id.
pub fn qname(original: &str) -> String {
    if let Some(uuid) = original.strip_prefix(id::RUN) {
        return format!("mlprov:run/{}", encode(uuid));
    }
    match original.split_once(':') {
        Some((prefix, rest)) => format!("mlprov:artifact/{}_{}", encode(prefix), encode(rest)),
        None => format!("mlprov:artifact/{}", encode(original)),
    }
}

fn qualified(name: &str) -> Value {
    json!({ "$": name, "type": "prov:QUALIFIED_NAME" })
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn kind_type(kind: ArtifactKind) -> Value {
    qualified(&format!("mlprov:{}", camel(kind.as_str())))
}

fn run_type(kind: RunKind) -> Value {
    qualified(&format!("mlprov:{}", camel(kind.as_str())))
}

fn role_value(role: Role) -> Value {
    qualified(&format!("mlprov:{}", role.as_str()))
}

fn time(t: chrono::DateTime<chrono::Utc>) -> Value {
    Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// One value, or a list of values when there are several (PROV-JSON's multi-valued attributes).
fn values(v: Vec<Value>) -> Option<Value> {
    match v.len() {
        0 => None,
        1 => v.into_iter().next(),
        _ => Some(Value::Array(v)),
    }
}

fn entity(a: &Artifact, input: &ExportInput) -> Value {
    let mut m = Map::new();
    m.insert("prov:type".into(), kind_type(a.kind));
    m.insert("prov:label".into(), a.label().into());
    m.insert("mlprov:id".into(), a.id.clone().into());
    if let Some(hex) = id::digest_hex(&a.id) {
        m.insert("mlprov:blake3".into(), hex.into());
        let scheme = if a.id.starts_with(id::TREE) {
            "mlprov-tree-v1"
        } else {
            "file"
        };
        m.insert("mlprov:digestScheme".into(), scheme.into());
    }
    let strings =
        |set: &BTreeSet<String>| values(set.iter().map(|s| Value::from(s.clone())).collect());
    if let Some(v) = strings(&a.names) {
        m.insert("mlprov:name".into(), v);
    }
    if let Some(v) = strings(&a.locations) {
        m.insert("mlprov:location".into(), v);
    }
    if let Some(s) = a.size_bytes {
        m.insert("mlprov:sizeBytes".into(), s.into());
    }
    if let Some(n) = a.file_count {
        m.insert("mlprov:fileCount".into(), n.into());
    }
    for (key, v) in [
        ("mlprov:vendor", &a.vendor),
        ("mlprov:model", &a.model),
        ("mlprov:revision", &a.revision),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), v.clone().into());
        }
    }
    if let Some(c) = a.channel {
        m.insert("mlprov:channel".into(), c.as_str().into());
    }
    if let Some(p) = a.purpose {
        m.insert("mlprov:purpose".into(), p.as_str().into());
    }
    let licenses: BTreeSet<String> = a
        .license_claims
        .iter()
        .map(|c| match &c.license_version {
            Some(v) => format!("{}@{v}", c.license_id),
            None => c.license_id.clone(),
        })
        .collect();
    if let Some(v) = strings(&licenses) {
        m.insert("mlprov:license".into(), v);
    }
    let claims: Vec<Value> = a
        .license_claims
        .iter()
        .map(|c| {
            let license = match &c.license_version {
                Some(v) => format!("{}@{v}", c.license_id),
                None => c.license_id.clone(),
            };
            let mut s = format!("{license} source={} confidence={}", c.source, c.confidence);
            if let Some(d) = &c.evidence_digest {
                s.push_str(&format!(" evidence=blake3:{d}"));
            }
            Value::from(s)
        })
        .collect();
    if let Some(v) = values(claims) {
        m.insert("mlprov:licenseClaim".into(), v);
    }
    if !a.releases.is_empty() {
        m.insert(
            "mlprov:distribution".into(),
            a.distribution_at(input.generated_at).as_str().into(),
        );
    }
    Value::Object(m)
}

/// The PROV-JSON document of `input`'s scope: the runs in scope, every artifact in scope or
/// touched by one of those runs.
pub fn render(input: &ExportInput) -> Result<String> {
    let view = input.view;
    let mut prefix = Map::new();
    prefix.insert("mlprov".into(), NAMESPACE_URI.into());
    prefix.insert("prov".into(), "http://www.w3.org/ns/prov#".into());
    prefix.insert("xsd".into(), "http://www.w3.org/2001/XMLSchema#".into());

    let runs: Vec<_> = input.runs().collect();
    let mut artifact_ids: BTreeSet<&str> = input.artifacts().map(|a| a.id.as_str()).collect();
    for r in &runs {
        artifact_ids.extend(r.inputs.iter().map(|i| i.artifact_id.as_str()));
        artifact_ids.extend(r.outputs.iter().map(String::as_str));
    }

    let mut entities = Map::new();
    let mut agents = Map::new();
    let mut attributed = Map::new();
    for aid in &artifact_ids {
        let q = qname(aid);
        match view.artifacts.get(*aid) {
            Some(a) => {
                entities.insert(q.clone(), entity(a, input));
                if let (Some(vendor), ArtifactKind::ExternalModel) = (&a.vendor, a.kind) {
                    let agent = format!("mlprov:vendor/{}", encode(vendor));
                    agents.entry(agent.clone()).or_insert_with(|| {
                        json!({ "prov:type": qualified("prov:Organization"), "prov:label": vendor, "mlprov:vendor": vendor })
                    });
                    attributed.insert(
                        format!("_:a{}", attributed.len() + 1),
                        json!({ "prov:entity": q, "prov:agent": agent }),
                    );
                }
            }
            None => {
                // Referenced by a run but described by no record.
                entities.insert(q, json!({ "mlprov:id": aid, "mlprov:recorded": false }));
            }
        }
    }

    let mut activities = Map::new();
    let mut used = Map::new();
    let mut generated = Map::new();
    let mut derived = Map::new();
    for r in &runs {
        let rq = qname(&r.id);
        let mut a = Map::new();
        if let Some(t) = r.started_at {
            a.insert("prov:startTime".into(), time(t));
        }
        if let Some(t) = r.ended_at {
            a.insert("prov:endTime".into(), time(t));
        }
        a.insert("prov:type".into(), run_type(r.kind));
        a.insert("prov:label".into(), r.label().into());
        a.insert("mlprov:id".into(), r.id.clone().into());
        a.insert("mlprov:kind".into(), r.kind.as_str().into());
        a.insert("mlprov:status".into(), r.status.as_str().into());
        if let Some(n) = &r.name {
            a.insert("mlprov:name".into(), n.clone().into());
        }
        activities.insert(rq.clone(), Value::Object(a));

        for i in &r.inputs {
            let mut u = Map::new();
            u.insert("prov:activity".into(), rq.clone().into());
            u.insert("prov:entity".into(), qname(&i.artifact_id).into());
            u.insert("prov:role".into(), role_value(i.role));
            if let Some(t) = r.started_at {
                u.insert("prov:time".into(), time(t));
            }
            used.insert(format!("_:u{}", used.len() + 1), Value::Object(u));
        }
        let mut outputs: Vec<&String> = r.outputs.iter().collect();
        outputs.dedup();
        for o in outputs {
            let oq = qname(o);
            let mut g = Map::new();
            g.insert("prov:entity".into(), oq.clone().into());
            g.insert("prov:activity".into(), rq.clone().into());
            if let Some(t) = r.ended_at {
                g.insert("prov:time".into(), time(t));
            }
            generated.insert(format!("_:g{}", generated.len() + 1), Value::Object(g));
            for i in &r.inputs {
                if &i.artifact_id == o {
                    continue;
                }
                let mut d = Map::new();
                d.insert("prov:generatedEntity".into(), oq.clone().into());
                d.insert("prov:usedEntity".into(), qname(&i.artifact_id).into());
                d.insert("prov:activity".into(), rq.clone().into());
                d.insert("mlprov:role".into(), role_value(i.role));
                if i.role == Role::BaseWeights {
                    d.insert("prov:type".into(), qualified("prov:Revision"));
                }
                derived.insert(format!("_:d{}", derived.len() + 1), Value::Object(d));
            }
        }
    }

    let mut doc = Map::new();
    doc.insert("prefix".into(), Value::Object(prefix));
    doc.insert("entity".into(), Value::Object(entities));
    for (key, m) in [
        ("activity", activities),
        ("agent", agents),
        ("used", used),
        ("wasGeneratedBy", generated),
        ("wasDerivedFrom", derived),
        ("wasAttributedTo", attributed),
    ] {
        if !m.is_empty() {
            doc.insert(key.into(), Value::Object(m));
        }
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).expect("PROV-JSON serialises");
    text.push('\n');
    Ok(text)
}

/// The entities and activities `render` writes for `input` (for checks and counts).
pub fn counts(input: &ExportInput) -> (usize, usize) {
    let runs: Vec<_> = input.runs().collect();
    let mut ids: BTreeSet<&str> = input.artifacts().map(|a| a.id.as_str()).collect();
    for r in &runs {
        ids.extend(r.inputs.iter().map(|i| i.artifact_id.as_str()));
        ids.extend(r.outputs.iter().map(String::as_str));
    }
    (ids.len(), runs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_qualified_names() {
        assert_eq!(
            qname(&format!("blake3:{}", "a".repeat(64))),
            format!("mlprov:artifact/blake3_{}", "a".repeat(64))
        );
        assert_eq!(
            qname("model:deepseek-ai/DeepSeek-V3@2024-12-26#weights"),
            "mlprov:artifact/model_deepseek-ai%2FDeepSeek-V3%402024-12-26%23weights"
        );
        assert_eq!(
            qname("run:01936a10-0000-7000-8000-000000000003"),
            "mlprov:run/01936a10-0000-7000-8000-000000000003"
        );
        assert_eq!(camel("fine_tune"), "FineTune");
    }
}
