//! The provenance record kinds. Records are immutable: state that changes (a run finishing, a
//! checkpoint's release) is a new dated record, never an update in place. Each record carries a
//! content-addressed `record_id`, so writing the same fact twice is harmless: readers keep one.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of the record layout; bumped when a field changes meaning.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().replace('-', "_") == wanted)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        Error::usage(format!(
                            "unknown {} '{}': expected one of {}",
                            stringify!($name), s, names.join(", ")
                        ))
                    })
            }
        }
    };
}

string_enum!(
    /// What an artifact is. External models are identified by vendor/model/revision when there
    /// are no bytes to hash (API endpoints).
    ArtifactKind {
        Dataset => "dataset",
        SyntheticDataset => "synthetic_dataset",
        Checkpoint => "checkpoint",
        ExternalModel => "external_model",
        Other => "other",
    }
);

string_enum!(
    /// How a model's outputs or weights were obtained: terms differ by channel.
    Channel {
        Weights => "weights",
        Api => "api",
    }
);

string_enum!(
    /// What a run did.
    RunKind {
        Generate => "generate",
        Transform => "transform",
        Filter => "filter",
        Mix => "mix",
        Train => "train",
        FineTune => "fine_tune",
        Distill => "distill",
        Rl => "rl",
        Merge => "merge",
        Quantize => "quantize",
        Evaluate => "evaluate",
    }
);

string_enum!(
    /// The part an input played in a run; roles decide what flows downstream.
    Role {
        TrainingData => "training_data",
        BaseWeights => "base_weights",
        Teacher => "teacher",
        Generator => "generator",
        Judge => "judge",
        RewardModel => "reward_model",
        EvalData => "eval_data",
        Source => "source",
    }
);

string_enum!(
    RunStatus {
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

string_enum!(
    /// Who can get at a checkpoint. Policy decides whether `api_served` counts as distribution.
    Distribution {
        Internal => "internal",
        ExternalWeights => "external_weights",
        ApiServed => "api_served",
    }
);

string_enum!(
    /// What a checkpoint is for. Some terms treat classifiers and embedding models differently
    /// from generative models (e.g. OpenAI's permitted exception).
    Purpose {
        Generative => "generative",
        Classifier => "classifier",
        Embedding => "embedding",
        Other => "other",
    }
);

string_enum!(
    /// How sure a license claim is: read from the primary text, only secondary quotations, or
    /// not verified at all.
    Confidence {
        Primary => "primary",
        Secondary => "secondary",
        Unverified => "unverified",
    }
);

string_enum!(
    /// Where a license claim on an artifact came from.
    ClaimSource {
        User => "user",
        LicenseFile => "license_file",
        ModelCard => "model_card",
        Catalog => "catalog",
    }
);

impl Role {
    /// The artifact kind to assume when a run names an untagged path in this role.
    pub fn implied_kind(self) -> ArtifactKind {
        match self {
            Role::BaseWeights
            | Role::Teacher
            | Role::Generator
            | Role::Judge
            | Role::RewardModel => ArtifactKind::Checkpoint,
            Role::TrainingData | Role::EvalData | Role::Source => ArtifactKind::Dataset,
        }
    }
}

/// One observation of an artifact: its content identity plus a name and a location it was seen
/// under. The same content under two names yields two observations of one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRecord {
    #[serde(default)]
    pub record_id: String,
    pub artifact_id: String,
    pub kind: ArtifactKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// What a checkpoint is for (generative, classifier, embedding, other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// Rows per value of a source column, for datasets tagged with `--source-column`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition: Option<Composition>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// How many rows of a dataset came from each source, by the values of one column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composition {
    /// The column whose values name each row's source.
    pub column: String,
    /// All rows of the dataset (the sum of the groups' rows).
    pub rows: u64,
    /// How each group's digest is computed (docs/composition.md).
    pub digest_algorithm: String,
    /// One group per distinct value, sorted by value (null last).
    pub groups: Vec<SourceGroup>,
}

/// The rows of one source value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceGroup {
    /// The column's value; `None` for rows where it is null.
    #[serde(default)]
    pub value: Option<String>,
    pub rows: u64,
    /// Order-independent digest of the group's rows.
    pub digest: String,
    /// Artifact the rows came from, when the value is mapped to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether the value was mapped at all: mapped without a source means original rows
    /// (written by people, no upstream model); unmapped rows are of unknown origin.
    pub mapped: bool,
}

