//! Tagging: identify content, describe it as an artifact record (with license claims), and
//! append it to the store. Re-tagging unchanged content costs a `stat` and writes a record
//! with the same id as before, which readers fold into the existing one.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub mod model_dir;

use crate::content::{self, ContentId, HashOptions};
use crate::error::{Error, Result};
use crate::records::{
    self, id, ArtifactKind, ArtifactRecord, Batch, Channel, ClaimSource, Confidence,
    LicenseClaimRecord, Role, RunInput, RunKind, RunRecord, RunStatus,
};
use crate::store::{AppendReceipt, Store};

/// A model known by vendor, name and revision, reached through `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalModel {
    pub vendor: String,
    pub model: String,
    pub revision: Option<String>,
    pub channel: Channel,
}

impl ExternalModel {
    /// Parse `vendor/model[@revision]`.
    pub fn parse(spec: &str, channel: Channel) -> Result<Self> {
        let (name, revision) = match spec.split_once('@') {
            Some((n, r)) if !r.is_empty() => (n, Some(r.to_string())),
            Some(_) => return Err(Error::usage(format!("'{spec}': empty revision after '@'"))),
            None => (spec, None),
        };
        let (vendor, model) = name
            .split_once('/')
            .filter(|(v, m)| !v.is_empty() && !m.is_empty())
            .ok_or_else(|| Error::usage(format!("'{spec}': expected vendor/model[@revision], e.g. deepseek-ai/DeepSeek-V3@2024-12-26")))?;
        if spec.chars().any(char::is_whitespace) || spec.contains('#') {
            return Err(Error::usage(format!(
                "'{spec}': model names may not contain spaces or '#'"
            )));
        }
        Ok(ExternalModel {
            vendor: vendor.into(),
            model: model.into(),
            revision,
            channel,
        })
    }

    pub fn artifact_id(&self) -> String {
        id::external_model(
            &self.vendor,
            &self.model,
            self.revision.as_deref(),
            self.channel,
        )
    }
}

/// `license-id[@version]`, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSpec {
    pub id: String,
    pub version: Option<String>,
}

impl std::str::FromStr for LicenseSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (id, version) = match s.rsplit_once('@') {
            Some((i, v)) => (i, Some(v.to_string())),
            None => (s, None),
        };
        if id.is_empty() || id.chars().any(char::is_whitespace) || version.as_deref() == Some("") {
            return Err(Error::usage(format!(
                "'{s}': expected a license id such as llama3.1 or deepseek@1.0"
            )));
        }
        Ok(LicenseSpec {
            id: id.to_ascii_lowercase(),
            version,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TagOptions {
    pub kind: ArtifactKind,
    pub name: Option<String>,
    pub licenses: Vec<LicenseSpec>,
    /// For downloaded weights: which model these bytes are.
    pub external: Option<ExternalModel>,
    /// For checkpoints: what the model is for.
    pub purpose: Option<records::Purpose>,
    /// Show a progress bar on a terminal for long hashing.
    pub progress: bool,
}

impl TagOptions {
    pub fn new(kind: ArtifactKind) -> Self {
        TagOptions {
            kind,
            name: None,
            licenses: Vec::new(),
            external: None,
            purpose: None,
            progress: false,
        }
    }
}

/// What a tag wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Tagged {
    pub artifact_id: String,
    pub kind: ArtifactKind,
    pub size_bytes: Option<u64>,
    pub file_count: Option<u64>,
    /// Bytes read to identify the content (0 when the stat cache knew it).
    pub bytes_hashed: u64,
    pub records: Vec<records::Record>,
    pub segments: Vec<String>,
}

/// Identify a path's content through the store's stat cache.
pub fn identify(store: &Store, path: &Path, progress: bool) -> Result<ContentId> {
    content::identify(
        path,
        &HashOptions {
            cache: Some(store.stat_cache()),
            progress,
        },
    )
}

/// Absolute, UTF-8 form of a path for the `location` field.
pub fn location_of(path: &Path) -> Result<String> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, "resolving path", e))?;
    Ok(content::utf8(&abs)?.to_string())
}

fn artifact_record(
    artifact_id: String,
    kind: ArtifactKind,
    name: Option<String>,
) -> ArtifactRecord {
    ArtifactRecord {
        name,
        ..ArtifactRecord::new(artifact_id, kind)
    }
}

/// The artifact record for content found at `path` (nothing written).
pub fn describe_path(
    store: &Store,
    path: &Path,
    opts: &TagOptions,
) -> Result<(ArtifactRecord, ContentId)> {
    let found = identify(store, path, opts.progress)?;
    let mut rec = artifact_record(found.artifact_id.clone(), opts.kind, opts.name.clone());
    rec.size_bytes = Some(found.size_bytes);
    rec.file_count = found.is_dir.then_some(found.file_count);
    rec.location = Some(location_of(path)?);
    rec.purpose = opts.purpose;
    if let Some(ext) = &opts.external {
        rec.vendor = Some(ext.vendor.clone());
        rec.model = Some(ext.model.clone());
        rec.revision = ext.revision.clone();
        rec.channel = Some(ext.channel);
    }
    Ok((rec, found))
}

