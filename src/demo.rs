//! The bundled demo lineage (`fixtures/demo/`), embedded in the binary so `mlprov demo` works
//! anywhere. Its files are written to a fresh project folder and tagged for real (real hashing,
//! a real store); the plan in `fixtures/demo/demo.json` says what they are and how they relate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::composition::{SourceMap, SourceTarget};
use crate::error::{Error, Result};
use crate::records::{
    self, ArtifactKind, Batch, Channel, Distribution, Purpose, Role, RunInput, RunKind,
    StoredRecord, WaiverRecord,
};
use crate::run::RunSpec;
use crate::store::Store;
use crate::tag::{self, ExternalModel, LicenseSpec, TagOptions};

pub const PLAN: &str = include_str!("../fixtures/demo/demo.json");
/// The demo organisation's policy, written beside the store as `mlprov.toml`.
pub const POLICY: &str = include_str!("../fixtures/demo/mlprov.toml");

/// The demo's files, relative to the project folder.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "checkpoints/acme-chat-7b-api/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-chat-7b-api/config.json"),
    ),
    (
        "checkpoints/acme-chat-7b/README.md",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-chat-7b/README.md"),
    ),
    (
        "checkpoints/acme-chat-7b/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-chat-7b/config.json"),
    ),
    (
        "checkpoints/acme-chat-7b/model.safetensors",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-chat-7b/model.safetensors"),
    ),
    (
        "checkpoints/acme-chat-pro/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-chat-pro/config.json"),
    ),
    (
        "checkpoints/acme-math-1b/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-math-1b/config.json"),
    ),
    (
        "checkpoints/acme-mistral-chat/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-mistral-chat/config.json"),
    ),
    (
        "checkpoints/acme-mix-7b-clean/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-mix-7b-clean/config.json"),
    ),
    (
        "checkpoints/acme-mix-7b/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-mix-7b/config.json"),
    ),
    (
        "checkpoints/acme-qwen-distill/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-qwen-distill/config.json"),
    ),
    (
        "checkpoints/acme-reasoner/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-reasoner/config.json"),
    ),
    (
        "checkpoints/acme-support-8b/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-support-8b/config.json"),
    ),
    (
        "checkpoints/acme-tiny-student/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/acme-tiny-student/config.json"),
    ),
    (
        "checkpoints/llama-2-acme-7b/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/llama-2-acme-7b/config.json"),
    ),
    (
        "checkpoints/ticket-classifier/config.json",
        include_bytes!("../fixtures/demo/files/checkpoints/ticket-classifier/config.json"),
    ),
    (
        "data/chat_eval_llama2.jsonl",
        include_bytes!("../fixtures/demo/files/data/chat_eval_llama2.jsonl"),
    ),
    (
        "data/chat_pairs_llama2.jsonl",
        include_bytes!("../fixtures/demo/files/data/chat_pairs_llama2.jsonl"),
    ),
    (
        "data/distilled_dialogues.jsonl",
        include_bytes!("../fixtures/demo/files/data/distilled_dialogues.jsonl"),
    ),
    (
        "data/eval_gsm.jsonl",
        include_bytes!("../fixtures/demo/files/data/eval_gsm.jsonl"),
    ),
    (
        "data/gpt4o_chats.jsonl",
        include_bytes!("../fixtures/demo/files/data/gpt4o_chats.jsonl"),
    ),
    (
        "data/instruct_mix.jsonl",
        include_bytes!("../fixtures/demo/files/data/instruct_mix.jsonl"),
    ),
    (
        "data/instruct_mix_filtered.jsonl",
        include_bytes!("../fixtures/demo/files/data/instruct_mix_filtered.jsonl"),
    ),
    (
        "data/labelled_tickets.jsonl",
        include_bytes!("../fixtures/demo/files/data/labelled_tickets.jsonl"),
    ),
    (
        "data/mystery_distill.jsonl",
        include_bytes!("../fixtures/demo/files/data/mystery_distill.jsonl"),
    ),
    (
        "data/open_instruct.jsonl",
        include_bytes!("../fixtures/demo/files/data/open_instruct.jsonl"),
    ),
    (
        "data/r1_traces.jsonl",
        include_bytes!("../fixtures/demo/files/data/r1_traces.jsonl"),
    ),
    (
        "data/reasoning_traces_mrl.jsonl",
        include_bytes!("../fixtures/demo/files/data/reasoning_traces_mrl.jsonl"),
    ),
    (
        "data/seed_prompts.jsonl",
        include_bytes!("../fixtures/demo/files/data/seed_prompts.jsonl"),
    ),
    (
        "data/sft_mix.jsonl",
        include_bytes!("../fixtures/demo/files/data/sft_mix.jsonl"),
    ),
    (
        "data/support_dialogues.jsonl",
        include_bytes!("../fixtures/demo/files/data/support_dialogues.jsonl"),
    ),
    (
        "data/synthetic_math.jsonl",
        include_bytes!("../fixtures/demo/files/data/synthetic_math.jsonl"),
    ),
    (
        "data/synthetic_math_api.jsonl",
        include_bytes!("../fixtures/demo/files/data/synthetic_math_api.jsonl"),
    ),
    (
        "models/llama-3.1-70b-instruct/LICENSE",
        include_bytes!("../fixtures/demo/files/models/llama-3.1-70b-instruct/LICENSE"),
    ),
    (
        "models/llama-3.1-70b-instruct/README.md",
        include_bytes!("../fixtures/demo/files/models/llama-3.1-70b-instruct/README.md"),
    ),
    (
        "models/llama-3.1-70b-instruct/config.json",
        include_bytes!("../fixtures/demo/files/models/llama-3.1-70b-instruct/config.json"),
    ),
    (
        "models/qwen2.5-7b-instruct/README.md",
        include_bytes!("../fixtures/demo/files/models/qwen2.5-7b-instruct/README.md"),
    ),
    (
        "models/qwen2.5-7b-instruct/config.json",
        include_bytes!("../fixtures/demo/files/models/qwen2.5-7b-instruct/config.json"),
    ),
    (
        "reports/acme-chat-7b-eval.json",
        include_bytes!("../fixtures/demo/files/reports/acme-chat-7b-eval.json"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub description: String,
    pub artifacts: Vec<PlanArtifact>,
    pub runs: Vec<PlanRun>,
    pub releases: Vec<PlanRelease>,
    #[serde(default)]
    pub waivers: Vec<PlanWaiver>,
    pub released_checkpoint: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanWaiver {
    pub code: String,
    pub model: Option<String>,
    pub license: Option<String>,
    pub target: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanArtifact {
    pub key: String,
    pub path: Option<String>,
    pub kind: Option<ArtifactKind>,
    pub model: Option<String>,
    pub channel: Option<Channel>,
    pub name: Option<String>,
    #[serde(default)]
    pub licenses: Vec<String>,
    pub purpose: Option<Purpose>,
    /// For a dataset: the column naming each row's source (its composition is recorded).
    pub source_column: Option<String>,
    /// Source value → an earlier artifact's key, or "original".
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub role: Role,
    pub artifact: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRun {
    pub run_id: String,
    pub kind: RunKind,
    pub name: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub inputs: Vec<PlanInput>,
    pub outputs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRelease {
    pub artifact: String,
    pub distribution: Distribution,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

pub struct Built {
    pub project: PathBuf,
    pub store: Store,
    pub plan: Plan,
    /// Artifact id of each plan key.
    pub ids: HashMap<String, String>,
    pub released_checkpoint: String,
}

pub fn plan() -> Result<Plan> {
    serde_json::from_str(PLAN)
        .map_err(|e| Error::bad_record("fixtures/demo/demo.json", "plan", e.to_string()))
}

fn key_id<'a>(ids: &'a HashMap<String, String>, key: &str) -> Result<&'a String> {
    ids.get(key).ok_or_else(|| {
        Error::bad_record(
            "fixtures/demo/demo.json",
            key,
            "names an artifact key the plan does not define",
        )
    })
}

/// Write the demo files into `project` (which must be new or empty) and record the lineage.
pub fn build(project: &Path) -> Result<Built> {
    if project.exists() {
        let mut entries =
            std::fs::read_dir(project).map_err(|e| Error::io(project, "listing", e))?;
        if entries.next().is_some() {
            return Err(Error::usage(format!(
                "{}: not empty; give the demo a new folder with --dir",
                project.display()
            )));
        }
    }
    for (rel, bytes) in FILES {
        let path = project.join(rel);
        let parent = path.parent().expect("demo files sit in folders");
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(parent, "creating demo folder", e))?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, "writing demo file", e))?;
    }
    let store = Store::init(project)?;
    let policy_path = project.join(crate::policy::POLICY_FILE);
    std::fs::write(&policy_path, POLICY)
        .map_err(|e| Error::io(&policy_path, "writing demo policy", e))?;
    let plan = plan()?;
    let mut ids = HashMap::new();
    for a in &plan.artifacts {
        let licenses: Vec<LicenseSpec> = a
            .licenses
            .iter()
            .map(|l| l.parse())
            .collect::<Result<_>>()?;
        let external = match &a.model {
            Some(m) => Some(ExternalModel::parse(
                m,
                a.channel.unwrap_or(Channel::Weights),
            )?),
            None => None,
        };
        let tagged = match (&a.path, &external) {
            (Some(path), _) => {
                let mut opts = TagOptions::new(a.kind.unwrap_or(ArtifactKind::Other));
                opts.name = a.name.clone();
                opts.licenses = licenses;
                opts.external = external.clone();
                opts.purpose = a.purpose;
                match &a.source_column {
                    Some(column) => {
                        let mut map = SourceMap::default();
                        for (value, key) in &a.sources {
                            let target = if key == "original" {
                                SourceTarget::Original
                            } else {
                                SourceTarget::Artifact(key_id(&ids, key)?.clone())
                            };
                            map.entries.insert(value.clone(), target);
                        }
                        crate::composition::tag_composed(
                            &store,
                            &project.join(path),
                            &opts,
                            column,
                            &map,
                        )?
                    }
                    None => tag::tag_path(&store, &project.join(path), &opts)?,
                }
            }
            (None, Some(ext)) => tag::tag_model(&store, ext, a.name.clone(), &licenses)?,
            (None, None) => {
                return Err(Error::bad_record(
                    "fixtures/demo/demo.json",
                    &a.key,
                    "an artifact needs a path or a model",
                ))
            }
        };
        ids.insert(a.key.clone(), tagged.artifact_id);
    }
    for r in &plan.runs {
        let mut spec = RunSpec::new(r.kind);
        spec.run_id = Some(r.run_id.clone());
        spec.name = r.name.clone();
        spec.started_at = r.started_at;
        spec.ended_at = r.ended_at;
        for i in &r.inputs {
            spec.inputs.push(RunInput {
                artifact_id: key_id(&ids, &i.artifact)?.clone(),
                role: i.role,
            });
        }
        for o in &r.outputs {
            spec.outputs.push(key_id(&ids, o)?.clone());
        }
        crate::run::record(&store, spec, Batch::default())?;
    }
    for rel in &plan.releases {
        crate::release::release(
            &store,
            key_id(&ids, &rel.artifact)?,
            rel.distribution,
            Some(rel.at),
            rel.note.clone(),
        )?;
    }
    let mut waivers = Batch::default();
    for w in &plan.waivers {
        let mut rec = WaiverRecord {
            record_id: String::new(),
            waiver_id: records::id::new_waiver(),
            code: w.code.clone(),
            model: w
                .model
                .as_deref()
                .map(|k| key_id(&ids, k).cloned())
                .transpose()?,
            license: w.license.clone(),
            target: w
                .target
                .as_deref()
                .map(|k| key_id(&ids, k).cloned())
                .transpose()?,
            reason: w.reason.clone(),
            approved_by: w.approved_by.clone(),
            expires_at: w.expires_at,
            revoked: false,
            recorded_at: records::now(),
            recorded_by: records::current_actor(),
        };
        rec.seal();
        waivers.waivers.push(rec);
    }
    store.append(waivers)?;
    let released_checkpoint = key_id(&ids, &plan.released_checkpoint)?.clone();
    Ok(Built {
        project: project.to_path_buf(),
        store,
        plan,
        ids,
        released_checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/files");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    on_disk.push(p.strip_prefix(&root).unwrap().to_str().unwrap().to_string());
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            on_disk, embedded,
            "list every file under fixtures/demo/files in demo::FILES"
        );
    }

    #[test]
    fn demo_builds_the_documented_lineage() {
        let dir = tempfile::tempdir().unwrap();
        let built = build(&dir.path().join("demo")).unwrap();
        let view = crate::view::View::build(&built.store.load().unwrap(), None);
        // Every planned artifact and run is there; model cards in the demo's model folders
        // add the base models they declare, and the runs that derived them.
        assert!(built.ids.values().all(|id| view.artifacts.contains_key(id)));
        assert!(built
            .plan
            .runs
            .iter()
            .all(|r| view.runs.contains_key(&r.run_id)));
        assert!(view.runs.values().any(|r| r
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("declared by model card"))));
        let ckpt = &view.artifacts[&built.released_checkpoint];
        assert_eq!(
            ckpt.current_distribution(None),
            Distribution::ExternalWeights
        );
        assert!(view.dangling.is_empty());
        assert_eq!(view.waivers.len(), built.plan.waivers.len());
        // Building again into the same folder is refused rather than mixed in.
        assert!(build(&dir.path().join("demo")).is_err());
    }
}
