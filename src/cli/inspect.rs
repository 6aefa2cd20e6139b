//! Commands that read: show, lineage, ls, verify, and the demo.

use std::fmt::Write;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::output::{self, parse_time};
use super::{Context, DemoArgs, Format};
use crate::error::{Error, Result, EXIT_OK, EXIT_PROBLEMS};
use crate::graph::render::{self, LineageReport};
use crate::graph::{LineageGraph, Walk};
use crate::reference::{self, Target};
use crate::store::Store;
use crate::verify::{VerifyOptions, VerifyReport};
use crate::view::{short_id, Artifact, Run, View};

#[derive(Args, Debug, Default)]
pub struct AsOf {
    /// Read the store as it was at TIME (records made later are ignored).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
}

impl AsOf {
    fn view(&self, store: &Store) -> Result<View> {
        let as_of = self.as_of.as_deref().map(parse_time).transpose()?;
        Ok(View::build(&store.load()?, as_of))
    }
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Artifact or run: id, unique id prefix, name, or path.
    pub reference: String,
    #[command(flatten)]
    pub as_of: AsOf,
}

#[derive(Args, Debug)]
pub struct LineageArgs {
    /// Artifact or run: id, unique id prefix, name, or path.
    pub reference: String,
    /// Walk downstream (what was made from it) instead of upstream (what it came from).
    #[arg(long)]
    pub downstream: bool,
    /// Stop after crossing N runs.
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
    /// Explain how REFERENCE reaches this artifact or run: print the path between them.
    #[arg(long, value_name = "REF")]
    pub to: Option<String>,
    #[command(flatten)]
    pub as_of: AsOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Listing {
    Artifacts,
    Runs,
    Releases,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(value_enum, default_value_t = Listing::Artifacts)]
    pub what: Listing,
    /// Only artifacts of this kind (dataset, synthetic_dataset, checkpoint, external_model, other).
    #[arg(long)]
    pub kind: Option<String>,
    #[command(flatten)]
    pub as_of: AsOf,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Check only the store's records; do not re-hash artifacts on disk.
    #[arg(long)]
    pub no_rehash: bool,
    /// Trust the stat cache when re-hashing (fast; misses edits that keep size and times).
    #[arg(long)]
    pub fast: bool,
}

#[derive(Serialize)]
struct ShowArtifact<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    artifact: &'a Artifact,
    distribution: crate::records::Distribution,
    produced_by: Vec<&'a str>,
    used_by: Vec<UsedBy<'a>>,
}

#[derive(Serialize)]
struct UsedBy<'a> {
    run: &'a str,
    role: crate::records::Role,
}

#[derive(Serialize)]
struct ShowRun<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    run: &'a Run,
}

const SHOW_SCHEMA: &str = "https://mlprov.dev/schemas/show.v1.schema.json";
const LS_SCHEMA: &str = "https://mlprov.dev/schemas/ls.v1.schema.json";
const LINEAGE_PATH_SCHEMA: &str = "https://mlprov.dev/schemas/lineage-path.v1.schema.json";
const VERIFY_SCHEMA: &str = "https://mlprov.dev/schemas/verify.v1.schema.json";

pub fn show(ctx: &Context, args: ShowArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let store = ctx.open()?;
    // The records of the node and its neighbours (found on the lineage index), not every record.
    let (target, view) = resolve_with(&store, &args.reference, &args.as_of, true, |id| {
        crate::graph::neighbourhood_view(&store, id)
    })?;
    output::text(&describe(&view, &target, format)?)?;
    Ok(EXIT_OK)
}

