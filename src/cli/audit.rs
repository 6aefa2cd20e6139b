//! Commands of the audit: audit, waive, licenses.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::output::{self, parse_time};
use super::{Context, Format};
use crate::audit;
use crate::catalog::Catalog;
use crate::error::{Error, Result, EXIT_OK, EXIT_PROBLEMS};
use crate::policy::{Policy, Severity};
use crate::records::{self, id, StoredRecord, WaiverRecord};
use crate::reference::{self, Target};
use crate::store::Store;
use crate::view::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Audit only the upstream of this checkpoint or run (default: every training run).
    pub scope: Option<String>,
    /// Policy file (default: mlprov.toml beside .mlprov/, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Catalog file overriding or extending the built-in license catalog.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Judge this checkpoint as if its weights were released (pre-release check); repeatable.
    #[arg(long = "assume-released", value_name = "REF")]
    pub assume_released: Vec<String>,
    /// Audit the store as it was at TIME.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Exit 1 when an active finding reaches this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

#[derive(Args, Debug)]
pub struct WaiveArgs {
    /// Finding code to waive, e.g. L101.
    #[arg(long, required_unless_present = "revoke")]
    pub code: Option<String>,
    /// The restricted model (id, name, vendor/model or path).
    #[arg(long)]
    pub model: Option<String>,
    /// The license id (from `mlprov licenses`).
    #[arg(long)]
    pub license: Option<String>,
    /// Only this checkpoint (default: every target).
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long, required_unless_present = "revoke")]
    pub reason: Option<String>,
    #[arg(long, required_unless_present = "revoke")]
    pub approved_by: Option<String>,
    /// When the waiver stops applying (required: waivers expire).
    #[arg(long, value_name = "TIME", required_unless_present = "revoke")]
    pub expires: Option<String>,
    /// Revoke an existing waiver instead.
    #[arg(long, value_name = "WAIVER_ID", conflicts_with_all = ["code", "model", "license", "target", "expires"])]
    pub revoke: Option<String>,
}

#[derive(Args, Debug)]
pub struct LicensesArgs {
    /// Show one entry (id, Hub id or SPDX id); without it, list all.
    pub id: Option<String>,
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

fn catalog_for(explicit: Option<&PathBuf>, policy: Option<&Policy>) -> Result<Catalog> {
    Catalog::for_audit(explicit.map(PathBuf::as_path), policy)
}

pub fn audit(ctx: &Context, args: AuditArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let store = ctx.open()?;
    let policy = Policy::locate(args.policy.as_deref(), store.project_dir())?;
    let catalog = catalog_for(args.catalog.as_ref(), Some(&policy))?;
    let as_of = args.as_of.as_deref().map(parse_time).transpose()?;
    let report = audit::audit_references(
        &store,
        &catalog,
        &policy,
        &args.assume_released,
        args.scope.as_deref(),
        as_of,
    )?;
    if format == Format::Json {
        output::json_pretty(&report)?;
    } else {
        let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        output::text(&audit::render::report_text(&report, colour))?;
    }
    let failed = match args.fail_on {
        FailOn::Error => report.fails_at(Severity::Error),
        FailOn::Warning => report.fails_at(Severity::Warning),
        FailOn::Never => false,
    };
    Ok(if failed { EXIT_PROBLEMS } else { EXIT_OK })
}

pub fn waive(ctx: &Context, args: WaiveArgs) -> Result<i32> {
    ctx.format_in(&[Format::Text, Format::Json])?;
    let store: Store = ctx.open()?;
    let view = View::build(&store.load()?, None);
    let mut rec = if let Some(waiver_id) = &args.revoke {
        let existing = view
            .waivers
            .get(waiver_id)
            .ok_or_else(|| Error::UnknownReference {
                reference: waiver_id.clone(),
            })?;
        let mut r = existing.clone();
        r.record_id = String::new();
        r.revoked = true;
        r.reason = args
            .reason
            .clone()
            .unwrap_or_else(|| format!("revoked: {}", existing.reason));
        if let Some(a) = &args.approved_by {
            r.approved_by = a.clone();
        }
        r.recorded_at = records::now();
        r.recorded_by = records::current_actor();
        r
    } else {
        let code = args.code.clone().unwrap_or_default().to_ascii_uppercase();
        if !audit::codes::is_known(&code) {
            return Err(Error::usage(format!(
                "unknown finding code '{code}'; see docs/findings.md"
            )));
        }
        if args.model.is_none() && args.license.is_none() {
            return Err(Error::usage(
                "a waiver names the restricted --model, its --license, or both",
            ));
        }
        let model = args
            .model
            .as_deref()
            .map(|m| reference::resolve_artifact(&store, &view, m))
            .transpose()?;
        let target = match args.target.as_deref() {
            Some(t) => match reference::resolve(&store, &view, t)? {
                Target::Artifact(a) => Some(a),
                Target::Run(r) => {
                    return Err(Error::usage(format!(
                        "--target names run {r}; give the checkpoint"
                    )))
                }
            },
            None => None,
        };
        let expires_at = parse_time(args.expires.as_deref().unwrap_or_default())?;
        if expires_at <= records::now() {
            return Err(Error::usage(
                "--expires is in the past; a waiver must expire in the future",
            ));
        }
        WaiverRecord {
            record_id: String::new(),
            waiver_id: id::new_waiver(),
            code,
            model,
            license: args.license.clone().map(|l| l.to_ascii_lowercase()),
            target,
            reason: args.reason.clone().unwrap_or_default(),
            approved_by: args.approved_by.clone().unwrap_or_default(),
            expires_at,
            revoked: false,
            recorded_at: records::now(),
            recorded_by: records::current_actor(),
        }
    };
    if rec.reason.trim().is_empty() || rec.approved_by.trim().is_empty() {
        return Err(Error::usage("a waiver needs a --reason and --approved-by"));
    }
    rec.seal();
    store.append(records::Batch {
        waivers: vec![rec.clone()],
        ..Default::default()
    })?;
    if ctx.format == Format::Json {
        output::json_line(&rec)?;
    } else {
        let verb = if rec.revoked { "revoked" } else { "recorded" };
        output::line(&format!(
            "{verb} waiver {} for {} until {}",
            rec.waiver_id,
            rec.code,
            rec.expires_at.format("%Y-%m-%d")
        ))?;
    }
    Ok(EXIT_OK)
}

#[derive(Serialize)]
struct LicenseRow<'a> {
    id: &'a str,
    name: &'a str,
    version: Option<&'a str>,
    classes: Vec<String>,
    confidence: records::Confidence,
    source: &'a str,
    read: chrono::NaiveDate,
}

