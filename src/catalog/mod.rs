//! The license catalog: what each model license or terms document says about using a model's
//! outputs (and weights) to train other models, and which license applies to which model.
//!
//! The catalog ships inside the binary (`catalog/licenses.toml` plus the license texts in
//! `catalog/texts/`) and can be overridden by a user file of the same shape
//! ([`Catalog::load_with_overrides`]). Every entry, claim and model assignment carries its source
//! URL, the date it was read and a [`Confidence`]; [`Catalog::validate`] enforces that.
//! Disagreeing sources are kept side by side as separate claims on one entry, never merged.
//! See `docs/license-catalog.md`.

pub mod model_card;
pub mod recognise;

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::{Channel, Confidence};

pub use model_card::{parse_model_card, BaseModelRelation, ModelCard};
pub use recognise::{normalise, text_digest};

/// The catalog data shipped in the binary.
pub const BUILTIN_TOML: &str = include_str!("../../catalog/licenses.toml");

/// Name used for the built-in catalog in error messages.
pub const BUILTIN_ORIGIN: &str = "built-in catalog (catalog/licenses.toml)";

/// License texts shipped so that LICENSE files can be recognised: `(file name, text)`. The
/// texts are their owners' (see `catalog/texts/README.md`), not mlprov's license.
pub const EMBEDDED_TEXTS: &[(&str, &str)] = &[
    (
        "deepseek-license-1.0.LICENSE-MODEL.txt",
        include_str!("../../catalog/texts/deepseek-license-1.0.LICENSE-MODEL.txt"),
    ),
    (
        "llama2.LICENSE.txt",
        include_str!("../../catalog/texts/llama2.LICENSE.txt"),
    ),
    (
        "llama3.LICENSE.txt",
        include_str!("../../catalog/texts/llama3.LICENSE.txt"),
    ),
    (
        "llama3_1.LICENSE.txt",
        include_str!("../../catalog/texts/llama3_1.LICENSE.txt"),
    ),
    (
        "llama3_2.LICENSE.txt",
        include_str!("../../catalog/texts/llama3_2.LICENSE.txt"),
    ),
    (
        "llama3_3.LICENSE.txt",
        include_str!("../../catalog/texts/llama3_3.LICENSE.txt"),
    ),
    (
        "llama4.LICENSE.txt",
        include_str!("../../catalog/texts/llama4.LICENSE.txt"),
    ),
    (
        "tongyi-qianwen.LICENSE.txt",
        include_str!("../../catalog/texts/tongyi-qianwen.LICENSE.txt"),
    ),
    (
        "tongyi-qianwen-research.LICENSE.txt",
        include_str!("../../catalog/texts/tongyi-qianwen-research.LICENSE.txt"),
    ),
];

/// The text of an embedded license file, by file name.
pub fn embedded_text(file: &str) -> Option<&'static str> {
    EMBEDDED_TEXTS
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// The class of a term: what a license lets you do with a model's outputs (or weights) when
/// training another model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermClass {
    /// No restriction on training with it.
    Allowed,
    /// Allowed if conditions are met (naming, attribution, restrictions passed through).
    Conditional,
    /// Allowed only for models used inside the organisation, never licensed or distributed.
    InternalOnly,
    /// Forbidden for models that compete with the vendor.
    ForbiddenCompeting,
    /// Forbidden for any other model, except derivatives of the same family
    /// ([`TermClaim::exempt_family`]; none when it is unset).
    ForbiddenOtherLlm,
    /// Non-commercial use only.
    NonCommercial,
}

impl TermClass {
    pub const ALL: &'static [TermClass] = &[
        TermClass::Allowed,
        TermClass::Conditional,
        TermClass::InternalOnly,
        TermClass::ForbiddenCompeting,
        TermClass::ForbiddenOtherLlm,
        TermClass::NonCommercial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TermClass::Allowed => "allowed",
            TermClass::Conditional => "conditional",
            TermClass::InternalOnly => "internal_only",
            TermClass::ForbiddenCompeting => "forbidden_competing",
            TermClass::ForbiddenOtherLlm => "forbidden_other_llm",
            TermClass::NonCommercial => "non_commercial",
        }
    }

    /// Order for "take the most restrictive": allowed 0 < conditional 1 < internal_only 2 <
    /// forbidden_competing 3 < non_commercial 4 < forbidden_other_llm 5.
    pub fn restrictiveness(self) -> u8 {
        match self {
            TermClass::Allowed => 0,
            TermClass::Conditional => 1,
            TermClass::InternalOnly => 2,
            TermClass::ForbiddenCompeting => 3,
            TermClass::NonCommercial => 4,
            TermClass::ForbiddenOtherLlm => 5,
        }
    }
}

impl std::fmt::Display for TermClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TermClass {
    type Err = Error;
    /// Accepts `forbidden_other_llm`, `forbidden-other-llm`, any case.
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        TermClass::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = TermClass::ALL.iter().map(|c| c.as_str()).collect();
                Error::usage(format!(
                    "unknown term class '{s}': expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// What a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimSubject {
    /// Using the model's outputs (generated data, scores, logits) to train another model.
    Outputs,
    /// Deriving a model from its weights (fine-tune, merge, quantize, adapter).
    Weights,
}

impl ClaimSubject {
    pub const ALL: &'static [ClaimSubject] = &[ClaimSubject::Outputs, ClaimSubject::Weights];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimSubject::Outputs => "outputs",
            ClaimSubject::Weights => "weights",
        }
    }
}

impl std::fmt::Display for ClaimSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClaimSubject {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase();
        ClaimSubject::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown claim subject '{s}': expected one of outputs, weights"
                ))
            })
    }
}

/// A condition a derivative (or the distributor) must meet. In TOML:
/// `{ kind = "name_prefix", prefix = "Llama" }`, `{ kind = "pass_through_restrictions" }`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A distributed derived model's name must begin with this.
    NamePrefix { prefix: String },
    /// This text must be displayed (e.g. "Built with Llama").
    Attribution { text: String },
    /// The license's use restrictions must be made binding on recipients of derivatives.
    PassThroughRestrictions,
    /// A copy of the license must accompany distributed copies and derivatives.
    IncludeLicenseCopy,
    /// Above this many monthly active users a separate license is needed.
    UserLimit { monthly_active_users: u64 },
    /// Anything else, in words.
    Other { text: String },
}

impl Condition {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Condition::NamePrefix { prefix } => {
                format!("a distributed model's name must begin with \"{prefix}\"")
            }
            Condition::Attribution { text } => format!("display \"{text}\" with the model or product"),
            Condition::PassThroughRestrictions => {
                "the license's use restrictions must be passed on to everyone who receives a derivative".into()
            }
            Condition::IncludeLicenseCopy => "a copy of the license must accompany distributed copies".into(),
            Condition::UserLimit { monthly_active_users } => format!(
                "above {} monthly active users a separate license from the licensor is needed",
                human_count(*monthly_active_users)
            ),
            Condition::Other { text } => text.clone(),
        }
    }
}

fn human_count(n: u64) -> String {
    if n >= 1_000_000_000 && n % 1_000_000_000 == 0 {
        return format!("{} billion", n / 1_000_000_000);
    }
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        return format!("{} million", n / 1_000_000);
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One statement about a license, from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermClaim {
    /// Unique within the catalog, `<entry id>/<name>`, e.g. `llama3.1/outputs`.
    pub id: String,
    pub subject: ClaimSubject,
    pub class: TermClass,
    pub summary: String,
    /// Clause reference in the source, e.g. `1.b.v`.
    pub clause: Option<String>,
    /// Verbatim wording.
    pub quote: Option<String>,
    pub conditions: Vec<Condition>,
    /// For `forbidden_other_llm`: derivatives of this model family are exempt (e.g. `llama2`).
    pub exempt_family: Option<String>,
    /// For `forbidden_competing` (or `internal_only`): the permitted exception, in words.
    pub internal_exception: Option<String>,
    /// http(s) URL the claim was read from.
    pub source: String,
    pub confidence: Confidence,
    /// Date the source was read.
    pub read: NaiveDate,
    pub note: Option<String>,
}

/// A license or terms document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseEntry {
    pub id: String,
    pub name: String,
    pub version: Option<String>,
    pub effective: Option<NaiveDate>,
    pub source: String,
    pub read: NaiveDate,
    pub confidence: Confidence,
    /// File in `catalog/texts/` (or, for a user file, next to it) with the full text.
    pub text_file: Option<String>,
    /// BLAKE3 hex of the normalised text ([`recognise::text_digest`]), computed at load.
    pub text_digest: Option<String>,
    /// SPDX id or `LicenseRef-*`.
    pub spdx: Option<String>,
    /// Hugging Face Hub `license:` ids.
    pub hf_ids: Vec<String>,
    /// Hub `license_name` values used with `license: other`.
    pub hf_license_names: Vec<String>,
    pub claims: Vec<TermClaim>,
}

impl LicenseEntry {
    /// The claims about one subject, in catalog order.
    pub fn claims_about(&self, subject: ClaimSubject) -> impl Iterator<Item = &TermClaim> {
        self.claims.iter().filter(move |c| c.subject == subject)
    }

    /// Whether `name` is one of this entry's identifiers (id, Hub id, Hub license name, SPDX id),
    /// ignoring case.
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        self.id.eq_ignore_ascii_case(name)
            || self.hf_ids.iter().any(|h| h.eq_ignore_ascii_case(name))
            || self
                .hf_license_names
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
            || self
                .spdx
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
    }
}

