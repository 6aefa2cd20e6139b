//! What a downloaded model folder says about itself: the license in a LICENSE file (recognised
//! by its normalised text, the file's digest kept as evidence) and in the model card's front
//! matter, and the lineage the card declares (`base_model`, `base_model_relation`,
//! `datasets`), turned into records.

use std::path::Path;

use crate::catalog::model_card::{parse_model_card, BaseModelRelation};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::records::{
    self, id, ArtifactKind, ArtifactRecord, Batch, Channel, ClaimSource, Confidence,
    LicenseClaimRecord, Role, RunInput, RunKind, RunRecord, RunStatus,
};

/// File names a license text ships under, in the order they are tried.
const LICENSE_FILES: &[&str] = &[
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "LICENSE-MODEL",
    "LICENCE",
    "license.txt",
];

/// The file a claim was read from.
struct Evidence<'a> {
    path: &'a Path,
    bytes: &'a [u8],
}

fn claim(
    artifact_id: &str,
    license_id: &str,
    version: Option<String>,
    (source, confidence): (ClaimSource, Confidence),
    evidence: Evidence<'_>,
    note: Option<String>,
) -> Result<LicenseClaimRecord> {
    Ok(LicenseClaimRecord {
        record_id: String::new(),
        artifact_id: artifact_id.to_string(),
        license_id: license_id.to_string(),
        license_version: version,
        source,
        confidence,
        evidence_digest: Some(blake3::hash(evidence.bytes).to_hex().to_string()),
        evidence_path: Some(super::location_of(evidence.path)?),
        note,
        recorded_at: records::now(),
        recorded_by: records::current_actor(),
    })
}

/// Whether a folder has anything this module reads (so plain data folders skip the catalog).
pub fn has_metadata(dir: &Path) -> bool {
    dir.join("README.md").is_file() || LICENSE_FILES.iter().any(|f| dir.join(f).is_file())
}