pub fn licenses(ctx: &Context, args: LicensesArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let catalog = catalog_for(args.catalog.as_ref(), None)?;
    if let Some(wanted) = &args.id {
        let entry = catalog
            .license(wanted)
            .ok_or_else(|| Error::UnknownReference {
                reference: wanted.clone(),
            })?;
        if format == Format::Json {
            output::json_pretty(entry)?;
        } else {
            let mut s = format!("{} — {}\n", entry.id, entry.name);
            if let Some(v) = &entry.version {
                s.push_str(&format!("  version:   {v}\n"));
            }
            if let Some(d) = entry.effective {
                s.push_str(&format!("  effective: {d}\n"));
            }
            s.push_str(&format!(
                "  source:    {} ({}, read {})\n",
                entry.source, entry.confidence, entry.read
            ));
            if let Some(d) = &entry.text_digest {
                s.push_str(&format!("  text:      blake3 {d} (normalised)\n"));
            }
            for c in &entry.claims {
                s.push_str(&format!(
                    "  claim {} [{} about {}]: {}\n",
                    c.id,
                    c.class.as_str(),
                    c.subject.as_str(),
                    c.summary
                ));
                if let Some(q) = &c.quote {
                    let clause = c
                        .clause
                        .as_deref()
                        .map(|c| format!("{c}: "))
                        .unwrap_or_default();
                    s.push_str(&format!("    {clause}\"{q}\"\n"));
                }
                for cond in &c.conditions {
                    s.push_str(&format!("    condition: {}\n", cond.describe()));
                }
                s.push_str(&format!(
                    "    source: {} ({}, read {})\n",
                    c.source, c.confidence, c.read
                ));
            }
            output::text(&s)?;
        }
        return Ok(EXIT_OK);
    }
    let rows: Vec<LicenseRow> = catalog
        .licenses
        .iter()
        .map(|e| {
            let mut classes: Vec<String> = Vec::new();
            for c in &e.claims {
                if !classes.iter().any(|k| k == c.class.as_str()) {
                    classes.push(c.class.as_str().to_string());
                }
            }
            LicenseRow {
                id: &e.id,
                name: &e.name,
                version: e.version.as_deref(),
                classes,
                confidence: e.confidence,
                source: &e.source,
                read: e.read,
            }
        })
        .collect();
    if format == Format::Json {
        output::json_pretty(&serde_json::json!({ "licenses": rows }))?;
    } else {
        for r in rows {
            output::line(&format!(
                "{:<28} {:<12} {:<40} {}",
                r.id,
                r.confidence.as_str(),
                r.classes.join(","),
                r.name
            ))?;
        }
    }
    Ok(EXIT_OK)
}