/// `reference` resolved, and the view to print it from: the records `part` reads for it when
/// `partial` and there is no `--as-of`; else (or when `part` finds nothing) every record.
fn resolve_with(
    store: &Store,
    reference: &str,
    as_of: &AsOf,
    partial: bool,
    part: impl FnOnce(&str) -> Result<Option<View>>,
) -> Result<(Target, View)> {
    if partial && as_of.as_of.is_none() {
        // A full id that `part` finds recorded is resolved by `part`'s records alone: an exact
        // id is `resolve`'s first match, so reading the id's own records first (another pass
        // over every segment's ids) would give the same target.
        // Otherwise (unknown, or only named by a run) the whole store resolves it.
        let id = reference.trim();
        if crate::records::id::is_valid(id) {
            let recorded = |v: &View| v.artifacts.contains_key(id) || v.runs.contains_key(id);
            if let Some(view) = part(id)?.filter(recorded) {
                return Ok((reference::resolve(store, &view, id)?, view));
            }
            let whole = as_of.view(store)?;
            return Ok((reference::resolve(store, &whole, reference)?, whole));
        }
        let named = reference::view_for(store, &[reference], &[])?;
        let target = reference::resolve(store, &named, reference)?;
        if let Some(view) = part(target.id())? {
            return Ok((target, view));
        }
        return Ok((target, as_of.view(store)?));
    }
    let whole = as_of.view(store)?;
    Ok((reference::resolve(store, &whole, reference)?, whole))
}

/// What `show` prints for a target: JSON (`show.v1`) or text.
fn describe(view: &View, target: &Target, format: Format) -> Result<String> {
    Ok(match target {
        Target::Artifact(id) => {
            let a = &view.artifacts[id];
            if format == Format::Json {
                let produced_by: Vec<&str> = view.producers(id).map(|r| r.id.as_str()).collect();
                let used_by: Vec<UsedBy> = view
                    .consumers(id)
                    .map(|(r, i)| UsedBy {
                        run: &r.id,
                        role: i.role,
                    })
                    .collect();
                output::pretty(&ShowArtifact {
                    schema: SHOW_SCHEMA,
                    kind: "artifact",
                    artifact: a,
                    distribution: a.current_distribution(view.as_of),
                    produced_by,
                    used_by,
                })?
            } else {
                artifact_text(view, a)
            }
        }
        Target::Run(id) => {
            let r = &view.runs[id];
            if format == Format::Json {
                output::pretty(&ShowRun {
                    schema: SHOW_SCHEMA,
                    kind: "run",
                    run: r,
                })?
            } else {
                run_text(view, r)
            }
        }
    })
}

