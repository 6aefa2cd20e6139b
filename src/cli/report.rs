//! Commands that render reports and interchange files: report, export, and OpenLineage import.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::output::{self, parse_time};
use super::{Context, Format};
use crate::audit::{self, AuditOptions};
use crate::catalog::Catalog;
use crate::error::{Error, Result, EXIT_OK};
use crate::export::{self, ExportInput};
use crate::graph::LineageGraph;
use crate::policy::Policy;
use crate::view::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
    Sarif,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Openlineage,
    Prov,
    Spdx,
    Cyclonedx,
    Dot,
    Mermaid,
    Parquet,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The checkpoint or run to report on (default: the whole store).
    pub target: Option<String>,
    #[arg(long = "to", value_enum, default_value_t = ReportFormat::Markdown)]
    pub to: ReportFormat,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[arg(long = "assume-released", value_name = "REF")]
    pub assume_released: Vec<String>,
}

/// Where the audit that reports and exports include reads from.
#[derive(Args, Debug)]
pub struct SourceArgs {
    /// Policy file (default: mlprov.toml beside .mlprov/, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Catalog file overriding or extending the built-in license catalog.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Read the store as it was at TIME.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The checkpoint or run whose upstream to export (default: the whole store).
    pub target: Option<String>,
    #[arg(long = "to", value_enum)]
    pub to: ExportFormat,
    /// File to write (a folder for parquet); standard output when omitted (not for parquet).
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// SQL over the tables artifacts, license_claims, runs, run_inputs, run_outputs, releases,
    /// waivers, findings and composition (polars SQL dialect).
    #[arg(required_unless_present = "tables")]
    pub sql: Option<String>,
    /// List the tables and their columns instead of running a query.
    #[arg(long)]
    pub tables: bool,
    /// Print CSV instead of a table (with --format json: one JSON object per row, as an array).
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub source: SourceArgs,
}

struct Loaded {
    snapshot: crate::store::Snapshot,
    view: View,
    report: audit::AuditReport,
    root: Option<String>,
}

fn load(
    ctx: &Context,
    target: Option<&str>,
    source: &SourceArgs,
    assume: &[String],
) -> Result<Loaded> {
    let store = ctx.open()?;
    let policy = Policy::locate(source.policy.as_deref(), store.project_dir())?;
    let catalog = match source.catalog.as_ref().or(policy.catalog.as_ref()) {
        Some(p) => Catalog::load_with_overrides(p)?,
        None => Catalog::builtin()?,
    };
    let as_of = source.as_of.as_deref().map(parse_time).transpose()?;
    let snapshot = store.load()?;
    let view = View::build(&snapshot, as_of);
    let root = target
        .map(|t| crate::reference::resolve(&store, &view, t).map(|r| r.id().to_string()))
        .transpose()?;
    let mut opts = AuditOptions::default();
    for r in assume {
        opts.assume_released
            .push(crate::reference::resolve_artifact(&store, &view, r)?);
    }
    let report = audit::audit(&view, &catalog, &policy, &opts);
    Ok(Loaded {
        snapshot,
        view,
        report,
        root,
    })
}

impl Loaded {
    fn input<'a>(&'a self, graph: &'a LineageGraph) -> ExportInput<'a> {
        ExportInput::new(
            &self.view,
            graph,
            &self.report,
            self.root.clone(),
            crate::records::now(),
        )
    }
}

fn emit(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::io(path, "writing report", e)),
        None => output::text(text),
    }
}

pub fn report(ctx: &Context, args: ReportArgs) -> Result<i32> {
    let l = load(
        ctx,
        args.target.as_deref(),
        &args.source,
        &args.assume_released,
    )?;
    let graph = LineageGraph::build(&l.view);
    let input = l.input(&graph);
    let text = match args.to {
        ReportFormat::Markdown => export::markdown::render(&input)?,
        ReportFormat::Html => export::html::render(&input)?,
        ReportFormat::Sarif => export::sarif::render(&input)?,
        ReportFormat::Json => {
            serde_json::to_string_pretty(&l.report).map_err(|e| Error::usage(e.to_string()))?
        }
    };
    emit(args.output.as_deref(), &text)?;
    Ok(EXIT_OK)
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<i32> {
    let l = load(ctx, args.target.as_deref(), &args.source, &[])?;
    if args.to == ExportFormat::Parquet {
        let dir = args
            .output
            .as_deref()
            .ok_or_else(|| Error::usage("--to parquet writes a folder: give --output DIR"))?;
        let files = export::parquet::export(&l.snapshot, &l.report.findings, dir)?;
        for f in files {
            output::line(&format!("wrote {}", f.display()))?;
        }
        return Ok(EXIT_OK);
    }
    let graph = LineageGraph::build(&l.view);
    let input = l.input(&graph);
    let text = match args.to {
        ExportFormat::Openlineage => export::openlineage::render(&input)?,
        ExportFormat::Prov => export::prov::render(&input)?,
        ExportFormat::Spdx => export::spdx::render(&input)?,
        ExportFormat::Cyclonedx => export::cyclonedx::render(&input)?,
        ExportFormat::Dot | ExportFormat::Mermaid => {
            let node = match &l.root {
                Some(r) => graph.node(r).expect("resolved ids are graph nodes"),
                None => {
                    return Err(Error::usage(
                        "dot and mermaid export one artifact's lineage: give a TARGET",
                    ))
                }
            };
            let closure = graph.closure(node, crate::graph::Walk::Upstream, None);
            let lineage = crate::graph::render::lineage_report(&l.view, &graph, &closure, None);
            if args.to == ExportFormat::Dot {
                crate::graph::render::to_dot(&lineage)
            } else {
                crate::graph::render::to_mermaid(&lineage)
            }
        }
        ExportFormat::Parquet => unreachable!("handled above"),
    };
    emit(args.output.as_deref(), &text)?;
    Ok(EXIT_OK)
}

/// `mlprov query "SQL"`.
pub fn query(ctx: &Context, args: QueryArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let l = load(ctx, None, &args.source, &[])?;
    let tables = crate::query::tables(&l.view, &l.report);
    if args.tables {
        return output::text(&crate::query::describe_tables(&tables)).map(|_| EXIT_OK);
    }
    let sql = args.sql.as_deref().unwrap_or_default();
    let df = crate::query::run(sql, tables)?;
    match (format, args.csv) {
        (Format::Json, _) => output::json_pretty(&crate::query::to_json_rows(&df))?,
        (_, true) => output::text(&crate::query::to_csv(&df))?,
        _ => output::text(&format!("{df}\n"))?,
    }
    Ok(EXIT_OK)
}

/// `mlprov import --openlineage FILE`.
pub fn import_openlineage(ctx: &Context, file: &Path) -> Result<i32> {
    let store = ctx.open()?;
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, "reading", e))?;
    let batch = export::openlineage::import_events(&text, &file.display().to_string())?;
    let receipt = store.append(batch)?;
    output::line(&format!(
        "imported {} records from OpenLineage events into {} segments",
        receipt.records,
        receipt.segments.len()
    ))?;
    Ok(EXIT_OK)
}