/// "Model M from vendor V, reached through channel C, is under license L" (optionally for one
/// revision and a date range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelAssignment {
    pub vendor: String,
    /// Exact name, or a pattern where `*` matches any run of characters (usually a trailing
    /// `*`); case-insensitive.
    pub model: String,
    pub revision: Option<String>,
    pub channel: Channel,
    /// A [`LicenseEntry::id`].
    pub license: String,
    /// Model family, e.g. `llama2`, `deepseek-v3`, `qwen2.5`.
    pub family: String,
    pub from: Option<NaiveDate>,
    /// Exclusive.
    pub until: Option<NaiveDate>,
    pub source: String,
    pub confidence: Confidence,
    pub read: NaiveDate,
    pub note: Option<String>,
}

impl ModelAssignment {
    /// Whether this assignment names `vendor`/`model` (ignoring revision, channel and dates).
    pub fn matches_model(&self, vendor: &str, model: &str) -> bool {
        self.vendor.eq_ignore_ascii_case(vendor.trim()) && glob_match(&self.model, model.trim())
    }

    /// Whether the assignment is in force at `at` (always, when `at` is `None`).
    pub fn in_force(&self, at: Option<DateTime<Utc>>) -> bool {
        let Some(at) = at else { return true };
        let day_start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let after_from = self.from.and_then(day_start).is_none_or(|from| at >= from);
        let before_until = self
            .until
            .and_then(day_start)
            .is_none_or(|until| at < until);
        after_from && before_until
    }

    fn is_pattern(&self) -> bool {
        self.model.contains('*')
    }

    /// Ranking key: exact before pattern, longer literal text first, revision-specific first.
    fn specificity(&self) -> (bool, std::cmp::Reverse<usize>, bool) {
        let literal = self.model.chars().filter(|&c| c != '*').count();
        (
            self.is_pattern(),
            std::cmp::Reverse(literal),
            self.revision.is_none(),
        )
    }

    /// Whether a user assignment `self` replaces the built-in `other`: same vendor and channel,
    /// `self`'s model pattern covers `other`'s, and `self` is for all revisions or the same one.
    fn covers(&self, other: &ModelAssignment) -> bool {
        self.channel == other.channel
            && self.vendor.eq_ignore_ascii_case(&other.vendor)
            && glob_match(&self.model, &other.model)
            && match (&self.revision, &other.revision) {
                (None, _) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (Some(_), None) => false,
            }
    }
}

/// Case-insensitive match where `*` in `pattern` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// All licenses and model assignments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    pub licenses: Vec<LicenseEntry>,
    pub models: Vec<ModelAssignment>,
}

impl Catalog {
    /// The catalog shipped in the binary (parsed once, then cloned).
    pub fn builtin() -> Result<Catalog> {
        static BUILTIN: OnceLock<std::result::Result<Catalog, String>> = OnceLock::new();
        let parsed = BUILTIN.get_or_init(|| {
            let catalog = parse_catalog(BUILTIN_TOML, BUILTIN_ORIGIN, &|file| {
                embedded_text(file)
                    .map(str::to_string)
                    .ok_or_else(|| "is not one of the embedded texts".to_string())
            })
            .map_err(|e| e.to_string())?;
            let problems = catalog.validate();
            if problems.is_empty() {
                Ok(catalog)
            } else {
                Err(format!("{BUILTIN_ORIGIN}: {}", problems.join("; ")))
            }
        });
        parsed
            .clone()
            .map_err(|e| Error::bad_record(BUILTIN_ORIGIN, "catalog", e))
    }

    /// The catalog an audit uses: `explicit` (e.g. `--catalog FILE`) if given, else the
    /// policy's `catalog` file, else the built-in catalog.
    pub fn for_audit(
        explicit: Option<&Path>,
        policy: Option<&crate::policy::Policy>,
    ) -> Result<Catalog> {
        match explicit.or(policy.and_then(|p| p.catalog.as_deref())) {
            Some(path) => Catalog::load_with_overrides(path),
            None => Catalog::builtin(),
        }
    }