fn artifact_text(view: &View, a: &Artifact) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {}", a.kind, a.id);
    if !a.names.is_empty() {
        let _ = writeln!(
            s,
            "  names:        {}",
            a.names.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(size) = a.size_bytes {
        let files = a
            .file_count
            .map(|f| format!(" in {f} files"))
            .unwrap_or_default();
        let _ = writeln!(s, "  size:         {}{files}", output::size(size));
    }
    for l in &a.locations {
        let _ = writeln!(s, "  location:     {l}");
    }
    if let (Some(v), Some(m)) = (&a.vendor, &a.model) {
        let rev = a.revision.as_deref().unwrap_or("unversioned");
        let ch = a.channel.map(|c| c.as_str()).unwrap_or("?");
        let _ = writeln!(s, "  model:        {v}/{m}@{rev} via {ch}");
    }
    for c in &a.license_claims {
        let ver = c
            .license_version
            .as_deref()
            .map(|v| format!("@{v}"))
            .unwrap_or_default();
        let evidence = c
            .evidence_path
            .as_deref()
            .map(|p| format!(", from {p}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  license:      {}{ver} ({}, {}{evidence})",
            c.license_id, c.source, c.confidence
        );
    }
    let _ = writeln!(s, "  distribution: {}", a.current_distribution(view.as_of));
    for r in &a.releases {
        let note = r
            .note
            .as_deref()
            .map(|n| format!("  \"{n}\""))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {} from {}{note}",
            r.distribution,
            r.effective_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(c) = &a.composition {
        s.push_str(&crate::composition::render_table(c));
    }
    for r in view.producers(&a.id) {
        let _ = writeln!(s, "  produced by:  {} {} ({})", r.kind, r.label(), r.id);
    }
    for (r, i) in view.consumers(&a.id) {
        let _ = writeln!(
            s,
            "  used by:      {} {} as {} ({})",
            r.kind,
            r.label(),
            i.role,
            r.id
        );
    }
    let _ = writeln!(s, "  first seen:   {}", a.first_recorded_at.to_rfc3339());
    s
}

fn artifact_label(view: &View, id: &str) -> String {
    view.artifacts
        .get(id)
        .map(|a| format!("{} {} ({})", a.kind, a.label(), short_id(id)))
        .unwrap_or_else(|| format!("unrecorded {id}"))
}

fn run_text(view: &View, r: &Run) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "run {} {}", r.kind, r.id);
    if let Some(n) = &r.name {
        let _ = writeln!(s, "  name:     {n}");
    }
    let _ = writeln!(s, "  status:   {}", r.status);
    if let Some(t) = r.started_at {
        let _ = writeln!(s, "  started:  {}", t.to_rfc3339());
    }
    if let Some(t) = r.ended_at {
        let _ = writeln!(s, "  ended:    {}", t.to_rfc3339());
    }
    for i in &r.inputs {
        let _ = writeln!(
            s,
            "  input:    [{}] {}",
            i.role,
            artifact_label(view, &i.artifact_id)
        );
    }
    for o in &r.outputs {
        let _ = writeln!(s, "  output:   {}", artifact_label(view, o));
    }
    s
}

pub fn lineage(ctx: &Context, args: LineageArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json, Format::Dot, Format::Mermaid])?;
    let store = ctx.open()?;
    let walk = if args.downstream {
        Walk::Downstream
    } else {
        Walk::Upstream
    };
    // A walk reads the records of its closure (found on the lineage index), not every record.
    let (target, view) = resolve_with(
        &store,
        &args.reference,
        &args.as_of,
        args.to.is_none(),
        |id| crate::graph::closure_view(&store, id, walk),
    )?;
    let graph = LineageGraph::build(&view);
    let node = graph
        .node(target.id())
        .expect("resolved ids are graph nodes");

    if let Some(to) = &args.to {
        if !matches!(format, Format::Text | Format::Json) {
            return Err(Error::usage("--to prints text or json"));
        }
        let other = reference::resolve(&store, &view, to)?;
        let other_node = graph
            .node(other.id())
            .expect("resolved ids are graph nodes");
        let hops = graph
            .path(node, other_node)
            .or_else(|| graph.path(other_node, node));
        let Some(hops) = hops else {
            if format == Format::Json {
                output::json_line(
                    &serde_json::json!({ "$schema": LINEAGE_PATH_SCHEMA, "from": target.id(), "to": other.id(), "path": null }),
                )?;
            } else {
                output::line(&format!(
                    "{} and {} are not connected by recorded lineage",
                    target.id(),
                    other.id()
                ))?;
            }
            return Ok(EXIT_PROBLEMS);
        };
        if format == Format::Json {
            let path: Vec<_> = hops
                .iter()
                .map(|h| serde_json::json!({ "from": graph.id(h.from), "to": graph.id(h.to), "role": h.edge.role() }))
                .collect();
            let (from, to) = match (hops.first(), hops.last()) {
                (Some(first), Some(last)) => (graph.id(first.from), graph.id(last.to)),
                _ => (target.id(), target.id()),
            };
            output::json_pretty(
                &serde_json::json!({ "$schema": LINEAGE_PATH_SCHEMA, "from": from, "to": to, "path": path }),
            )?;
        } else if hops.is_empty() {
            output::line(&format!("{} is {}: the path is empty", args.reference, to))?;
        } else {
            output::text(&render::path_text(&view, &graph, &hops))?;
        }
        return Ok(EXIT_OK);
    }

    let closure = graph.closure(node, walk, args.depth);
    let report: LineageReport = render::lineage_report(&view, &graph, &closure, args.depth);
    for cycle in &report.cycles {
        output::warning(&format!(
            "cycle in recorded lineage through {}",
            cycle.join(", ")
        ));
    }
    match format {
        Format::Json => output::json_pretty(&report)?,
        Format::Dot => output::text(&render::to_dot(&report))?,
        Format::Mermaid => output::text(&render::to_mermaid(&report))?,
        Format::Text => output::text(&render::to_text(&report))?,
    }
    Ok(EXIT_OK)
}