impl ArtifactRecord {
    /// An observation of `artifact_id` with only its kind set, recorded now by this process.
    pub fn new(artifact_id: impl Into<String>, kind: ArtifactKind) -> Self {
        ArtifactRecord {
            record_id: String::new(),
            artifact_id: artifact_id.into(),
            kind,
            size_bytes: None,
            file_count: None,
            name: None,
            location: None,
            vendor: None,
            model: None,
            revision: None,
            channel: None,
            purpose: None,
            composition: None,
            recorded_at: now(),
            recorded_by: current_actor(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    pub artifact_id: String,
    pub role: Role,
}

/// A run's state at one moment. `run start` writes one with status `running`; `run finish`
/// writes another for the same `run_id`. Readers merge them (see `store::view`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    #[serde(default)]
    pub record_id: String,
    pub run_id: String,
    pub kind: RunKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<RunInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// A checkpoint's distribution from `effective_at` on, until a later release record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRecord {
    #[serde(default)]
    pub record_id: String,
    pub artifact_id: String,
    pub distribution: Distribution,
    pub effective_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// "This artifact is under license X", with the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseClaimRecord {
    #[serde(default)]
    pub record_id: String,
    pub artifact_id: String,
    pub license_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_version: Option<String>,
    pub source: ClaimSource,
    pub confidence: Confidence,
    /// BLAKE3 of the LICENSE file (or model card) the claim was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// An approved exception to an audit finding: scoped to a finding code, the restricted model or
/// license, and optionally one target checkpoint; reasoned, approved and expiring. Revoking a
/// waiver appends a record with `revoked: true` for the same `waiver_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverRecord {
    #[serde(default)]
    pub record_id: String,
    pub waiver_id: String,
    /// Finding code waived, e.g. L101.
    pub code: String,
    /// Artifact id of the restricted model the waiver covers (or none: any model under `license`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// License id the waiver covers (or none: any license of `model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Artifact id of the one checkpoint covered (none: every target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// Any record, tagged by its type; this is the JSON Lines import/export shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Artifact(ArtifactRecord),
    Run(RunRecord),
    Release(ReleaseRecord),
    LicenseClaim(LicenseClaimRecord),
    Waiver(WaiverRecord),
}

/// Records written together: one `Store::append` call. Written table by table in dependency
/// order (artifacts before the runs that name them), so a crash leaves a consistent prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub artifacts: Vec<ArtifactRecord>,
    pub license_claims: Vec<LicenseClaimRecord>,
    pub runs: Vec<RunRecord>,
    pub releases: Vec<ReleaseRecord>,
    pub waivers: Vec<WaiverRecord>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.artifacts.len()
            + self.license_claims.len()
            + self.runs.len()
            + self.releases.len()
            + self.waivers.len()
    }

    pub fn push(&mut self, record: Record) {
        match record {
            Record::Artifact(r) => self.artifacts.push(r),
            Record::Run(r) => self.runs.push(r),
            Record::Release(r) => self.releases.push(r),
            Record::LicenseClaim(r) => self.license_claims.push(r),
            Record::Waiver(r) => self.waivers.push(r),
        }
    }

    pub fn extend(&mut self, other: Batch) {
        self.artifacts.extend(other.artifacts);
        self.license_claims.extend(other.license_claims);
        self.runs.extend(other.runs);
        self.releases.extend(other.releases);
        self.waivers.extend(other.waivers);
    }

    /// Fill in every record id and normalise timestamps; call before writing.
    pub fn seal(&mut self) {
        self.artifacts.iter_mut().for_each(|r| r.seal());
        self.license_claims.iter_mut().for_each(|r| r.seal());
        self.runs.iter_mut().for_each(|r| r.seal());
        self.releases.iter_mut().for_each(|r| r.seal());
        self.waivers.iter_mut().for_each(|r| r.seal());
    }

    pub fn into_records(self) -> impl Iterator<Item = Record> {
        self.artifacts
            .into_iter()
            .map(Record::Artifact)
            .chain(self.license_claims.into_iter().map(Record::LicenseClaim))
            .chain(self.runs.into_iter().map(Record::Run))
            .chain(self.releases.into_iter().map(Record::Release))
            .chain(self.waivers.into_iter().map(Record::Waiver))
    }
}

