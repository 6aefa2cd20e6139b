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

/// The records a report or export needs (every record when `whole`), and the audit.
fn load(
    ctx: &Context,
    target: Option<&str>,
    source: &SourceArgs,
    assume: &[String],
    whole: bool,
) -> Result<Loaded> {
    let store = ctx.open()?;
    let policy = Policy::locate(source.policy.as_deref(), store.project_dir())?;
    let catalog = match source.catalog.as_ref().or(policy.catalog.as_ref()) {
        Some(p) => Catalog::load_with_overrides(p)?,
        None => Catalog::builtin()?,
    };
    let as_of = source.as_of.as_deref().map(parse_time).transpose()?;
    let references: Vec<&str> = target
        .into_iter()
        .chain(assume.iter().map(String::as_str))
        .collect();
    let named = match as_of {
        None => crate::reference::view_for(&store, &references, &[])?,
        Some(_) => View::build(&store.load()?, as_of),
    };
    let root = target
        .map(|t| crate::reference::resolve(&store, &named, t).map(|r| r.id().to_string()))
        .transpose()?;
    let mut opts = AuditOptions::default();
    for r in assume {
        opts.assume_released
            .push(crate::reference::resolve_artifact(&store, &named, r)?);
    }
    drop(named);
    // The same report the audit of every record gives (unit tests hold the two equal), reading
    // only the records that can matter instead of judging every run.
    let report = audit::audit_store(&store, &catalog, &policy, &opts, as_of)?;
    // Parquet exports every record, and a report as of a past moment reads them all.
    let part = match (&root, as_of, whole) {
        (Some(root), None, false) => target_records(&store, root, &report)?,
        _ => None,
    };
    let snapshot = match part {
        Some(records) => records,
        None => store.load()?,
    };
    let view = View::build(&snapshot, as_of);
    Ok(Loaded {
        snapshot,
        view,
        report,
        root,
    })
}

/// What a target's report shows, read from the store: the target's upstream lineage, what
/// findings and waivers name (a finding about a run in that lineage may target a sibling
/// checkpoint), and every waiver. `None` when the lineage index does not know the target.
fn target_records(
    store: &crate::store::Store,
    root: &str,
    report: &audit::AuditReport,
) -> Result<Option<crate::store::Snapshot>> {
    let waivers = store.load_table::<crate::records::WaiverRecord>()?.0;
    let named: Vec<&str> = waivers
        .iter()
        .flat_map(|w| w.model.iter().chain(&w.target))
        .chain(report.findings.iter().flat_map(|f| {
            f.run
                .iter()
                .chain(&f.target)
                .chain(&f.model)
                .chain(f.path.iter().map(|p| &p.id))
        }))
        .map(String::as_str)
        .collect();
    let walk = crate::graph::Walk::Upstream;
    Ok(
        crate::graph::closure_snapshot(store, root, walk, &named)?.map(|mut records| {
            records.waivers = waivers;
            records
        }),
    )
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
        false,
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
    let whole = args.to == ExportFormat::Parquet;
    let l = load(ctx, args.target.as_deref(), &args.source, &[], whole)?;
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
    let l = load(ctx, None, &args.source, &[], true)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rendering of a target's report from the records of its lineage (and the waivers)
    /// equals the one from every record.
    #[test]
    fn a_targets_reports_from_its_lineage_equal_those_from_the_whole_store() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let store = &built.store;
        // A run that writes two checkpoints from a demo run's inputs: a finding about one of
        // them names the other's run, outside its lineage.
        let before = View::build(&store.load().unwrap(), None);
        let model_run = before
            .runs
            .values()
            .filter(|r| {
                r.outputs.iter().any(|o| {
                    before
                        .artifacts
                        .get(o)
                        .is_some_and(|a| a.kind == crate::records::ArtifactKind::Checkpoint)
                })
            })
            .max_by_key(|r| r.inputs.len())
            .unwrap();
        let mut twins = crate::records::Batch::default();
        let outputs: Vec<String> = (0..2)
            .map(|i| {
                let hex = blake3::hash(format!("twin {i}").as_bytes()).to_hex();
                crate::records::id::file(hex.as_str())
            })
            .collect();
        for o in &outputs {
            twins.artifacts.push(crate::records::ArtifactRecord::new(
                o.clone(),
                crate::records::ArtifactKind::Checkpoint,
            ));
        }
        let mut run = before.runs[&model_run.id].clone();
        run.id = crate::records::id::derived_run(b"twins");
        twins.runs.push(crate::records::RunRecord {
            record_id: String::new(),
            run_id: run.id.clone(),
            kind: run.kind,
            name: None,
            status: crate::records::RunStatus::Succeeded,
            started_at: run.started_at,
            ended_at: None,
            inputs: run.inputs.clone(),
            outputs,
            recorded_at: crate::records::now(),
            recorded_by: "test".into(),
        });
        store.append(twins).unwrap();
        let policy = Policy::locate(None, &built.project).unwrap();
        let catalog = Catalog::builtin().unwrap();
        let whole = View::build(&store.load().unwrap(), None);
        let whole_graph = LineageGraph::build(&whole);
        let at = crate::records::now();
        let mut compared = 0;
        let checkpoints = whole
            .artifacts
            .values()
            .filter(|a| a.kind == crate::records::ArtifactKind::Checkpoint);
        for root in checkpoints.map(|a| a.id.clone()) {
            let opts = AuditOptions::default();
            let report = audit::audit_store(store, &catalog, &policy, &opts, None).unwrap();
            let records = target_records(store, &root, &report).unwrap().unwrap();
            let part = View::build(&records, None);
            let part_graph = LineageGraph::build(&part);
            let render = |view: &View, graph: &LineageGraph| {
                let input = ExportInput::new(view, graph, &report, Some(root.clone()), at);
                let node = graph.node(&root).unwrap();
                let closure = graph.closure(node, crate::graph::Walk::Upstream, None);
                let lineage = crate::graph::render::lineage_report(view, graph, &closure, None);
                [
                    export::markdown::render(&input).unwrap(),
                    export::html::render(&input).unwrap(),
                    export::sarif::render(&input).unwrap(),
                    export::openlineage::render(&input).unwrap(),
                    export::prov::render(&input).unwrap(),
                    export::spdx::render(&input).unwrap(),
                    export::cyclonedx::render(&input).unwrap(),
                    crate::graph::render::to_dot(&lineage),
                    crate::graph::render::to_mermaid(&lineage),
                ]
            };
            let (a, b) = (render(&whole, &whole_graph), render(&part, &part_graph));
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                assert!(a == b, "{root}: rendering {i} differs");
                compared += 1;
            }
            assert!(part.artifacts.len() < whole.artifacts.len() || whole.artifacts.len() < 3);
        }
        assert!(compared >= 9);
    }
}