pub fn ls(ctx: &Context, args: LsArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let store = ctx.open()?;
    let view = args.as_of.view(&store)?;
    let kind = args
        .kind
        .as_deref()
        .map(str::parse::<crate::records::ArtifactKind>)
        .transpose()?;
    match args.what {
        Listing::Artifacts => {
            let items: Vec<&Artifact> = view
                .artifacts
                .values()
                .filter(|a| kind.is_none_or(|k| a.kind == k))
                .collect();
            if format == Format::Json {
                output::json_pretty(
                    &serde_json::json!({ "$schema": LS_SCHEMA, "artifacts": items }),
                )?;
            } else {
                for a in items {
                    let size = a.size_bytes.map(output::size).unwrap_or_else(|| "-".into());
                    output::line(&format!(
                        "{:<18} {:<22} {:>10}  {:<16} {}",
                        a.kind.as_str(),
                        short_id(&a.id),
                        size,
                        a.current_distribution(view.as_of).as_str(),
                        a.label()
                    ))?;
                }
            }
        }
        Listing::Runs => {
            let items: Vec<&Run> = view.runs.values().collect();
            if format == Format::Json {
                output::json_pretty(&serde_json::json!({ "$schema": LS_SCHEMA, "runs": items }))?;
            } else {
                for r in items {
                    let started = r
                        .started_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "-".into());
                    output::line(&format!(
                        "{:<10} {:<40} {:<10} {:<16} {} in, {} out  {}",
                        r.kind.as_str(),
                        r.id,
                        r.status.as_str(),
                        started,
                        r.inputs.len(),
                        r.outputs.len(),
                        r.name.as_deref().unwrap_or("")
                    ))?;
                }
            }
        }
        Listing::Releases => {
            let items: Vec<&crate::records::ReleaseRecord> = view
                .artifacts
                .values()
                .flat_map(|a| a.releases.iter())
                .collect();
            if format == Format::Json {
                output::json_pretty(
                    &serde_json::json!({ "$schema": LS_SCHEMA, "releases": items }),
                )?;
            } else {
                for r in items {
                    let label = view
                        .artifacts
                        .get(&r.artifact_id)
                        .map(|a| a.label())
                        .unwrap_or_default();
                    output::line(&format!(
                        "{}  {:<16} {} ({})",
                        r.effective_at.format("%Y-%m-%d %H:%M"),
                        r.distribution.as_str(),
                        label,
                        short_id(&r.artifact_id)
                    ))?;
                }
            }
        }
    }
    Ok(EXIT_OK)
}

pub fn verify(ctx: &Context, args: VerifyArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json])?;
    let store = ctx.open()?;
    let report: VerifyReport = crate::verify::verify(
        &store,
        VerifyOptions {
            rehash: !args.no_rehash,
            use_stat_cache: args.fast,
            progress: format == Format::Text,
        },
    )?;
    if format == Format::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "$schema")]
            schema: &'static str,
            clean: bool,
            #[serde(flatten)]
            report: &'a VerifyReport,
        }
        output::json_pretty(&Out {
            schema: VERIFY_SCHEMA,
            clean: report.clean(),
            report: &report,
        })?;
    } else {
        for p in &report.problems {
            output::line(&format!("{} {}: {}", p.code, p.subject, p.detail))?;
        }
        output::line(&format!(
            "{}: {} segments, {} records, {} artifacts, {} locations re-hashed, {} problems{}",
            if report.clean() {
                "clean"
            } else {
                "problems found"
            },
            report.segments,
            report.records,
            report.artifacts,
            report.locations_checked,
            report.problems.len(),
            if report.temporaries > 0 {
                format!(" ({} temporary files of interrupted writes; `mlprov compact` removes them after an hour)", report.temporaries)
            } else {
                String::new()
            }
        ))?;
    }
    Ok(if report.clean() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    })
}