    /// The built-in catalog with a user file of the same shape applied on top: a user entry
    /// with an existing id replaces that entry (claims included), new entries are added; user
    /// model assignments come first, and each replaces every built-in assignment it covers
    /// (same vendor and channel, a pattern matching the built-in's model, same or any revision).
    /// A user `text_file` is read relative to the user file (or from the embedded texts).
    pub fn load_with_overrides(path: &Path) -> Result<Catalog> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, "read the license catalog file", e))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let user = parse_catalog(&text, &origin, &|file| {
            let candidate = dir.join(file);
            if candidate.is_file() {
                std::fs::read_to_string(&candidate)
                    .map_err(|e| format!("cannot be read ({}): {e}", candidate.display()))
            } else {
                embedded_text(file).map(str::to_string).ok_or_else(|| {
                    format!(
                        "was not found next to the catalog file ({}) nor among the embedded texts",
                        candidate.display()
                    )
                })
            }
        })?;
        let merged = Catalog::builtin()?.overridden_by(user);
        let problems = merged.validate();
        if !problems.is_empty() {
            return Err(Error::bad_record(
                origin,
                "catalog (after applying it to the built-in catalog)",
                problems.join("; "),
            ));
        }
        Ok(merged)
    }

    /// `self` with `user` applied on top (see [`Catalog::load_with_overrides`]).
    pub fn overridden_by(mut self, user: Catalog) -> Catalog {
        for entry in user.licenses {
            match self
                .licenses
                .iter()
                .position(|l| l.id.eq_ignore_ascii_case(&entry.id))
            {
                Some(i) => self.licenses[i] = entry,
                None => self.licenses.push(entry),
            }
        }
        self.models
            .retain(|builtin| !user.models.iter().any(|u| u.covers(builtin)));
        let mut models = user.models;
        models.append(&mut self.models);
        self.models = models;
        self
    }

    /// Parse a catalog file's text. `origin` names the file in errors. A `text_file` must be one
    /// of the embedded texts (use [`Catalog::load_with_overrides`] for files on disk). Does not
    /// check cross-references (an override file may name built-in licenses): see
    /// [`Catalog::validate`].
    pub fn from_toml(text: &str, origin: &str) -> Result<Catalog> {
        parse_catalog(text, origin, &|file| {
            embedded_text(file)
                .map(str::to_string)
                .ok_or_else(|| "is not one of the embedded texts".to_string())
        })
    }

    /// The entry with this id, Hugging Face `license:` id, SPDX id or Hub `license_name`
    /// (in that order of preference), ignoring case; `name@version` (e.g. `deepseek@1.0`)
    /// picks the entry of that version.
    pub fn license(&self, id: &str) -> Option<&LicenseEntry> {
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        let by = |f: &dyn Fn(&LicenseEntry) -> bool| self.licenses.iter().find(|l| f(l));
        by(&|l| l.id.eq_ignore_ascii_case(id))
            .or_else(|| by(&|l| l.hf_ids.iter().any(|h| h.eq_ignore_ascii_case(id))))
            .or_else(|| {
                by(&|l| {
                    l.spdx
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(id))
                })
            })
            .or_else(|| {
                by(&|l| {
                    l.hf_license_names
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(id))
                })
            })
            .or_else(|| {
                let (name, version) = id.rsplit_once('@')?;
                let version = version.trim().trim_start_matches(['v', 'V']);
                self.licenses.iter().find(|l| {
                    l.is_named(name)
                        && l.version.as_deref().is_some_and(|v| {
                            v.trim_start_matches(['v', 'V'])
                                .eq_ignore_ascii_case(version)
                        })
                })
            })
    }

    /// The entry for a model card's `license:` value; for `other`, by `license_name`.
    pub fn resolve_hf(&self, license: &str, license_name: Option<&str>) -> Option<&LicenseEntry> {
        let license = license.trim();
        if license.eq_ignore_ascii_case("other") {
            let name = license_name?.trim();
            if name.is_empty() {
                return None;
            }
            return self
                .licenses
                .iter()
                .find(|l| {
                    l.hf_license_names
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(name))
                })
                .or_else(|| self.license(name));
        }
        self.licenses
            .iter()
            .find(|l| l.hf_ids.iter().any(|h| h.eq_ignore_ascii_case(license)))
            .or_else(|| self.license(license))
    }

    /// Every assignment for this model, channel, revision and moment, most specific first:
    /// exact names before patterns (longer patterns first), revision-specific before
    /// revision-less, then user assignments before built-in ones. An assignment for a revision
    /// matches only that revision; `at = None` ignores dates. Every returned assignment applies.
    pub fn assignments(
        &self,
        vendor: &str,
        model: &str,
        revision: Option<&str>,
        channel: Channel,
        at: Option<DateTime<Utc>>,
    ) -> Vec<&ModelAssignment> {
        let mut found: Vec<&ModelAssignment> = self
            .models
            .iter()
            .filter(|a| a.channel == channel && a.matches_model(vendor, model))
            .filter(|a| match (&a.revision, revision) {
                (None, _) => true,
                (Some(want), Some(have)) => want.eq_ignore_ascii_case(have.trim()),
                (Some(_), None) => false,
            })
            .filter(|a| a.in_force(at))
            .collect();
        found.sort_by_key(|a| a.specificity()); // stable: catalog order (user first) breaks ties
        found
    }

    /// The moments at which the set of assignments in force for a model changes (each
    /// matching assignment's `from` and `until`), sorted: two moments with as many boundaries
    /// at or before them see the same assignments, so the audit treats them as one.
    pub fn assignment_boundaries(
        &self,
        vendor: &str,
        model: &str,
        revision: Option<&str>,
        channel: Channel,
    ) -> Vec<DateTime<Utc>> {
        let mut out: Vec<DateTime<Utc>> = self
            .assignments(vendor, model, revision, channel, None)
            .into_iter()
            .flat_map(|a| [a.from, a.until])
            .flatten()
            .filter_map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The family of a model (from its most specific assignment on any channel).
    pub fn family_of(&self, vendor: &str, model: &str) -> Option<&str> {
        self.models
            .iter()
            .filter(|a| a.matches_model(vendor, model))
            .min_by_key(|a| a.specificity())
            .map(|a| a.family.as_str())
    }

    /// The entry whose shipped text has the same normalised digest as `text`.
    pub fn recognise(&self, text: &str) -> Option<&LicenseEntry> {
        let digest = recognise::text_digest(text);
        self.licenses
            .iter()
            .find(|l| l.text_digest.as_deref() == Some(digest.as_str()))
    }

    /// A claim by id (ignoring case).
    pub fn claim(&self, id: &str) -> Option<(&LicenseEntry, &TermClaim)> {
        self.licenses.iter().find_map(|l| {
            l.claims
                .iter()
                .find(|c| c.id.eq_ignore_ascii_case(id.trim()))
                .map(|c| (l, c))
        })
    }

    /// Every problem with the catalog, one line each; empty when it is sound. Checks that every
    /// entry, claim and assignment has an http(s) source and a plausible read date (confidence
    /// is required by the type), that ids are unique, Hub identifiers unambiguous, every entry
    /// has claims (one about outputs at least), every assignment names an existing license,
    /// and dates are sane.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let today = Utc::now().date_naive();
        let mut seen_ids: Vec<String> = Vec::new();
        let mut seen_claims: Vec<String> = Vec::new();
        let mut seen_hf: Vec<((&str, String), String)> = Vec::new();

        for l in &self.licenses {
            let what = format!("license '{}'", l.id);
            check_id(&l.id, &what, &mut problems);
            let key = l.id.to_ascii_lowercase();
            if seen_ids.contains(&key) {
                problems.push(format!("{what}: the id is used by more than one entry"));
            }
            seen_ids.push(key);
            if l.name.trim().is_empty() {
                problems.push(format!("{what}: no name"));
            }
            check_source(&l.source, &what, &mut problems);
            check_read(l.read, today, &what, &mut problems);
            if let Some(eff) = l.effective {
                check_year(eff, "effective date", &what, &mut problems);
            }
            match (&l.text_file, &l.text_digest) {
                (Some(_), None) => problems.push(format!(
                    "{what}: text_file is set but no text digest was computed"
                )),
                (_, Some(d))
                    if !(d.len() == 64
                        && d.bytes()
                            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())) =>
                {
                    problems.push(format!(
                        "{what}: text_digest '{d}' is not 64 lowercase hex digits"
                    ))
                }
                _ => {}
            }
            for (kind, names) in [
                ("hf_ids", &l.hf_ids),
                ("hf_license_names", &l.hf_license_names),
            ] {
                for name in names {
                    let key = (kind, name.trim().to_ascii_lowercase());
                    if key.1.is_empty() {
                        problems.push(format!("{what}: empty value in {kind}"));
                        continue;
                    }
                    match seen_hf.iter().find(|(k, _)| *k == key) {
                        Some((_, owner)) if !owner.eq_ignore_ascii_case(&l.id) => {
                            problems.push(format!(
                                "{what}: {kind} value '{name}' is also used by license '{owner}'"
                            ))
                        }
                        Some(_) => {}
                        None => seen_hf.push((key, l.id.clone())),
                    }
                }
            }
            if l.claims.is_empty() {
                problems.push(format!("{what}: no claims"));
            } else if !l.claims.iter().any(|c| c.subject == ClaimSubject::Outputs) {
                problems.push(format!("{what}: no claim about outputs"));
            }
            for c in &l.claims {
                let what = format!("claim '{}' of license '{}'", c.id, l.id);
                let key = c.id.to_ascii_lowercase();
                if c.id.trim().is_empty() {
                    problems.push(format!("{what}: no id"));
                } else if !key.starts_with(&format!("{}/", l.id.to_ascii_lowercase())) {
                    problems.push(format!("{what}: the id must start with '{}/'", l.id));
                }
                if seen_claims.contains(&key) {
                    problems.push(format!("{what}: the id is used by more than one claim"));
                }
                seen_claims.push(key);
                if c.summary.trim().is_empty() {
                    problems.push(format!("{what}: no summary"));
                }
                check_source(&c.source, &what, &mut problems);
                check_read(c.read, today, &what, &mut problems);
                if c.exempt_family.is_some() && c.class != TermClass::ForbiddenOtherLlm {
                    problems.push(format!(
                        "{what}: exempt_family is only meaningful for class forbidden_other_llm"
                    ));
                }
                if c.exempt_family
                    .as_deref()
                    .is_some_and(|f| f.trim().is_empty())
                {
                    problems.push(format!("{what}: exempt_family is empty"));
                }
                if c.internal_exception.is_some()
                    && !matches!(
                        c.class,
                        TermClass::ForbiddenCompeting | TermClass::InternalOnly
                    )
                {
                    problems.push(format!("{what}: internal_exception is only meaningful for forbidden_competing or internal_only"));
                }
                for cond in &c.conditions {
                    let empty = match cond {
                        Condition::NamePrefix { prefix: t }
                        | Condition::Attribution { text: t }
                        | Condition::Other { text: t } => t.trim().is_empty(),
                        Condition::UserLimit {
                            monthly_active_users,
                        } => *monthly_active_users == 0,
                        Condition::PassThroughRestrictions | Condition::IncludeLicenseCopy => false,
                    };
                    if empty {
                        problems.push(format!("{what}: condition {cond:?} is empty"));
                    }
                }
            }
        }

        for (i, m) in self.models.iter().enumerate() {
            let what = format!(
                "model assignment #{} ({}/{}, {})",
                i + 1,
                m.vendor,
                m.model,
                m.channel
            );
            if m.vendor.trim().is_empty()
                || m.vendor.contains(['/', '*'])
                || m.vendor.contains(char::is_whitespace)
            {
                problems.push(format!(
                    "{what}: vendor must be a plain name (no '/', '*' or spaces)"
                ));
            }
            if m.model.trim().is_empty() || m.model.contains(char::is_whitespace) {
                problems.push(format!(
                    "{what}: model must be a name or pattern without spaces"
                ));
            }
            if m.family.trim().is_empty() {
                problems.push(format!("{what}: no family"));
            }
            if !self
                .licenses
                .iter()
                .any(|l| l.id.eq_ignore_ascii_case(&m.license))
            {
                problems.push(format!(
                    "{what}: license '{}' is not in the catalog",
                    m.license
                ));
            }
            check_source(&m.source, &what, &mut problems);
            check_read(m.read, today, &what, &mut problems);
            for (name, date) in [("from", m.from), ("until", m.until)] {
                if let Some(d) = date {
                    check_year(d, name, &what, &mut problems);
                }
            }
            if let (Some(from), Some(until)) = (m.from, m.until) {
                if from >= until {
                    problems.push(format!(
                        "{what}: from ({from}) must be before until ({until})"
                    ));
                }
            }
        }
        problems
    }

    /// The Markdown table of entries used in `docs/license-catalog.md`.
    pub fn licenses_markdown(&self) -> String {
        let mut out = String::from(
            "| id | name | version | class(es) | confidence | source |\n|---|---|---|---|---|---|\n",
        );
        for l in &self.licenses {
            let mut classes: Vec<String> = Vec::new();
            for subject in ClaimSubject::ALL {
                let mut labels: Vec<String> = Vec::new();
                for c in l.claims_about(*subject) {
                    let label = format!("{} ({})", c.class, confidence_letter(c.confidence));
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
                if !labels.is_empty() {
                    classes.push(format!("{subject}: {}", labels.join(", ")));
                }
            }
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                l.id,
                cell(&l.name),
                cell(l.version.as_deref().unwrap_or("")),
                classes.join("; "),
                l.confidence,
                cell(&l.source)
            ));
        }
        out
    }

    /// The Markdown table of model assignments used in `docs/license-catalog.md`.
    pub fn models_markdown(&self) -> String {
        let mut out = String::from(
            "| vendor | model | channel | dates | license | family | confidence |\n|---|---|---|---|---|---|---|\n",
        );
        for m in &self.models {
            let dates = match (m.from, m.until) {
                (None, None) => String::new(),
                (Some(f), None) => format!("from {f}"),
                (None, Some(u)) => format!("before {u}"),
                (Some(f), Some(u)) => format!("{f} to {u}"),
            };
            let model = match &m.revision {
                Some(r) => format!("{}@{}", m.model, r),
                None => m.model.clone(),
            };
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | `{}` | {} | {} |\n",
                cell(&m.vendor),
                model.replace('|', "\\|"),
                m.channel,
                dates,
                m.license,
                cell(&m.family),
                m.confidence
            ));
        }
        out
    }
}