/// Timestamps are stored with microsecond precision (Parquet TIMESTAMP(MICROS)); truncating on
/// creation keeps the JSON and Parquet forms of a record identical.
pub fn timestamp(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub fn now() -> DateTime<Utc> {
    timestamp(Utc::now())
}

/// `user@host` of the writing process, for audit trails.
pub fn current_actor() -> String {
    // Read once per process: a training loop tags thousands of times.
    static ACTOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ACTOR.get_or_init(read_actor).clone()
}

fn read_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

/// Common behaviour of the four record kinds.
pub trait StoredRecord: Serialize + Clone {
    /// Parquet table (folder) name.
    const TABLE: &'static str;
    fn record_id(&self) -> &str;
    fn set_record_id(&mut self, id: String);
    fn recorded_at(&self) -> DateTime<Utc>;
    fn normalise_times(&mut self);

    /// BLAKE3 over the canonical JSON of the record without its id and without who/when
    /// recorded it: the same fact recorded twice gets the same id.
    fn compute_record_id(&self) -> String {
        let mut value = serde_json::to_value(self).expect("records serialise");
        if let serde_json::Value::Object(map) = &mut value {
            map.remove("record_id");
            map.remove("recorded_at");
            map.remove("recorded_by");
        }
        // serde_json's map is a BTreeMap here (no preserve_order): keys are sorted, so the text is canonical.
        let canonical = serde_json::to_string(&value).expect("records serialise");
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"mlprov-record-v1\0");
        hasher.update(Self::TABLE.as_bytes());
        hasher.update(b"\0");
        hasher.update(canonical.as_bytes());
        hasher.finalize().to_hex().to_string()
    }

    fn seal(&mut self) {
        self.normalise_times();
        let id = self.compute_record_id();
        self.set_record_id(id);
    }
}

macro_rules! stored_record {
    ($ty:ty, $table:literal, |$s:ident| $norm:block) => {
        impl StoredRecord for $ty {
            const TABLE: &'static str = $table;
            fn record_id(&self) -> &str {
                &self.record_id
            }
            fn set_record_id(&mut self, id: String) {
                self.record_id = id;
            }
            fn recorded_at(&self) -> DateTime<Utc> {
                self.recorded_at
            }
            fn normalise_times(&mut $s) {
                $s.recorded_at = timestamp($s.recorded_at);
                $norm
            }
        }
    };
}

stored_record!(ArtifactRecord, "artifacts", |self| {});
stored_record!(LicenseClaimRecord, "license_claims", |self| {});
stored_record!(ReleaseRecord, "releases", |self| {
    self.effective_at = timestamp(self.effective_at);
});
stored_record!(WaiverRecord, "waivers", |self| {
    self.expires_at = timestamp(self.expires_at);
});
stored_record!(RunRecord, "runs", |self| {
    self.started_at = self.started_at.map(timestamp);
    self.ended_at = self.ended_at.map(timestamp);
    self.inputs.sort();
    self.inputs.dedup();
    self.outputs.sort();
    self.outputs.dedup();
});

/// Prefixes of artifact ids, by how the identity was derived.
pub mod id {
    /// BLAKE3 of a regular file's bytes.
    pub const FILE: &str = "blake3:";
    /// Merkle digest of a directory tree (see `content::tree`).
    pub const TREE: &str = "blake3tree:";
    /// An external model without bytes: vendor/model@revision through an API.
    pub const MODEL: &str = "model:";
    /// A dataset known only by its published name (e.g. a Hugging Face dataset id on a model card).
    pub const DATASET: &str = "dataset:";
    /// A run.
    pub const RUN: &str = "run:";
    /// A waiver.
    pub const WAIVER: &str = "waiver:";

    pub fn file(hex: &str) -> String {
        format!("{FILE}{hex}")
    }
    pub fn tree(hex: &str) -> String {
        format!("{TREE}{hex}")
    }

    /// Identity of a model known only by name: `model:vendor/name@revision#channel`.
    pub fn external_model(
        vendor: &str,
        model: &str,
        revision: Option<&str>,
        channel: super::Channel,
    ) -> String {
        let rev = revision.unwrap_or("unversioned");
        format!("{MODEL}{vendor}/{model}@{rev}#{channel}")
    }

    /// Identity of a dataset known only by name: `dataset:org/name@revision`.
    pub fn named_dataset(name: &str, revision: Option<&str>) -> String {
        format!("{DATASET}{name}@{}", revision.unwrap_or("unversioned"))
    }