/// Records describing what `dir` (identified as `artifact_id`) declares about itself.
pub fn read(dir: &Path, artifact_id: &str, catalog: &Catalog) -> Result<Batch> {
    let mut batch = Batch::default();
    for name in LICENSE_FILES {
        let path = dir.join(name);
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "reading", e))?;
        let text = String::from_utf8_lossy(&bytes);
        match catalog.recognise(&text) {
            Some(entry) => batch.license_claims.push(claim(
                artifact_id,
                &entry.id,
                entry.version.clone(),
                (ClaimSource::LicenseFile, Confidence::Primary),
                Evidence { path: &path, bytes: &bytes },
                Some(format!("text matches the catalog's copy of {}", entry.name)),
            )?),
            None => batch.license_claims.push(claim(
                artifact_id,
                "unrecognised",
                None,
                (ClaimSource::LicenseFile, Confidence::Unverified),
                Evidence { path: &path, bytes: &bytes },
                Some("a LICENSE file whose text matches no catalog entry; review it and record the license with --license".into()),
            )?),
        }
        break;
    }

    let readme = dir.join("README.md");
    if !readme.is_file() {
        return Ok(batch);
    }
    let bytes = std::fs::read(&readme).map_err(|e| Error::io(&readme, "reading", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let card = parse_model_card(&text, &readme.display().to_string())?;
    if let Some(license) = &card.license {
        let (license_id, note) = match catalog.resolve_hf(license, card.license_name.as_deref()) {
            Some(entry) => (entry.id.clone(), None),
            None => (
                card.license_name.clone().unwrap_or_else(|| license.clone()),
                Some(format!(
                    "model card says license: {license}; not in the catalog"
                )),
            ),
        };
        if !batch
            .license_claims
            .iter()
            .any(|c| c.license_id == license_id)
        {
            batch.license_claims.push(claim(
                artifact_id,
                &license_id,
                None,
                (ClaimSource::ModelCard, Confidence::Secondary),
                Evidence {
                    path: &readme,
                    bytes: &bytes,
                },
                note,
            )?);
        }
    }
    if card.base_models.is_empty() && card.datasets.is_empty() {
        return Ok(batch);
    }
    let kind = match card.base_model_relation {
        Some(BaseModelRelation::Merge) => RunKind::Merge,
        Some(BaseModelRelation::Quantized) => RunKind::Quantize,
        Some(BaseModelRelation::Adapter | BaseModelRelation::Finetune) | None => RunKind::FineTune,
    };
    let mut inputs = Vec::new();
    for base in &card.base_models {
        let ext = super::ExternalModel::parse(base, Channel::Weights).map_err(|_| {
            Error::bad_record(
                readme.display().to_string(),
                "base_model",
                format!("'{base}' is not an org/model id"),
            )
        })?;
        let rec = super::describe_model(&ext, Some(base.clone()));
        inputs.push(RunInput {
            artifact_id: rec.artifact_id.clone(),
            role: Role::BaseWeights,
        });
        batch.artifacts.push(rec);
    }
    for dataset in &card.datasets {
        let dataset_id = id::named_dataset(dataset, None);
        if !id::is_valid(&dataset_id) {
            return Err(Error::bad_record(
                readme.display().to_string(),
                "datasets",
                format!("'{dataset}' is not a dataset id"),
            ));
        }
        batch.artifacts.push(ArtifactRecord {
            name: Some(dataset.clone()),
            ..ArtifactRecord::new(dataset_id.clone(), ArtifactKind::Dataset)
        });
        inputs.push(RunInput {
            artifact_id: dataset_id,
            role: Role::TrainingData,
        });
    }
    // The same card read twice describes the same run: derive its id from what it says.
    let seed = format!("model-card\0{artifact_id}\0{kind}\0{:?}", inputs);
    batch.runs.push(RunRecord {
        record_id: String::new(),
        run_id: id::derived_run(seed.as_bytes()),
        kind,
        name: Some(format!(
            "declared by model card of {}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("model")
        )),
        status: RunStatus::Succeeded,
        started_at: None,
        ended_at: None,
        inputs,
        outputs: vec![artifact_id.to_string()],
        recorded_at: records::now(),
        recorded_by: records::current_actor(),
    });
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_dir(files: &[(&str, &str)]) -> Batch {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let catalog = Catalog::builtin().unwrap();
        read(dir.path(), &id::tree(&"a".repeat(64)), &catalog).unwrap()
    }

    #[test]
    fn license_file_is_recognised_with_its_digest_as_evidence() {
        let text = crate::catalog::embedded_text("llama3_1.LICENSE.txt").unwrap();
        // Re-wrapped with CRLF line ends, as a download tool might.
        let rewrapped = text.replace('\n', "\r\n");
        let batch = read_dir(&[("LICENSE", &rewrapped)]);
        let claim = &batch.license_claims[0];
        assert_eq!(claim.license_id, "llama3.1");
        assert_eq!(
            (claim.source, claim.confidence),
            (ClaimSource::LicenseFile, Confidence::Primary)
        );
        assert_eq!(
            claim.evidence_digest.as_deref(),
            Some(blake3::hash(rewrapped.as_bytes()).to_hex().as_str())
        );

        let batch = read_dir(&[("LICENSE", "All rights reserved by nobody in particular.")]);
        assert_eq!(batch.license_claims[0].license_id, "unrecognised");
        assert_eq!(batch.license_claims[0].confidence, Confidence::Unverified);
    }

    #[test]
    fn model_card_declares_license_base_models_and_datasets() {
        let card = "---\nlicense: other\nlicense_name: deepseek\nbase_model:\n- deepseek-ai/DeepSeek-V3-Base\nbase_model_relation: finetune\ndatasets:\n- HuggingFaceH4/ultrachat_200k\n---\n# card\n";
        let batch = read_dir(&[("README.md", card)]);
        assert_eq!(batch.license_claims[0].license_id, "deepseek-1.0");
        assert_eq!(batch.license_claims[0].source, ClaimSource::ModelCard);
        let run = &batch.runs[0];
        assert_eq!(run.kind, RunKind::FineTune);
        assert!(run.inputs.iter().any(|i| i.role == Role::BaseWeights
            && i.artifact_id == "model:deepseek-ai/DeepSeek-V3-Base@unversioned#weights"));
        assert!(run.inputs.iter().any(|i| i.role == Role::TrainingData
            && i.artifact_id == "dataset:HuggingFaceH4/ultrachat_200k@unversioned"));
        // The same card read again describes the same run.
        assert_eq!(read_dir(&[("README.md", card)]).runs[0].run_id, run.run_id);
    }
}