fn confidence_letter(c: Confidence) -> &'static str {
    match c {
        Confidence::Primary => "P",
        Confidence::Secondary => "S",
        Confidence::Unverified => "U",
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn check_id(id: &str, what: &str, problems: &mut Vec<String>) {
    if id.trim().is_empty() {
        problems.push(format!("{what}: no id"));
    } else if id.contains(char::is_whitespace) || id.contains(['@', '/']) {
        problems.push(format!(
            "{what}: the id must not contain spaces, '@' or '/'"
        ));
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && host.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn check_source(source: &str, what: &str, problems: &mut Vec<String>) {
    if source.trim().is_empty() {
        problems.push(format!("{what}: no source (an http(s) URL is required)"));
    } else if !is_http_url(source) {
        problems.push(format!("{what}: source '{source}' is not an http(s) URL"));
    }
}

/// Earliest plausible date a source was read.
fn earliest_read() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn check_read(read: NaiveDate, today: NaiveDate, what: &str, problems: &mut Vec<String>) {
    if read < earliest_read() {
        problems.push(format!(
            "{what}: no plausible read date ({read}); record the date the source was read"
        ));
    } else if read > today + chrono::Days::new(1) {
        problems.push(format!("{what}: read date {read} is in the future"));
    }
}

fn check_year(date: NaiveDate, name: &str, what: &str, problems: &mut Vec<String>) {
    use chrono::Datelike;
    if !(1990..=2100).contains(&date.year()) {
        problems.push(format!("{what}: {name} {date} is not a plausible date"));
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicense {
    id: Option<String>,
    name: Option<String>,
    version: Option<String>,
    effective: Option<toml::Value>,
    source: Option<String>,
    read: Option<toml::Value>,
    confidence: Option<String>,
    text_file: Option<String>,
    text_digest: Option<String>,
    spdx: Option<String>,
    #[serde(default)]
    hf_ids: Vec<String>,
    #[serde(default)]
    hf_license_names: Vec<String>,
    #[serde(default)]
    claims: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    id: Option<String>,
    subject: Option<String>,
    class: Option<String>,
    summary: Option<String>,
    clause: Option<String>,
    quote: Option<String>,
    #[serde(default)]
    conditions: Vec<toml::Value>,
    exempt_family: Option<String>,
    internal_exception: Option<String>,
    source: Option<String>,
    confidence: Option<String>,
    read: Option<toml::Value>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    vendor: Option<String>,
    model: Option<String>,
    revision: Option<String>,
    channel: Option<String>,
    license: Option<String>,
    family: Option<String>,
    from: Option<toml::Value>,
    until: Option<toml::Value>,
    source: Option<String>,
    confidence: Option<String>,
    read: Option<toml::Value>,
    note: Option<String>,
}

/// Problems found while converting one record; the first record with problems names the error.
struct Problems {
    list: Vec<(String, String)>,
}

impl Problems {
    fn push(&mut self, record: &str, reason: impl Into<String>) {
        self.list.push((record.to_string(), reason.into()));
    }

    fn into_result<T>(self, origin: &str, value: T) -> Result<T> {
        let mut list = self.list.into_iter();
        let Some((record, reason)) = list.next() else {
            return Ok(value);
        };
        let mut reason = reason;
        for (r, why) in list.take(20) {
            reason.push_str(&format!("\n  also: record {r}: {why}"));
        }
        Err(Error::bad_record(origin, record, reason))
    }
}

type TextLoader<'a> = dyn Fn(&str) -> std::result::Result<String, String> + 'a;

fn parse_catalog(text: &str, origin: &str, load_text: &TextLoader) -> Result<Catalog> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::bad_record(
            origin,
            "catalog",
            format!("not valid TOML: {}", e.to_string().trim_end()),
        )
    })?;
    let mut problems = Problems { list: Vec::new() };

    if let Some(v) = table.remove("schema_version") {
        if v.as_integer() != Some(1) {
            problems.push(
                "catalog",
                format!(
                    "schema_version {} is not supported (this mlprov reads version 1)",
                    value_text(&v)
                ),
            );
        }
    }
    let licenses = take_array(&mut table, "licenses", origin)?;
    let models = take_array(&mut table, "models", origin)?;
    if let Some(key) = table.keys().next() {
        problems.push(
            "catalog",
            format!("unknown top-level key '{key}' (expected schema_version, licenses, models)"),
        );
    }

    let mut catalog = Catalog::default();
    for (i, value) in licenses.into_iter().enumerate() {
        let record = record_name("license", &value, "id", i);
        let raw: RawLicense = match value.try_into() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(&record, serde_message(&e));
                continue;
            }
        };
        if let Some(entry) = convert_license(raw, &record, load_text, &mut problems) {
            if catalog
                .licenses
                .iter()
                .any(|l| l.id.eq_ignore_ascii_case(&entry.id))
            {
                problems.push(&record, "another entry in this file has the same id");
            }
            catalog.licenses.push(entry);
        }
    }
    for (i, value) in models.into_iter().enumerate() {
        let record = model_record_name(&value, i);
        let raw: RawModel = match value.try_into() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(&record, serde_message(&e));
                continue;
            }
        };
        if let Some(m) = convert_model(raw, &record, &mut problems) {
            catalog.models.push(m);
        }
    }
    problems.into_result(origin, catalog)
}

fn take_array(table: &mut toml::Table, key: &str, origin: &str) -> Result<Vec<toml::Value>> {
    match table.remove(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => Ok(items),
        Some(other) => Err(Error::bad_record(
            origin,
            "catalog",
            format!(
                "'{key}' must be an array of tables ([[{key}]]), not a {}",
                other.type_str()
            ),
        )),
    }
}

fn record_name(kind: &str, value: &toml::Value, key: &str, index: usize) -> String {
    match value.get(key).and_then(toml::Value::as_str) {
        Some(id) => format!("{kind} '{id}'"),
        None => format!("{kind} #{} (no {key})", index + 1),
    }
}

fn model_record_name(value: &toml::Value, index: usize) -> String {
    let get = |k: &str| value.get(k).and_then(toml::Value::as_str).unwrap_or("?");
    format!(
        "model assignment #{} ({}/{}, {})",
        index + 1,
        get("vendor"),
        get("model"),
        get("channel")
    )
}

/// A TOML value for an error message (the `toml` crate is built without its display feature).
fn value_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => format!("(a {})", other.type_str()),
    }
}

fn serde_message(e: &toml::de::Error) -> String {
    e.message().trim().to_string()
}

fn required<T>(value: Option<T>, field: &str, record: &str, problems: &mut Problems) -> Option<T> {
    if value.is_none() {
        problems.push(record, format!("missing required field '{field}'"));
    }
    value
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn parse_confidence(
    value: Option<String>,
    record: &str,
    problems: &mut Problems,
) -> Option<Confidence> {
    let text = required(value, "confidence", record, problems)?;
    text.parse::<Confidence>()
        .map_err(|_| {
            problems.push(
                record,
                format!("confidence '{text}' is not one of primary, secondary, unverified"),
            )
        })
        .ok()
}

fn parse_date(
    value: Option<toml::Value>,
    field: &str,
    record: &str,
    problems: &mut Problems,
) -> Option<NaiveDate> {
    let value = value?;
    let parsed = match &value {
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            dt.date.and_then(|d| {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            })
        }
        toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
        _ => None,
    };
    if parsed.is_none() {
        problems.push(
            record,
            format!(
                "{field} = {} is not a date such as 2026-11-23",
                value_text(&value)
            ),
        );
    }
    parsed
}

fn convert_license(
    raw: RawLicense,
    record: &str,
    load_text: &TextLoader,
    problems: &mut Problems,
) -> Option<LicenseEntry> {
    let id = required(non_empty(raw.id), "id", record, problems);
    let name = required(non_empty(raw.name), "name", record, problems);
    let source = required(non_empty(raw.source), "source", record, problems);
    let read_raw = required(raw.read, "read", record, problems);
    let read = parse_date(read_raw, "read", record, problems);
    let confidence = parse_confidence(raw.confidence, record, problems);
    let effective = parse_date(raw.effective, "effective", record, problems);
    let text_file = non_empty(raw.text_file);
    let mut text_digest = non_empty(raw.text_digest).map(|d| d.to_ascii_lowercase());
    if let Some(file) = &text_file {
        match load_text(file) {
            Ok(text) => {
                let computed = recognise::text_digest(&text);
                if let Some(given) = &text_digest {
                    if *given != computed {
                        problems.push(record, format!("text_digest {given} does not match text_file '{file}' (digest {computed})"));
                    }
                }
                text_digest = Some(computed);
            }
            Err(why) => problems.push(record, format!("text_file '{file}' {why}")),
        }
    }
    let mut claims = Vec::with_capacity(raw.claims.len());
    for (i, value) in raw.claims.into_iter().enumerate() {
        let claim_record = format!("{record}, {}", record_name("claim", &value, "id", i));
        match value.try_into::<RawClaim>() {
            Ok(raw) => {
                if let Some(c) = convert_claim(raw, &claim_record, problems) {
                    claims.push(c);
                }
            }
            Err(e) => problems.push(&claim_record, serde_message(&e)),
        }
    }
    Some(LicenseEntry {
        id: id?,
        name: name?,
        version: non_empty(raw.version),
        effective,
        source: source?,
        read: read?,
        confidence: confidence?,
        text_file,
        text_digest,
        spdx: non_empty(raw.spdx),
        hf_ids: raw
            .hf_ids
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect(),
        hf_license_names: raw
            .hf_license_names
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect(),
        claims,
    })
}