pub fn demo(ctx: &Context, args: DemoArgs) -> Result<i32> {
    let format = ctx.format_in(&[Format::Text, Format::Json, Format::Dot, Format::Mermaid])?;
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("mlprov-demo-{}", uuid::Uuid::new_v4().simple())),
    };
    let built = crate::demo::build(&dir)?;
    let view = View::build(&built.store.load()?, None);
    let graph = LineageGraph::build(&view);
    let node = graph
        .node(&built.released_checkpoint)
        .expect("demo checkpoint recorded");
    let report = render::lineage_report(
        &view,
        &graph,
        &graph.closure(node, Walk::Upstream, None),
        None,
    );
    match format {
        Format::Json => output::json_pretty(&report)?,
        Format::Dot => output::text(&render::to_dot(&report))?,
        Format::Mermaid => output::text(&render::to_mermaid(&report))?,
        Format::Text => {
            output::line(&format!(
                "Built the bundled demo lineage in {} ({} artifacts, {} runs, {} releases).",
                built.project.display(),
                view.artifacts.len(),
                view.runs.len(),
                view.artifacts
                    .values()
                    .map(|a| a.releases.len())
                    .sum::<usize>()
            ))?;
            output::line("")?;
            output::line("Upstream lineage of the released checkpoint:")?;
            output::text(&render::to_text(&report))?;
            output::line("")?;
            output::line(&format!(
                "Distillation audit of every training run (policy: {}):",
                built.project.join(crate::policy::POLICY_FILE).display()
            ))?;
            output::line("")?;
            let policy = crate::policy::Policy::locate(None, &built.project)?;
            let catalog = crate::catalog::Catalog::builtin()?;
            let report = crate::audit::audit(
                &view,
                &catalog,
                &policy,
                &crate::audit::AuditOptions::default(),
            );
            let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::IsTerminal::is_terminal(&std::io::stdout());
            output::text(&crate::audit::render::report_text(&report, colour))?;
            output::line("")?;
            output::line(&format!(
                "Explore it: mlprov --store {} ls | show acme-chat-7b | lineage seed-prompts --downstream | audit acme-chat-7b | licenses | verify",
                built.project.display()
            ))?;
        }
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_from_a_neighbourhood_view_prints_what_the_whole_store_gives() {
        let dir = tempfile::tempdir().unwrap();
        let built = crate::demo::build(&dir.path().join("demo")).unwrap();
        let whole = View::build(&built.store.load().unwrap(), None);
        let targets = whole
            .artifacts
            .keys()
            .map(|id| Target::Artifact(id.clone()))
            .chain(whole.runs.keys().map(|id| Target::Run(id.clone())));
        for target in targets {
            let part = crate::graph::neighbourhood_view(&built.store, target.id())
                .unwrap()
                .unwrap();
            assert!(part.artifacts.len() + part.runs.len() < whole.artifacts.len());
            // What `show ID` does: the node's neighbourhood is read once and resolves the id.
            let reads = std::cell::Cell::new(0);
            let (resolved, shown) =
                resolve_with(&built.store, target.id(), &AsOf::default(), true, |id| {
                    reads.set(reads.get() + 1);
                    crate::graph::neighbourhood_view(&built.store, id)
                })
                .unwrap();
            assert_eq!((&resolved, reads.get()), (&target, 1));
            for format in [Format::Text, Format::Json] {
                let expected = describe(&whole, &target, format).unwrap();
                assert_eq!(expected, describe(&part, &target, format).unwrap());
                assert_eq!(expected, describe(&shown, &target, format).unwrap());
            }
        }
        // An id no record has is refused as resolving against the whole store refuses it.
        let unknown = format!("blake3:{}", "0".repeat(64));
        let refused = |e: Error| e.to_string();
        assert_eq!(
            resolve_with(&built.store, &unknown, &AsOf::default(), true, |id| {
                crate::graph::neighbourhood_view(&built.store, id)
            })
            .map(|_| ())
            .map_err(refused),
            reference::resolve(&built.store, &whole, &unknown)
                .map(|_| ())
                .map_err(refused)
        );
    }
}
