//! Write the HTML report of the bundled demo (used by `scripts/render-report-png` until the CLI
//! has `mlprov report`):
//!
//! ```sh
//! cargo run --example render_report -- DIR FILE [TARGET]
//! ```
//!
//! Builds the demo in DIR unless DIR already holds a store, audits it with the policy beside
//! the store and the built-in catalog, and writes the report of TARGET (an artifact or run id,
//! or a name of one; default: the whole store) to FILE. The extension of FILE picks the format:
//! `.md` Markdown, `.sarif`/`.json` SARIF, `.svg` the lineage picture, anything else HTML.

use std::path::PathBuf;

use mlprov::audit::{audit, AuditOptions};
use mlprov::catalog::Catalog;
use mlprov::export::{self, ExportInput};
use mlprov::graph::LineageGraph;
use mlprov::policy::Policy;
use mlprov::view::View;
use mlprov::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: render_report DIR FILE [TARGET]");
        std::process::exit(2);
    };
    let target = args.next().map(|t| t.to_string_lossy().into_owned());
    let dir = PathBuf::from(dir);
    let file = PathBuf::from(file);
    let store = if dir.join(".mlprov").is_dir() {
        Store::open(&dir.to_string_lossy())?
    } else {
        mlprov::demo::build(&dir)?.store
    };
    let view = View::build(&store.load()?, None);
    let policy = Policy::locate(None, &dir)?;
    let catalog = Catalog::builtin()?;
    let report = audit(&view, &catalog, &policy, &AuditOptions::default());
    let graph = LineageGraph::build(&view);
    let root = match target {
        None => None,
        Some(t) if graph.node(&t).is_some() => Some(t),
        Some(t) => {
            let found = view
                .artifacts
                .values()
                .find(|a| a.names.contains(&t))
                .map(|a| a.id.clone())
                .or_else(|| {
                    view.runs
                        .values()
                        .find(|r| r.name.as_deref() == Some(&t))
                        .map(|r| r.id.clone())
                });
            match found {
                Some(id) => Some(id),
                None => {
                    eprintln!("error: no artifact or run named {t}");
                    std::process::exit(2);
                }
            }
        }
    };
    let input = ExportInput::new(&view, &graph, &report, root, chrono::Utc::now());
    let text = match file.extension().and_then(|e| e.to_str()) {
        Some("md") => export::markdown::render(&input)?,
        Some("sarif") | Some("json") => export::sarif::render(&input)?,
        Some("svg") => export::svg::render(&input),
        _ => export::html::render(&input)?,
    };
    std::fs::write(&file, text)?;
    println!("wrote {}", file.display());
    Ok(())
}