/// The artifact record of a model with no bytes at hand (an API endpoint, or weights elsewhere).
pub fn describe_model(ext: &ExternalModel, name: Option<String>) -> ArtifactRecord {
    let mut rec = artifact_record(ext.artifact_id(), ArtifactKind::ExternalModel, name);
    rec.vendor = Some(ext.vendor.clone());
    rec.model = Some(ext.model.clone());
    rec.revision = ext.revision.clone();
    rec.channel = Some(ext.channel);
    rec
}

/// License claims a user asserted on the command line.
pub fn user_claims(artifact_id: &str, licenses: &[LicenseSpec]) -> Vec<LicenseClaimRecord> {
    licenses
        .iter()
        .map(|l| LicenseClaimRecord {
            record_id: String::new(),
            artifact_id: artifact_id.to_string(),
            license_id: l.id.clone(),
            license_version: l.version.clone(),
            source: ClaimSource::User,
            confidence: Confidence::Unverified,
            evidence_digest: None,
            evidence_path: None,
            note: None,
            recorded_at: records::now(),
            recorded_by: records::current_actor(),
        })
        .collect()
}

pub(crate) fn write(
    store: &Store,
    batch: Batch,
    artifact: &ArtifactRecord,
    bytes_hashed: u64,
) -> Result<Tagged> {
    let mut sealed = batch;
    sealed.seal();
    let receipt: AppendReceipt = store.append(sealed.clone())?;
    Ok(Tagged {
        artifact_id: artifact.artifact_id.clone(),
        kind: artifact.kind,
        size_bytes: artifact.size_bytes,
        file_count: artifact.file_count,
        bytes_hashed,
        records: sealed.into_records().collect(),
        segments: receipt.segments,
    })
}

/// Tag a file or directory. A model or checkpoint folder's LICENSE file and model card are
/// read too: recognised licenses become claims, a declared base model becomes lineage.
pub fn tag_path(store: &Store, path: &Path, opts: &TagOptions) -> Result<Tagged> {
    let (rec, found) = describe_path(store, path, opts)?;
    let mut batch = Batch::default();
    if found.is_dir
        && matches!(
            opts.kind,
            ArtifactKind::ExternalModel | ArtifactKind::Checkpoint
        )
        && model_dir::has_metadata(path)
    {
        let catalog = crate::catalog::Catalog::builtin()?;
        batch.extend(model_dir::read(path, &rec.artifact_id, &catalog)?);
    }
    batch
        .license_claims
        .extend(user_claims(&rec.artifact_id, &opts.licenses));
    batch.artifacts.push(rec.clone());
    write(store, batch, &rec, found.bytes_hashed)
}

/// Tag a model known only by name (e.g. an API endpoint).
pub fn tag_model(
    store: &Store,
    ext: &ExternalModel,
    name: Option<String>,
    licenses: &[LicenseSpec],
) -> Result<Tagged> {
    let rec = describe_model(ext, name);
    let batch = Batch {
        license_claims: user_claims(&rec.artifact_id, licenses),
        artifacts: vec![rec.clone()],
        ..Default::default()
    };
    write(store, batch, &rec, 0)
}

/// How a synthetic dataset came to be.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Artifact id of the generating model.
    pub generator: String,
    /// Extra records needed for the generator (a model tagged on the fly).
    pub generator_records: Batch,
    /// Artifact ids of the prompts/seed data it was generated from.
    pub sources: Vec<String>,
    pub generated_at: Option<DateTime<Utc>>,
}

/// Tag synthetic data together with the `generate` run that made it, in one write.
pub fn tag_synthetic(
    store: &Store,
    path: &Path,
    opts: &TagOptions,
    generation: Generation,
) -> Result<Tagged> {
    let mut opts = opts.clone();
    opts.kind = ArtifactKind::SyntheticDataset;
    let (rec, found) = describe_path(store, path, &opts)?;
    let mut inputs = vec![RunInput {
        artifact_id: generation.generator.clone(),
        role: Role::Generator,
    }];
    inputs.extend(generation.sources.iter().map(|s| RunInput {
        artifact_id: s.clone(),
        role: Role::Source,
    }));
    let run = RunRecord {
        record_id: String::new(),
        run_id: id::new_run(),
        kind: RunKind::Generate,
        name: opts.name.as_ref().map(|n| format!("generate {n}")),
        status: RunStatus::Succeeded,
        started_at: generation.generated_at,
        ended_at: generation.generated_at,
        inputs,
        outputs: vec![rec.artifact_id.clone()],
        recorded_at: records::now(),
        recorded_by: records::current_actor(),
    };
    let mut batch = generation.generator_records;
    batch.artifacts.push(rec.clone());
    batch
        .license_claims
        .extend(user_claims(&rec.artifact_id, &opts.licenses));
    batch.runs.push(run);
    write(store, batch, &rec, found.bytes_hashed)
}

