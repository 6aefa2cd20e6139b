//! The `mlprov` command line: argument parsing and output only; every action is a library call.

mod audit;
mod inspect;
mod output;
mod record;
mod report;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result, EXIT_BAD_INPUT};
use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "mlprov",
    version,
    about = "Provenance for ML pipelines: tag data and checkpoints, record runs, walk their lineage",
    after_help = "Exit codes: 0 ok, 1 a check found problems, 2 bad usage or bad input (nothing written).\n\
                  Store: --store PATH, else MLPROV_STORE, else the nearest .mlprov/ above the current directory."
)]
pub struct Cli {
    /// Store location: a project folder containing .mlprov/, the .mlprov folder itself, or a URL.
    #[arg(long, global = true, env = "MLPROV_STORE", value_name = "PATH|URL")]
    pub store: Option<String>,

    /// Output format. Reading commands accept text and json; lineage also dot and mermaid.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a store (.mlprov/) in DIR (default: the current directory), or at an s3://, gs:// or az:// URL.
    Init { dir: Option<PathBuf> },
    /// Tag data, synthetic data, checkpoints or external models.
    #[command(subcommand)]
    Tag(record::TagCommand),
    /// Record a run (`mlprov run KIND ...`), or `run start` / `run finish` for long jobs.
    Run(record::RunArgs),
    /// Change a checkpoint's distribution from a date on.
    Release(record::ReleaseArgs),
    /// Everything recorded about an artifact or run.
    Show(inspect::ShowArgs),
    /// Upstream or downstream lineage of an artifact or run, or the path from one to another.
    Lineage(inspect::LineageArgs),
    /// List recorded artifacts, runs or releases.
    Ls(inspect::LsArgs),
    /// Check the store's integrity and re-hash recorded artifacts; exit 1 on problems.
    Verify(inspect::VerifyArgs),
    /// Audit every training run (or one checkpoint's upstream) against the license catalog and policy.
    Audit(audit::AuditArgs),
    /// Record (or --revoke) a scoped, reasoned, approved, expiring waiver for a finding.
    Waive(audit::WaiveArgs),
    /// List the license catalog, or show one entry with its claims and sources.
    Licenses(audit::LicensesArgs),
    /// A report of a checkpoint, a run or the whole store: Markdown, HTML, SARIF or JSON.
    Report(report::ReportArgs),
    /// Export lineage for other systems: OpenLineage, PROV, SPDX 3, CycloneDX, DOT, Mermaid, Parquet.
    Export(report::ExportArgs),
    /// Run SQL (polars) over the store's tables, the audit's findings and row compositions.
    Query(report::QueryArgs),
    /// Merge small segments into one per table (safe while others read and write).
    Compact,
    /// Append records from a JSON Lines file (schemas/record.v1.schema.json), or OpenLineage
    /// RunEvents with --openlineage; all or nothing.
    Import {
        file: PathBuf,
        /// The file holds OpenLineage RunEvents (JSON Lines) from any producer.
        #[arg(long)]
        openlineage: bool,
    },
    /// Build the bundled demo lineage in a fresh store and show the released checkpoint's lineage.
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to build the demo project (default: a new folder under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_BAD_INPUT,
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::error(&e);
            e.exit_code()
        }
    }
}

pub(crate) fn open_store(cli_store: &Option<String>) -> Result<Store> {
    let cwd =
        std::env::current_dir().map_err(|e| Error::io(".", "reading current directory", e))?;
    Store::locate(cli_store.as_deref(), &cwd)
}

fn run(cli: Cli) -> Result<i32> {
    let ctx = Context {
        store: cli.store,
        format: cli.format,
    };
    match cli.command {
        Command::Init { dir } => record::init(&ctx, dir),
        Command::Tag(cmd) => record::tag(&ctx, cmd),
        Command::Run(args) => record::run(&ctx, args),
        Command::Release(args) => record::release(&ctx, args),
        Command::Show(args) => inspect::show(&ctx, args),
        Command::Lineage(args) => inspect::lineage(&ctx, args),
        Command::Ls(args) => inspect::ls(&ctx, args),
        Command::Verify(args) => inspect::verify(&ctx, args),
        Command::Audit(args) => audit::audit(&ctx, args),
        Command::Waive(args) => audit::waive(&ctx, args),
        Command::Licenses(args) => audit::licenses(&ctx, args),
        Command::Compact => record::compact(&ctx),
        Command::Import {
            file,
            openlineage: false,
        } => record::import(&ctx, &file),
        Command::Import {
            file,
            openlineage: true,
        } => report::import_openlineage(&ctx, &file),
        Command::Report(args) => report::report(&ctx, args),
        Command::Export(args) => report::export(&ctx, args),
        Command::Query(args) => report::query(&ctx, args),
        Command::Demo(args) => inspect::demo(&ctx, args),
    }
}

pub(crate) struct Context {
    pub store: Option<String>,
    pub format: Format,
}

impl Context {
    pub fn open(&self) -> Result<Store> {
        open_store(&self.store)
    }

    /// Reject formats a command does not produce.
    pub fn format_in(&self, allowed: &[Format]) -> Result<Format> {
        if allowed.contains(&self.format) {
            Ok(self.format)
        } else {
            let names: Vec<String> = allowed
                .iter()
                .map(|f| {
                    f.to_possible_value()
                        .map(|v| v.get_name().to_string())
                        .unwrap_or_default()
                })
                .collect();
            Err(Error::usage(format!(
                "this command prints --format {}",
                names.join(" or ")
            )))
        }
    }
}