fn convert_claim(raw: RawClaim, record: &str, problems: &mut Problems) -> Option<TermClaim> {
    let id = required(non_empty(raw.id), "id", record, problems);
    let subject = required(raw.subject, "subject", record, problems).and_then(|s| {
        s.parse::<ClaimSubject>()
            .map_err(|e| problems.push(record, e.to_string()))
            .ok()
    });
    let class = required(raw.class, "class", record, problems).and_then(|s| {
        s.parse::<TermClass>()
            .map_err(|e| problems.push(record, e.to_string()))
            .ok()
    });
    let summary = required(non_empty(raw.summary), "summary", record, problems);
    let source = required(non_empty(raw.source), "source", record, problems);
    let read_raw = required(raw.read, "read", record, problems);
    let read = parse_date(read_raw, "read", record, problems);
    let confidence = parse_confidence(raw.confidence, record, problems);
    let mut conditions = Vec::with_capacity(raw.conditions.len());
    for (i, value) in raw.conditions.into_iter().enumerate() {
        match value.try_into::<Condition>() {
            Ok(c) => conditions.push(c),
            Err(e) => problems.push(
                record,
                format!("condition #{}: {}", i + 1, serde_message(&e)),
            ),
        }
    }
    Some(TermClaim {
        id: id?,
        subject: subject?,
        class: class?,
        summary: summary?,
        clause: non_empty(raw.clause),
        quote: non_empty(raw.quote),
        conditions,
        exempt_family: non_empty(raw.exempt_family),
        internal_exception: non_empty(raw.internal_exception),
        source: source?,
        confidence: confidence?,
        read: read?,
        note: non_empty(raw.note),
    })
}

fn convert_model(raw: RawModel, record: &str, problems: &mut Problems) -> Option<ModelAssignment> {
    let vendor = required(non_empty(raw.vendor), "vendor", record, problems);
    let model = required(non_empty(raw.model), "model", record, problems);
    let channel = required(raw.channel, "channel", record, problems).and_then(|c| {
        c.parse::<Channel>()
            .map_err(|_| problems.push(record, format!("channel '{c}' is not one of weights, api")))
            .ok()
    });
    let license = required(non_empty(raw.license), "license", record, problems);
    let family = required(non_empty(raw.family), "family", record, problems);
    let from = parse_date(raw.from, "from", record, problems);
    let until = parse_date(raw.until, "until", record, problems);
    let source = required(non_empty(raw.source), "source", record, problems);
    let read_raw = required(raw.read, "read", record, problems);
    let read = parse_date(read_raw, "read", record, problems);
    let confidence = parse_confidence(raw.confidence, record, problems);
    Some(ModelAssignment {
        vendor: vendor?,
        model: model?,
        revision: non_empty(raw.revision),
        channel: channel?,
        license: license?,
        family: family?,
        from,
        until,
        source: source?,
        confidence: confidence?,
        read: read?,
        note: non_empty(raw.note),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn builtin() -> Catalog {
        Catalog::builtin().expect("the built-in catalog loads")
    }

    fn at(y: i32, m: u32, d: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap())
    }

    fn licenses_of(
        c: &Catalog,
        vendor: &str,
        model: &str,
        channel: Channel,
        when: Option<DateTime<Utc>>,
    ) -> Vec<String> {
        c.assignments(vendor, model, None, channel, when)
            .iter()
            .map(|a| a.license.clone())
            .collect()
    }

    #[test]
    fn builtin_catalog_loads_and_is_valid() {
        let c = builtin();
        assert_eq!(c.validate(), Vec::<String>::new());
        assert!(c.licenses.len() >= 28, "{} entries", c.licenses.len());
        assert!(c.models.len() >= 30, "{} assignments", c.models.len());
        for l in &c.licenses {
            assert!(!l.claims.is_empty(), "{} has no claims", l.id);
            assert!(
                l.claims_about(ClaimSubject::Outputs).next().is_some(),
                "{} has no outputs claim",
                l.id
            );
        }
        // Every Hub id licenses.md lists (except `other`) resolves.
        for hf in [
            "llama2",
            "llama3",
            "llama3.1",
            "llama3.2",
            "llama3.3",
            "llama4",
            "gemma",
            "grok2-community",
            "bigscience-openrail-m",
            "bigscience-bloom-rail-1.0",
            "creativeml-openrail-m",
            "openrail++",
            "cc-by-nc-4.0",
            "mit",
            "apache-2.0",
        ] {
            assert!(c.resolve_hf(hf, None).is_some(), "hub id {hf}");
        }
        for name in [
            "deepseek",
            "tongyi-qianwen",
            "qwen",
            "qwen-research",
            "mrl",
            "mnpl",
        ] {
            assert!(
                c.resolve_hf("other", Some(name)).is_some(),
                "license_name {name}"
            );
        }
    }

    #[test]
    fn classes_and_confidence_follow_licenses_md() {
        let c = builtin();
        let class = |claim: &str| {
            c.claim(claim)
                .unwrap_or_else(|| panic!("claim {claim}"))
                .1
                .class
        };
        let conf = |claim: &str| c.claim(claim).unwrap().1.confidence;
        use TermClass::*;
        assert_eq!(class("deepseek-1.0/outputs"), Conditional);
        assert_eq!(class("llama2/outputs"), ForbiddenOtherLlm);
        assert_eq!(class("llama3/outputs"), ForbiddenOtherLlm);
        for v in ["llama3.1", "llama3.2", "llama3.3", "llama4"] {
            assert_eq!(class(&format!("{v}/outputs")), Conditional, "{v}");
            let (_, claim) = c.claim(&format!("{v}/outputs")).unwrap();
            assert!(claim.conditions.contains(&Condition::NamePrefix {
                prefix: "Llama".into()
            }));
            assert!(claim.conditions.contains(&Condition::Attribution {
                text: "Built with Llama".into()
            }));
            assert!(claim.conditions.contains(&Condition::IncludeLicenseCopy));
            assert!(claim.conditions.contains(&Condition::UserLimit {
                monthly_active_users: 700_000_000
            }));
            assert!(c.license(v).unwrap().text_file.is_some());
        }
        let (_, l3) = c.claim("llama3/outputs").unwrap();
        assert!(l3.conditions.contains(&Condition::NamePrefix {
            prefix: "Llama 3".into()
        }));
        assert!(l3.conditions.contains(&Condition::Attribution {
            text: "Built with Meta Llama 3".into()
        }));
        assert_eq!(l3.exempt_family.as_deref(), Some("llama3"));
        assert_eq!(
            c.claim("llama2/outputs")
                .unwrap()
                .1
                .exempt_family
                .as_deref(),
            Some("llama2")
        );
        assert_eq!(
            c.claim("llama2/outputs").unwrap().1.clause.as_deref(),
            Some("1.b.v")
        );
        assert_eq!(class("gemma/outputs"), Conditional);
        assert!(c
            .claim("gemma/outputs")
            .unwrap()
            .1
            .conditions
            .contains(&Condition::PassThroughRestrictions));
        assert_eq!(class("tongyi-qianwen/outputs"), ForbiddenOtherLlm);
        assert_eq!(
            class("tongyi-qianwen-research/outputs-non-commercial"),
            NonCommercial
        );
        assert_eq!(class("qwen/outputs"), Conditional);
        assert!(c
            .claim("qwen/outputs")
            .unwrap()
            .1
            .conditions
            .contains(&Condition::Attribution {
                text: "Built with Qwen".into()
            }));
        assert_eq!(conf("qwen/outputs"), Confidence::Secondary);
        assert_eq!(class("qwen-research/outputs"), NonCommercial);
        assert_eq!(class("mrl-0.1/outputs"), NonCommercial);
        assert_eq!(class("mnpl-0.1/weights"), NonCommercial);
        assert_eq!(conf("mnpl-0.1/outputs"), Confidence::Unverified);
        let (_, openai) = c.claim("openai-services/outputs").unwrap();
        assert_eq!(openai.class, ForbiddenCompeting);
        assert!(openai
            .internal_exception
            .as_deref()
            .unwrap()
            .contains("classif"));
        assert_eq!(class("anthropic-commercial/outputs"), ForbiddenCompeting);
        let (_, aup) = c.claim("anthropic-aup/outputs").unwrap();
        assert_eq!(
            (aup.class, aup.exempt_family.as_deref()),
            (ForbiddenOtherLlm, None)
        );
        assert_eq!(class("gemini-api/outputs"), ForbiddenCompeting);
        assert_eq!(class("xai-tos/outputs"), ForbiddenCompeting);
        assert_eq!(
            c.claim("grok2-community/outputs")
                .unwrap()
                .1
                .exempt_family
                .as_deref(),
            Some("grok2")
        );
        assert_eq!(class("nvidia-open-model/outputs"), Allowed);
        assert_eq!(class("cc-by-nc-4.0/weights"), NonCommercial);
        assert_eq!(class("deepseek-api/outputs"), Allowed);
        assert_eq!(conf("deepseek-api/outputs"), Confidence::Secondary);
        assert_eq!(
            conf("microsoft-research-license/outputs"),
            Confidence::Unverified
        );
        for id in [
            "bigscience-openrail-m",
            "bloom-rail-1.0",
            "creativeml-openrail-m",
            "openrail++",
        ] {
            assert_eq!(class(&format!("{id}/outputs")), Conditional, "{id}");
        }
    }

    #[test]
    fn disagreements_are_kept_as_separate_claims() {
        let c = builtin();
        let r1 = c.license("deepseek-r1-mit").unwrap();
        let outputs: Vec<&TermClaim> = r1.claims_about(ClaimSubject::Outputs).collect();
        assert!(outputs.iter().any(|cl| cl.class == TermClass::Allowed
            && cl.confidence == Confidence::Primary
            && cl
                .quote
                .as_deref()
                .is_some_and(|q| q.contains("distillation for training other LLMs"))));
        let atlas = outputs
            .iter()
            .find(|cl| cl.class == TermClass::ForbiddenOtherLlm)
            .expect("the conductatlas claim on DeepSeek-R1");
        assert_eq!(atlas.confidence, Confidence::Secondary);
        assert!(atlas.source.contains("conductatlas"));
        assert!(atlas.note.as_deref().unwrap().contains("exact page"));

        let ds = c.license("deepseek-1.0").unwrap();
        let classes: Vec<(TermClass, Confidence)> = ds
            .claims_about(ClaimSubject::Outputs)
            .map(|cl| (cl.class, cl.confidence))
            .collect();
        assert!(classes.contains(&(TermClass::Conditional, Confidence::Primary)));
        assert!(classes.contains(&(TermClass::InternalOnly, Confidence::Secondary)));

        // Anthropic: two entries, both assigned to the API.
        assert_ne!(
            c.license("anthropic-commercial").unwrap().id,
            c.license("anthropic-aup").unwrap().id
        );
    }

    #[test]
    fn most_restrictive_is_computable() {
        let mut classes = TermClass::ALL.to_vec();
        classes.sort_by_key(|c| c.restrictiveness());
        let names: Vec<&str> = classes.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "allowed",
                "conditional",
                "internal_only",
                "forbidden_competing",
                "non_commercial",
                "forbidden_other_llm"
            ]
        );
        assert_eq!(
            "forbidden-other-llm".parse::<TermClass>().unwrap(),
            TermClass::ForbiddenOtherLlm
        );
        assert!("sometimes"
            .parse::<TermClass>()
            .unwrap_err()
            .to_string()
            .contains("expected one of"));
        assert_eq!(
            serde_json::to_string(&TermClass::InternalOnly).unwrap(),
            "\"internal_only\""
        );
    }

    #[test]
    fn conditions_read_from_toml_and_describe_themselves() {
        let v: toml::Value = "c = { kind = \"user_limit\", monthly_active_users = 700000000 }"
            .parse::<toml::Table>()
            .unwrap()["c"]
            .clone();
        let cond: Condition = v.try_into().unwrap();
        assert_eq!(
            cond,
            Condition::UserLimit {
                monthly_active_users: 700_000_000
            }
        );
        assert!(cond.describe().contains("700 million"));
        assert!(Condition::NamePrefix {
            prefix: "Llama".into()
        }
        .describe()
        .contains("\"Llama\""));
        assert_eq!(human_count(1_234_567), "1,234,567");
        let bad: toml::Value = "c = { kind = \"name_prefix\", prefix = \"L\", extra = 1 }"
            .parse::<toml::Table>()
            .unwrap()["c"]
            .clone();
        assert!(bad.try_into::<Condition>().is_err());
        let unknown: toml::Value =
            "c = { kind = \"royalty\" }".parse::<toml::Table>().unwrap()["c"].clone();
        assert!(unknown.try_into::<Condition>().is_err());
    }

    fn sample_entry() -> LicenseEntry {
        let read = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        LicenseEntry {
            id: "x".into(),
            name: "X License".into(),
            version: None,
            effective: None,
            source: "https://example.com/x".into(),
            read,
            confidence: Confidence::Primary,
            text_file: None,
            text_digest: None,
            spdx: None,
            hf_ids: vec![],
            hf_license_names: vec![],
            claims: vec![TermClaim {
                id: "x/outputs".into(),
                subject: ClaimSubject::Outputs,
                class: TermClass::Allowed,
                summary: "fine".into(),
                clause: None,
                quote: None,
                conditions: vec![],
                exempt_family: None,
                internal_exception: None,
                source: "https://example.com/x".into(),
                confidence: Confidence::Primary,
                read,
                note: None,
            }],
        }
    }

    #[test]
    fn validate_reports_missing_source_and_read_date_on_entries_and_claims() {
        let ok = Catalog {
            licenses: vec![sample_entry()],
            models: vec![],
        };
        assert_eq!(ok.validate(), Vec::<String>::new());

        let mut bad = sample_entry();
        bad.source = String::new();
        bad.read = NaiveDate::MIN;
        bad.claims[0].source = "example.com/no-scheme".into();
        bad.claims[0].read = NaiveDate::from_ymd_opt(2099, 1, 1).unwrap();
        let problems = Catalog {
            licenses: vec![bad],
            models: vec![],
        }
        .validate();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("license 'x': no source"), "{problems:#?}");
        assert!(has("license 'x': no plausible read date"), "{problems:#?}");
        assert!(has("claim 'x/outputs' of license 'x': source 'example.com/no-scheme' is not an http(s) URL"), "{problems:#?}");
        assert!(
            has("claim 'x/outputs' of license 'x': read date 2099-01-01 is in the future"),
            "{problems:#?}"
        );

        let mut no_claims = sample_entry();
        no_claims.claims.clear();
        let mut dup = sample_entry();
        dup.claims[0].id = "y/outputs".into();
        let model = ModelAssignment {
            vendor: "v".into(),
            model: "m*".into(),
            revision: None,
            channel: Channel::Weights,
            license: "nope".into(),
            family: "f".into(),
            from: NaiveDate::from_ymd_opt(2025, 1, 1),
            until: NaiveDate::from_ymd_opt(2024, 1, 1),
            source: String::new(),
            confidence: Confidence::Unverified,
            read: NaiveDate::MIN,
            note: None,
        };
        let problems = Catalog {
            licenses: vec![no_claims, dup],
            models: vec![model],
        }
        .validate();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("license 'x': no claims"), "{problems:#?}");
        assert!(
            has("the id is used by more than one entry"),
            "{problems:#?}"
        );
        assert!(has("must start with 'x/'"), "{problems:#?}");
        assert!(has("license 'nope' is not in the catalog"), "{problems:#?}");
        assert!(
            has("from (2025-01-01) must be before until"),
            "{problems:#?}"
        );
        assert!(
            has("model assignment #1 (v/m*, weights): no source"),
            "{problems:#?}"
        );
        assert!(
            has("model assignment #1 (v/m*, weights): no plausible read date"),
            "{problems:#?}"
        );
    }

    const MINIMAL: &str = r#"