/// Paths given as run inputs/outputs that are not tagged yet get tagged on the fly with the
/// kind their role implies; this collects those records.
pub fn resolve_or_describe(
    store: &Store,
    view: &crate::view::View,
    reference: &str,
    implied: ArtifactKind,
    pending: &mut Batch,
) -> Result<String> {
    let path = PathBuf::from(reference);
    if std::fs::symlink_metadata(&path).is_ok() {
        let (rec, _) = describe_path(store, &path, &TagOptions::new(implied))?;
        let id = rec.artifact_id.clone();
        if !view.artifacts.contains_key(&id)
            && !pending.artifacts.iter().any(|a| a.artifact_id == id)
        {
            pending.artifacts.push(rec);
        }
        return Ok(id);
    }
    crate::reference::resolve_artifact(store, view, reference)
}

/// The generator of synthetic data: a recorded artifact (id, name, path), or a
/// `vendor/model[@rev]` not recorded yet, whose external model record (reached through
/// `channel`) is added to `pending`.
pub fn resolve_generator(
    store: &Store,
    view: &crate::view::View,
    reference: &str,
    channel: Option<Channel>,
    pending: &mut Batch,
) -> Result<String> {
    match crate::reference::resolve_artifact(store, view, reference) {
        Ok(id) => {
            if let (Some(ch), Some(a)) = (channel, view.artifacts.get(&id)) {
                if a.channel.is_some_and(|c| c != ch) {
                    return Err(Error::usage(format!(
                        "generator {reference} was recorded with channel {}, not {ch}; tag the {ch} variant as its own model",
                        a.channel.map(|c| c.as_str()).unwrap_or("?")
                    )));
                }
            }
            Ok(id)
        }
        Err(Error::UnknownReference { .. })
            if reference.contains('/') && !Path::new(reference).exists() =>
        {
            let channel = channel.ok_or_else(|| {
                Error::usage(format!("generator '{reference}' is not recorded yet: add --channel api or --channel weights"))
            })?;
            let ext = ExternalModel::parse(reference, channel)?;
            let id = ext.artifact_id();
            if !view.artifacts.contains_key(&id) {
                pending
                    .artifacts
                    .push(describe_model(&ext, Some(reference.to_string())));
            }
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_and_license_specs() {
        let m =
            ExternalModel::parse("deepseek-ai/DeepSeek-V3@2024-12-26", Channel::Weights).unwrap();
        assert_eq!(
            m.artifact_id(),
            "model:deepseek-ai/DeepSeek-V3@2024-12-26#weights"
        );
        assert!(ExternalModel::parse("gpt-4o", Channel::Api).is_err());
        assert!(ExternalModel::parse("openai/gpt 4o", Channel::Api).is_err());
        let l: LicenseSpec = "DeepSeek@1.0".parse().unwrap();
        assert_eq!(
            (l.id.as_str(), l.version.as_deref()),
            ("deepseek", Some("1.0"))
        );
        assert!("".parse::<LicenseSpec>().is_err());
    }

    #[test]
    fn retag_is_idempotent_and_two_names_make_one_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        let file = dir.path().join("data.jsonl");
        std::fs::write(&file, b"{\"x\":1}\n").unwrap();
        let copy = dir.path().join("copy.jsonl");
        std::fs::write(&copy, b"{\"x\":1}\n").unwrap();
        let mut opts = TagOptions::new(ArtifactKind::Dataset);
        opts.name = Some("train".into());
        let a = tag_path(&store, &file, &opts).unwrap();
        let b = tag_path(&store, &file, &opts).unwrap();
        let ids = |t: &Tagged| {
            t.records
                .iter()
                .map(|r| serde_json::to_value(r).unwrap()["record_id"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b), "same fact, same record id");
        opts.name = Some("copy".into());
        let c = tag_path(&store, &copy, &opts).unwrap();
        assert_eq!(a.artifact_id, c.artifact_id);
        let view = crate::view::View::build(&store.load().unwrap(), None);
        assert_eq!(view.artifacts.len(), 1);
        let art = &view.artifacts[&a.artifact_id];
        assert_eq!(art.names.len(), 2);
        assert_eq!(art.locations.len(), 2);
        assert_eq!(
            store.load().unwrap().artifacts.len(),
            2,
            "re-tag folded into one record"
        );
    }
}