    /// A run id derived from `seed`: the same facts recorded twice get the same run.
    pub fn derived_run(seed: &[u8]) -> String {
        let hash = blake3::hash(seed);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash.as_bytes()[..16]);
        format!("{RUN}{}", uuid::Uuid::new_v8(bytes))
    }

    pub fn new_run() -> String {
        format!("{RUN}{}", uuid::Uuid::now_v7())
    }

    pub fn new_waiver() -> String {
        format!("{WAIVER}{}", uuid::Uuid::now_v7())
    }

    /// The hex digest part of a content id, if it is one.
    pub fn digest_hex(artifact_id: &str) -> Option<&str> {
        artifact_id
            .strip_prefix(FILE)
            .or_else(|| artifact_id.strip_prefix(TREE))
    }

    /// Whether a string is a syntactically valid artifact or run id.
    pub fn is_valid(id: &str) -> bool {
        if let Some(hex) = digest_hex(id) {
            return hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        }
        if let Some(rest) = id.strip_prefix(RUN).or_else(|| id.strip_prefix(WAIVER)) {
            // Only the canonical lowercase hyphenated form, so one run has one spelling.
            return uuid::Uuid::parse_str(rest).is_ok_and(|u| u.hyphenated().to_string() == rest);
        }
        if let Some(rest) = id.strip_prefix(DATASET) {
            return rest
                .split_once('@')
                .is_some_and(|(n, r)| !n.is_empty() && !r.is_empty() && !r.contains('@'))
                && !rest.chars().any(|c| c.is_whitespace() || c == '#');
        }
        if let Some(rest) = id.strip_prefix(MODEL) {
            let Some((name, channel)) = rest.rsplit_once('#') else {
                return false;
            };
            return name.contains('/')
                && name.contains('@')
                && !name.contains('#')
                && super::Channel::ALL.iter().any(|c| c.as_str() == channel)
                && !rest.chars().any(char::is_whitespace);
        }
        false
    }
}

/// Records for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Dataset number `n`: content id `blake3:nnnn…`, named `a<n>`.
    pub fn dataset(n: u8) -> ArtifactRecord {
        ArtifactRecord {
            size_bytes: Some(n as u64),
            name: Some(format!("a{n}")),
            recorded_by: "t@h".into(),
            ..ArtifactRecord::new(
                id::file(&format!("{n:02x}").repeat(32)),
                ArtifactKind::Dataset,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str) -> ArtifactRecord {
        ArtifactRecord {
            record_id: String::new(),
            artifact_id: id::file(&"a".repeat(64)),
            kind: ArtifactKind::Dataset,
            size_bytes: Some(3),
            file_count: None,
            name: Some(name.into()),
            location: None,
            vendor: None,
            model: None,
            revision: None,
            channel: None,
            purpose: None,
            composition: None,
            recorded_at: Utc::now(),
            recorded_by: "a@b".into(),
        }
    }

    #[test]
    fn record_id_ignores_who_and_when() {
        let mut a = artifact("x");
        let mut b = artifact("x");
        b.recorded_at = a.recorded_at + chrono::Duration::seconds(5);
        b.recorded_by = "other@host".into();
        a.seal();
        b.seal();
        assert_eq!(a.record_id, b.record_id);
        let mut c = artifact("y");
        c.seal();
        assert_ne!(a.record_id, c.record_id);
    }

    #[test]
    fn enums_parse_leniently_and_reject_unknown() {
        assert_eq!("fine-tune".parse::<RunKind>().unwrap(), RunKind::FineTune);
        assert_eq!("Training_Data".parse::<Role>().unwrap(), Role::TrainingData);
        let err = "sideways".parse::<Role>().unwrap_err().to_string();
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn run_ids_and_content_ids_validate() {
        assert!(id::is_valid(&id::new_run()));
        assert!(id::is_valid(&id::file(&"0".repeat(64))));
        assert!(!id::is_valid(&id::file("abc")));
        assert!(id::is_valid(&id::external_model(
            "openai",
            "gpt-4o",
            Some("2024-08-06"),
            Channel::Api
        )));
        assert!(!id::is_valid("blake3:XYZ"));
        assert!(
            !id::is_valid("run:550E8400-E29B-41D4-A716-446655440000"),
            "uppercase run ids are not canonical"
        );
        assert!(!id::is_valid("model:a/b@c#web"));
        assert!(id::is_valid(&id::named_dataset(
            "HuggingFaceH4/ultrachat_200k",
            None
        )));
        assert!(!id::is_valid("dataset:@x"));
        let a = id::derived_run(b"x");
        assert!(id::is_valid(&a) && a == id::derived_run(b"x") && a != id::derived_run(b"y"));
    }

    #[test]
    fn json_round_trip_is_exact() {
        let mut a = artifact("x");
        a.seal();
        let rec = Record::Artifact(a);
        let text = serde_json::to_string(&rec).unwrap();
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(rec, back);
    }
}