[[licenses]]
id = "x"
name = "X"
source = "https://example.com/x"
read = 2026-11-01
confidence = "primary"

[[licenses.claims]]
id = "x/outputs"
subject = "outputs"
class = "allowed"
summary = "fine"
source = "https://example.com/x"
read = 2026-11-01
confidence = "primary"
"#;

    #[test]
    fn a_file_missing_source_read_or_confidence_is_rejected_naming_entry_and_field() {
        assert_eq!(
            Catalog::from_toml(MINIMAL, "user.toml").unwrap().validate(),
            Vec::<String>::new()
        );
        // Drop each provenance field once on the entry (first occurrence) and once on the claim
        // (second occurrence).
        for field in ["source = ", "read = ", "confidence = "] {
            for (occurrence, record) in [(0, "license 'x'"), (1, "claim 'x/outputs'")] {
                let mut lines: Vec<&str> = MINIMAL.lines().collect();
                let idx = lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.starts_with(field))
                    .nth(occurrence)
                    .unwrap()
                    .0;
                lines.remove(idx);
                let err = Catalog::from_toml(&lines.join("\n"), "user.toml")
                    .unwrap_err()
                    .to_string();
                let name = field.trim_end_matches(" = ");
                assert!(err.contains("user.toml"), "{err}");
                assert!(err.contains(record), "{field} on {record}: {err}");
                assert!(
                    err.contains(&format!("missing required field '{name}'")),
                    "{err}"
                );
            }
        }
        let err = Catalog::from_toml(&MINIMAL.replace("\"primary\"", "\"sure\""), "u.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("confidence 'sure'"), "{err}");
        let err = Catalog::from_toml(
            &MINIMAL.replace("read = 2026-11-01", "read = \"yesterday\""),
            "u.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a date"), "{err}");
        let err = Catalog::from_toml(
            &MINIMAL.replace("class = \"allowed\"", "class = \"maybe\""),
            "u.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("claim 'x/outputs'") && err.contains("maybe"),
            "{err}"
        );
        let err = Catalog::from_toml(&MINIMAL.replace("summary = ", "sumary = "), "u.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sumary"), "{err}");
        let err = Catalog::from_toml(
            &format!("{MINIMAL}\n[[models]]\nvendor = \"v\"\nmodel = \"m\"\n"),
            "u.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("model assignment #1 (v/m, ?)") && err.contains("channel"),
            "{err}"
        );
    }

    #[test]
    fn arbitrary_input_never_panics() {
        for junk in [
            "",
            "=",
            "[[licenses]]",
            "licenses = 3",
            "[[licenses]]\nclaims = 5",
            "[[licenses]]\nid = 5",
            "[[licenses]]\n[[licenses.claims]]\nconditions = [1, \"a\", {kind = 3}]",
            "models = [1, 2]",
            "[[models]]\nfrom = 1979-05-27T07:32:00Z",
            "schema_version = 2",
            "other = 1",
            "\u{0}",
            "[[licenses]]\nread = 9999-12-31",
            "[[licenses]]\nhf_ids = [1]",
        ] {
            let _ = Catalog::from_toml(junk, "junk.toml");
        }
        assert!(Catalog::from_toml("", "empty.toml")
            .unwrap()
            .licenses
            .is_empty());
        let err = Catalog::from_toml("schema_version = 2", "s.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("schema_version 2"), "{err}");
    }

    #[test]
    fn every_shipped_text_is_embedded_used_and_recognised() {
        let c = builtin();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/texts");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".txt"))
            .collect();
        files.sort();
        assert_eq!(
            files.len(),
            EMBEDDED_TEXTS.len(),
            "every catalog/texts/*.txt must be in EMBEDDED_TEXTS"
        );
        for file in &files {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            assert_eq!(
                embedded_text(file),
                Some(text.as_str()),
                "{file} is embedded as is"
            );
            let entry = c
                .licenses
                .iter()
                .find(|l| l.text_file.as_deref() == Some(file.as_str()))
                .unwrap_or_else(|| panic!("no entry uses {file}"));
            for (how, variant) in reformatted(&text) {
                assert_eq!(
                    c.recognise(&variant).map(|l| l.id.as_str()),
                    Some(entry.id.as_str()),
                    "{file} {how}"
                );
            }
            let changed = text.replacen("not", "", 1);
            assert!(
                c.recognise(&changed).is_none(),
                "{file} with a word removed must not match"
            );
        }
        let mit = "MIT License\n\nCopyright (c) 2023 DeepSeek\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software...";
        assert!(c.recognise(mit).is_none());
        assert!(c.recognise("").is_none());
        // The Llama 3.x texts differ from one another.
        let digests: std::collections::HashSet<_> = c
            .licenses
            .iter()
            .filter_map(|l| l.text_digest.clone())
            .collect();
        assert_eq!(digests.len(), EMBEDDED_TEXTS.len());
    }

    /// The same text as users meet it: CRLF, re-wrapped, extra blank lines, curly or straight
    /// quotes.
    fn reformatted(text: &str) -> Vec<(&'static str, String)> {
        let mut rewrapped = String::from("\n\n\n");
        let mut line = String::new();
        for (i, word) in text.split_whitespace().enumerate() {
            if line.len() + word.len() > 60 {
                rewrapped.push_str(line.trim_end());
                rewrapped.push_str(if i % 7 == 0 { "\n\n\n" } else { "\n" });
                line.clear();
            }
            line.push_str(word);
            line.push(' ');
        }
        rewrapped.push_str(&line);
        rewrapped.push_str("\n\n\n");
        let mut open = true;
        let curly: String = text
            .chars()
            .map(|c| match c {
                '"' => {
                    open = !open;
                    if open {
                        '\u{201d}'
                    } else {
                        '\u{201c}'
                    }
                }
                '\'' => '\u{2019}',
                other => other,
            })
            .collect();
        let straight: String = text
            .chars()
            .map(|c| match c {
                '\u{201c}' | '\u{201d}' => '"',
                '\u{2018}' | '\u{2019}' => '\'',
                other => other,
            })
            .collect();
        vec![
            ("as shipped", text.to_string()),
            ("with CRLF", text.replace('\n', "\r\n")),
            ("re-wrapped with blank lines", rewrapped.clone()),
            ("re-wrapped with CRLF", rewrapped.replace('\n', "\r\n")),
            ("with curly quotes", curly),
            ("with straight quotes", straight),
            (
                "indented",
                text.lines()
                    .map(|l| format!("    {l}  "))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        ]
    }

    #[test]
    fn quotes_from_shipped_texts_are_verbatim() {
        let c = builtin();
        let mut checked = 0;
        for l in c.licenses.iter().filter(|l| l.text_file.is_some()) {
            let text = normalise(embedded_text(l.text_file.as_deref().unwrap()).unwrap());
            for claim in l.claims.iter().filter(|cl| cl.source == l.source) {
                if let Some(q) = &claim.quote {
                    assert!(
                        text.contains(&normalise(q)),
                        "quote of {} not found in {}",
                        claim.id,
                        l.id
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 15, "{checked}");
    }

    #[test]
    fn assignments_by_model_channel_and_date() {
        let c = builtin();
        let w = Channel::Weights;
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-V3", w, at(2025, 1, 15)),
            ["deepseek-1.0"]
        );
        assert!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-V3", w, at(2024, 6, 1)).is_empty(),
            "not released yet"
        );
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-V3-0324", w, None),
            ["mit"]
        );
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-V3.2-Exp", w, at(2025, 10, 1)),
            ["mit"]
        );
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-R1", w, at(2025, 2, 1)),
            ["deepseek-r1-mit"]
        );
        assert_eq!(
            c.license(&licenses_of(&c, "deepseek-ai", "DeepSeek-R1", w, None)[0])
                .unwrap()
                .spdx
                .as_deref(),
            Some("MIT")
        );
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-R1-Distill-Llama-8B", w, None),
            ["llama3.1", "deepseek-r1-mit"],
            "the distilled model keeps its base license, and R1's"
        );
        assert_eq!(
            c.family_of("deepseek-ai", "DeepSeek-R1-Distill-Llama-8B"),
            Some("llama3.1")
        );
        assert_eq!(
            licenses_of(&c, "deepseek", "deepseek-chat", Channel::Api, None),
            ["deepseek-api"]
        );
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "deepseek-reasoner", Channel::Api, None),
            ["deepseek-api"]
        );
        assert!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-V3", Channel::Api, None)
                .contains(&"deepseek-api".to_string())
        );

        assert_eq!(
            licenses_of(&c, "Qwen", "Qwen2.5-7B-Instruct", w, None),
            ["apache-2.0"]
        );
        assert_eq!(
            licenses_of(&c, "qwen", "qwen2.5-7b", w, None),
            ["apache-2.0"],
            "case-insensitive"
        );
        assert_eq!(
            licenses_of(&c, "Qwen", "Qwen2.5-72B-Instruct", w, None),
            ["qwen"]
        );
        assert_eq!(
            licenses_of(&c, "Qwen", "Qwen2.5-3B", w, None),
            ["qwen-research"]
        );
        assert_eq!(
            licenses_of(&c, "Qwen", "Qwen-7B-Chat", w, None),
            ["tongyi-qianwen"]
        );
        assert_eq!(
            licenses_of(&c, "Qwen", "Qwen-1_8B", w, None),
            ["tongyi-qianwen-research"]
        );
        assert_eq!(
            licenses_of(&c, "meta-llama", "Llama-3.1-8B-Instruct", w, None),
            ["llama3.1"]
        );
        assert_eq!(
            licenses_of(&c, "meta-llama", "Meta-Llama-3.1-8B-Instruct", w, None),
            ["llama3.1"]
        );
        assert_eq!(
            licenses_of(&c, "meta-llama", "Meta-Llama-3-8B", w, None),
            ["llama3"]
        );
        assert_eq!(
            licenses_of(&c, "meta-llama", "Llama-2-7b-hf", w, None),
            ["llama2"]
        );
        assert_eq!(
            c.family_of("meta-llama", "Llama-2-7b-chat-hf"),
            Some("llama2")
        );
        assert_eq!(
            licenses_of(&c, "google", "gemma-2-9b-it", w, None),
            ["gemma"]
        );
        assert_eq!(licenses_of(&c, "google", "gemma-2b-it", w, None), ["gemma"]);
        assert_eq!(
            licenses_of(&c, "google", "gemma-4-31b-it", w, None),
            ["apache-2.0"]
        );
        assert_eq!(
            licenses_of(&c, "google", "gemini-2.5-pro", Channel::Api, None),
            ["gemini-api"]
        );
        assert_eq!(
            licenses_of(&c, "mistralai", "Mistral-Large-Instruct-2411", w, None),
            ["mrl-0.1"]
        );
        assert_eq!(
            licenses_of(&c, "mistralai", "Codestral-22B-v0.1", w, None),
            ["mnpl-0.1"]
        );
        assert_eq!(
            licenses_of(&c, "mistralai", "Mixtral-8x7B-Instruct-v0.1", w, None),
            ["apache-2.0"]
        );
        assert_eq!(
            licenses_of(&c, "openai", "gpt-4o", Channel::Api, None),
            ["openai-services"]
        );
        assert!(
            licenses_of(&c, "openai", "gpt-oss-120b", w, None).is_empty(),
            "no weights assignment for OpenAI"
        );
        assert_eq!(
            licenses_of(&c, "xai-org", "grok-2", w, None),
            ["grok2-community"]
        );
        assert_eq!(
            licenses_of(&c, "xai", "grok-4", Channel::Api, None),
            ["xai-tos"]
        );
        assert_eq!(
            licenses_of(&c, "CohereForAI", "c4ai-command-r-plus", w, None),
            ["cc-by-nc-4.0"]
        );
        assert_eq!(
            licenses_of(&c, "bigscience", "bloomz-7b1", w, None),
            ["bloom-rail-1.0"]
        );

        let mut anthropic = licenses_of(
            &c,
            "anthropic",
            "claude-sonnet-4-5",
            Channel::Api,
            at(2026, 1, 1),
        );
        anthropic.sort();
        assert_eq!(anthropic, ["anthropic-aup", "anthropic-commercial"]);

        let before = licenses_of(&c, "microsoft", "phi-2", w, at(2023, 12, 20));
        let after = licenses_of(&c, "microsoft", "phi-2", w, at(2024, 3, 1));
        assert_eq!(before, ["microsoft-research-license"]);
        assert_eq!(after, ["mit"]);
        assert_eq!(
            licenses_of(&c, "microsoft", "phi-2", w, at(2024, 1, 10)).len(),
            2,
            "January 2024 is uncertain"
        );
        assert!(licenses_of(&c, "unknown-org", "model", w, None).is_empty());
        assert_eq!(c.family_of("unknown-org", "model"), None);
    }

    #[test]
    fn assignments_rank_exact_and_revision_specific_first() {
        let mut c = builtin();
        let mut exact_rev = c
            .models
            .iter()
            .find(|m| m.model == "DeepSeek-V3")
            .unwrap()
            .clone();
        exact_rev.revision = Some("abc123".into());
        exact_rev.license = "mit".into();
        let mut pattern = exact_rev.clone();
        pattern.model = "DeepSeek-V*".into();
        pattern.revision = None;
        pattern.license = "apache-2.0".into();
        c.models.push(pattern);
        c.models.push(exact_rev);
        let got: Vec<&str> = c
            .assignments(
                "deepseek-ai",
                "DeepSeek-V3",
                Some("ABC123"),
                Channel::Weights,
                at(2025, 2, 1),
            )
            .iter()
            .map(|a| a.license.as_str())
            .collect();
        assert_eq!(got, ["mit", "deepseek-1.0", "apache-2.0"]);
        let without_rev: Vec<&str> = c
            .assignments(
                "deepseek-ai",
                "DeepSeek-V3",
                None,
                Channel::Weights,
                at(2025, 2, 1),
            )
            .iter()
            .map(|a| a.license.as_str())
            .collect();
        assert_eq!(without_rev, ["deepseek-1.0", "apache-2.0"]);
    }

    #[test]
    fn glob_patterns() {
        assert!(glob_match("Qwen2.5-7B*", "qwen2.5-7b-instruct"));
        assert!(!glob_match("Qwen2.5-7B*", "Qwen2.5-72B"));
        assert!(glob_match("*Nemotron*", "Llama-3.1-Nemotron-70B-Instruct"));
        assert!(glob_match("Mistral-Large-*2407", "Mistral-Large-2407"));
        assert!(glob_match(
            "Mistral-Large-*2407",
            "Mistral-Large-Instruct-2407"
        ));
        assert!(!glob_match(
            "Mistral-Large-*2407",
            "Mistral-Large-Instruct-2411"
        ));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
        assert!(glob_match("a**b", "ab"));
        assert!(
            glob_match("İ*", "i\u{307}x"),
            "unicode lowercase does not panic"
        );
    }

    #[test]
    fn lookups_by_id_hub_id_spdx_and_version() {
        let c = builtin();
        let id = |s: &str| c.license(s).map(|l| l.id.as_str());
        assert_eq!(id("LLAMA3.1"), Some("llama3.1"));
        assert_eq!(
            id("MIT"),
            Some("mit"),
            "the generic MIT entry, not DeepSeek-R1's"
        );
        assert_eq!(id("Apache-2.0"), Some("apache-2.0"));
        assert_eq!(id("CC-BY-NC-4.0"), Some("cc-by-nc-4.0"));
        assert_eq!(id("LicenseRef-Llama-2-Community"), Some("llama2"));
        assert_eq!(id("bigscience-bloom-rail-1.0"), Some("bloom-rail-1.0"));
        assert_eq!(id("deepseek"), Some("deepseek-1.0"));
        assert_eq!(id("deepseek@1.0"), Some("deepseek-1.0"));
        assert_eq!(id("deepseek@2.0"), None);
        assert_eq!(id(""), None);
        assert_eq!(id("no-such-license"), None);
    }

    #[test]
    fn resolve_hub_license_fields() {
        let c = builtin();
        let id = |l: &str, n: Option<&str>| c.resolve_hf(l, n).map(|e| e.id.as_str());
        assert_eq!(id("llama3.1", None), Some("llama3.1"));
        assert_eq!(id("other", Some("deepseek")), Some("deepseek-1.0"));
        assert_eq!(id("other", Some("tongyi-qianwen")), Some("tongyi-qianwen"));
        assert_eq!(id("Other", Some(" Qwen-Research ")), Some("qwen-research"));
        assert_eq!(id("apache-2.0", None), Some("apache-2.0"));
        assert_eq!(id("other", None), None);
        assert_eq!(id("other", Some("acme-proprietary")), None);
        assert_eq!(id("wtfpl-9", None), None);
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn user_file_replaces_one_entry_and_adds_others() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "ours.txt",
            "Our Own Model License\nYou may not do anything.\n",
        );
        let user = write(
            dir.path(),
            "catalog.toml",
            r#"
[[licenses]]
id = "deepseek-1.0"
name = "DeepSeek License Agreement (our legal team's reading)"
version = "1.0"
source = "https://github.com/deepseek-ai/DeepSeek-V3/blob/main/LICENSE-MODEL"
read = 2026-11-20
confidence = "primary"
hf_license_names = ["deepseek"]

[[licenses.claims]]
id = "deepseek-1.0/outputs"
subject = "outputs"
class = "internal_only"
summary = "Legal decided to treat outputs as internal-only."
source = "https://github.com/deepseek-ai/DeepSeek-V3/blob/main/LICENSE-MODEL"
read = 2026-11-20
confidence = "primary"

[[licenses]]
id = "acme-internal"
name = "ACME internal model terms"
source = "https://intranet.acme.example/terms"
read = 2026-11-20
confidence = "primary"
text_file = "ours.txt"

[[licenses.claims]]
id = "acme-internal/outputs"
subject = "outputs"
class = "internal_only"
summary = "Internal use only."
source = "https://intranet.acme.example/terms"
read = 2026-11-20
confidence = "primary"

[[models]]
vendor = "deepseek-ai"
model = "DeepSeek-V3*"
channel = "weights"
license = "deepseek-1.0"
family = "deepseek-v3"
source = "https://github.com/deepseek-ai/DeepSeek-V3/blob/main/LICENSE-MODEL"
read = 2026-11-20
confidence = "primary"
note = "We apply LICENSE-MODEL to every V3 release."
"#,
        );
        let base = builtin();
        let c = Catalog::load_with_overrides(&user).unwrap();
        assert_eq!(c.validate(), Vec::<String>::new());
        assert_eq!(c.licenses.len(), base.licenses.len() + 1);
        let ds = c.license("deepseek-1.0").unwrap();
        assert_eq!(ds.claims.len(), 1);
        assert_eq!(ds.claims[0].class, TermClass::InternalOnly);
        assert_eq!(ds.text_digest, None, "the user entry has no text");
        for l in &base.licenses {
            if l.id != "deepseek-1.0" {
                assert_eq!(c.license(&l.id), Some(l), "{} must be unchanged", l.id);
            }
        }
        assert_eq!(
            c.recognise("our own model license. You may not do anything")
                .unwrap()
                .id,
            "acme-internal"
        );
        // The user's V3* assignment replaces the built-in V3, V3-0324, V3.1 and V3.2 ones.
        let v3 = c.assignments(
            "deepseek-ai",
            "DeepSeek-V3-0324",
            None,
            Channel::Weights,
            None,
        );
        assert_eq!(v3.len(), 1);
        assert_eq!(v3[0].license, "deepseek-1.0");
        assert_eq!(
            licenses_of(&c, "deepseek-ai", "DeepSeek-R1", Channel::Weights, None),
            ["deepseek-r1-mit"]
        );
        assert_eq!(c.models.len(), base.models.len() + 1 - 5);
    }

    #[test]
    fn malformed_or_inconsistent_user_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "broken.toml", "[[licenses]\nid = \"x\"\n");
        let err = Catalog::load_with_overrides(&bad).unwrap_err().to_string();
        assert!(
            err.contains("broken.toml") && err.contains("not valid TOML"),
            "{err}"
        );

        let dangling = write(
            dir.path(),
            "dangling.toml",
            "[[models]]\nvendor = \"a\"\nmodel = \"b\"\nchannel = \"api\"\nlicense = \"nope\"\nfamily = \"f\"\n\
             source = \"https://a.example/\"\nread = 2026-01-01\nconfidence = \"primary\"\n",
        );
        let err = Catalog::load_with_overrides(&dangling)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dangling.toml") && err.contains("license 'nope' is not in the catalog"),
            "{err}"
        );

        let missing_text = write(
            dir.path(),
            "text.toml",
            &MINIMAL.replace(
                "confidence = \"primary\"\n\n",
                "confidence = \"primary\"\ntext_file = \"gone.txt\"\n\n",
            ),
        );
        let err = Catalog::load_with_overrides(&missing_text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("text.toml") && err.contains("gone.txt"),
            "{err}"
        );

        let err = Catalog::load_with_overrides(&dir.path().join("absent.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.toml"), "{err}");
    }

    fn replace_section(doc: &str, name: &str, body: &str) -> Option<String> {
        let start = format!("<!-- generated:{name}:start -->\n");
        let end = format!("<!-- generated:{name}:end -->");
        let s = doc.find(&start)? + start.len();
        let e = doc[s..].find(&end)? + s;
        Some(format!("{}{}{}", &doc[..s], body, &doc[e..]))
    }

    /// `docs/license-catalog.md` lists every entry and assignment. Set MLPROV_BLESS_DOCS=1 to
    /// regenerate its tables.
    #[test]
    fn doc_tables_list_every_entry() {
        let c = builtin();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/license-catalog.md");
        let mut doc = std::fs::read_to_string(&path).unwrap();
        let wanted = replace_section(&doc, "licenses", &c.licenses_markdown())
            .and_then(|d| replace_section(&d, "models", &c.models_markdown()))
            .expect(
                "docs/license-catalog.md has the generated:licenses and generated:models markers",
            );
        if std::env::var_os("MLPROV_BLESS_DOCS").is_some() && wanted != doc {
            std::fs::write(&path, &wanted).unwrap();
            doc = wanted.clone();
        }
        for l in &c.licenses {
            assert!(
                doc.contains(&format!("| `{}` |", l.id)),
                "docs/license-catalog.md misses entry {}",
                l.id
            );
        }
        assert!(
            doc == wanted,
            "docs/license-catalog.md tables are out of date: run MLPROV_BLESS_DOCS=1 cargo test --lib catalog::tests::doc_tables"
        );
    }
}
