//! The lineage half of `scripts/bench-peers`: generate a large synthetic lineage into a real
//! store, then time the questions users ask of it.
//!
//! ```text
//! cargo run --release --example lineage_bench -- generate PROJECT_DIR [ARTIFACTS]
//! cargo run --release --example lineage_bench -- question PROJECT_DIR OUT_FILE
//! cargo run --release --example lineage_bench -- upstream PROJECT_DIR ARTIFACT_ID
//! cargo run --release --example lineage_bench -- audit PROJECT_DIR [L105_RUNS_FILE]
//! ```
//!
//! The graph (deterministic: every choice is a hash of the node's index):
//! - `ARTIFACTS` artifacts (default 1,000,000) in 50 layers; layer 0 holds the roots.
//! - 0.1% of the roots are restricted models: Llama 3.1 weights (the catalog's `llama3.1`
//!   license, conditional: a distributed model trained on its outputs must be named "Llama...").
//!   The other roots are datasets.
//! - Every other artifact is written by its own run with 1–5 inputs, drawn from the previous
//!   layer (sometimes up to five layers back) near the same position, so lineages are deep
//!   (50 runs) and wide without every node reaching every root. ~30% are checkpoints
//!   (fine-tune / merge / distill runs), the rest datasets (transform / mix / generate runs).
//! - 1% of the checkpoints are released with external weights; a fifth of those are named
//!   "Llama-..." and so meet the Llama 3.1 naming condition.
//!
//! Every command prints a machine-readable `RESULT <name> key=value ...` line.

// The same allocator as the mlprov binary (src/main.rs), so the rows time what users run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rayon::prelude::*;

use mlprov::audit::{self, AuditOptions};
use mlprov::catalog::Catalog;
use mlprov::graph::index::LineageIndex;
use mlprov::policy::Policy;
use mlprov::records::{
    id, ArtifactKind, ArtifactRecord, Batch, Channel, Distribution, ReleaseRecord, Role, RunInput,
    RunKind, RunRecord, RunStatus,
};
use mlprov::view::View;
use mlprov::Store;

const LAYERS: usize = 50;
const CHUNK: usize = 1 << 16;

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn h(i: usize, salt: u64) -> u64 {
    mix((i as u64) ^ salt.wrapping_mul(0xA24B_AED4_963E_E407))
}

struct Shape {
    n: usize,
    width: usize,
}

impl Shape {
    fn new(n: usize) -> Shape {
        Shape {
            n,
            width: n.div_ceil(LAYERS),
        }
    }
    fn layer(&self, i: usize) -> usize {
        i / self.width
    }
    fn pos(&self, i: usize) -> usize {
        i % self.width
    }
    fn restricted_root(&self, i: usize) -> bool {
        self.layer(i) == 0 && self.pos(i) % 1000 == 500
    }
    fn is_checkpoint(&self, i: usize) -> bool {
        self.layer(i) > 0 && h(i, 1) % 10 < 3
    }
    fn released(&self, i: usize) -> bool {
        self.is_checkpoint(i) && h(i, 2) % 100 == 0
    }
    fn model_name(&self, i: usize) -> &'static str {
        if (self.pos(i) / 1000) % 2 == 0 {
            "Llama-3.1-70B-Instruct"
        } else {
            "Llama-3.1-405B-Instruct"
        }
    }
    fn artifact_id(&self, i: usize) -> String {
        if self.restricted_root(i) {
            id::external_model(
                "meta-llama",
                self.model_name(i),
                Some(&format!("bench-{}", self.pos(i) / 1000)),
                Channel::Weights,
            )
        } else {
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"lineage-bench artifact\0");
            hasher.update(&(i as u64).to_le_bytes());
            id::file(hasher.finalize().to_hex().as_str())
        }
    }
    fn parents(&self, i: usize) -> Vec<usize> {
        let (layer, pos) = (self.layer(i), self.pos(i));
        let k = 1 + (h(i, 3) % 5) as usize;
        let mut out = Vec::with_capacity(k);
        for j in 0..k {
            let r = h(i, 10 + j as u64);
            let back = if r % 10 == 0 {
                1 + ((r >> 8) % 5) as usize
            } else {
                1
            };
            let pl = layer.saturating_sub(back);
            let off = ((r >> 16) % 17) as i64 - 8;
            let pp = (pos as i64 + off).clamp(0, self.width as i64 - 1) as usize;
            let p = pl * self.width + pp;
            if p < self.n && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn run_start(shape: &Shape, i: usize) -> DateTime<Utc> {
    base_time() + Duration::days(shape.layer(i) as i64) + Duration::seconds(shape.pos(i) as i64)
}

fn chunk_batch(shape: &Shape, range: std::ops::Range<usize>) -> Batch {
    let mut batch = Batch::default();
    let by = "bench@mlprov".to_string();
    // One template record: `ArtifactRecord::new` looks up the user and host each time.
    let template = ArtifactRecord::new(String::new(), ArtifactKind::Dataset);
    for i in range {
        let aid = shape.artifact_id(i);
        let recorded = base_time() + Duration::microseconds(i as i64);
        let start = run_start(shape, i);
        let checkpoint = shape.is_checkpoint(i);
        let mut a = template.clone();
        a.artifact_id = aid.clone();
        a.kind = if shape.restricted_root(i) {
            ArtifactKind::ExternalModel
        } else if checkpoint {
            ArtifactKind::Checkpoint
        } else {
            ArtifactKind::Dataset
        };
        a.recorded_at = recorded;
        a.recorded_by = by.clone();
        let (layer, pos) = (shape.layer(i), shape.pos(i));
        if shape.restricted_root(i) {
            a.vendor = Some("meta-llama".into());
            a.model = Some(shape.model_name(i).into());
            a.revision = Some(format!("bench-{}", pos / 1000));
            a.channel = Some(Channel::Weights);
            a.name = Some(format!("{}-{}", shape.model_name(i), pos / 1000));
        } else if checkpoint {
            let llama_named = shape.released(i) && h(i, 4) % 5 == 0;
            a.name = Some(if llama_named {
                format!("Llama-acme-l{layer}-{pos}")
            } else {
                format!("ckpt-l{layer}-{pos}")
            });
            a.size_bytes = Some(1 << 30);
        } else {
            a.name = Some(format!("data-l{layer}-{pos}"));
            a.size_bytes = Some(4096 + h(i, 5) % (1 << 20));
        }
        if layer > 0 {
            let parents = shape.parents(i);
            let mut inputs = Vec::with_capacity(parents.len());
            let (mut teacher, mut base_weights) = (false, 0);
            for &p in &parents {
                let role = if shape.restricted_root(p) {
                    teacher = true;
                    if checkpoint {
                        Role::Teacher
                    } else {
                        Role::Generator
                    }
                } else if shape.is_checkpoint(p) {
                    if checkpoint {
                        base_weights += 1;
                        Role::BaseWeights
                    } else {
                        Role::Source
                    }
                } else if checkpoint {
                    Role::TrainingData
                } else {
                    Role::Source
                };
                inputs.push(RunInput {
                    artifact_id: shape.artifact_id(p),
                    role,
                });
            }
            let kind = match (checkpoint, teacher, base_weights, parents.len()) {
                (true, true, _, _) => RunKind::Distill,
                (true, false, 0, _) => RunKind::Train,
                (true, false, 1, _) => RunKind::FineTune,
                (true, false, _, _) => RunKind::Merge,
                (false, true, _, _) => RunKind::Generate,
                (false, false, _, 1) => RunKind::Transform,
                (false, false, _, _) => RunKind::Mix,
            };
            batch.runs.push(RunRecord {
                record_id: String::new(),
                run_id: id::derived_run(format!("lineage-bench run {i}").as_bytes()),
                kind,
                name: Some(format!("{}-l{layer}-{pos}", kind.as_str())),
                status: RunStatus::Succeeded,
                started_at: Some(start),
                ended_at: Some(start + Duration::hours(1)),
                inputs,
                outputs: vec![aid.clone()],
                recorded_at: recorded,
                recorded_by: by.clone(),
            });
        }
        if shape.released(i) {
            batch.releases.push(ReleaseRecord {
                record_id: String::new(),
                artifact_id: aid,
                distribution: Distribution::ExternalWeights,
                effective_at: start + Duration::hours(2),
                note: Some("lineage-bench release".into()),
                recorded_at: recorded,
                recorded_by: by.clone(),
            });
        }
        batch.artifacts.push(a);
    }
    batch
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn generate(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("create project dir");
    let store = Store::init(dir).expect("init store");
    let shape = Shape::new(n);
    let t0 = Instant::now();
    let chunks: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(CHUNK)
        .map(|s| s..(s + CHUNK).min(n))
        .collect();
    // Each chunk is one `Store::append` (one segment per table, durable on return); chunks are
    // written concurrently, as independent writers would.
    let records: usize = chunks
        .into_par_iter()
        .map(|range| {
            let batch = chunk_batch(&shape, range);
            store.append(batch).expect("append").records
        })
        .sum();
    let secs = t0.elapsed().as_secs_f64();
    let deep = (0..shape.width)
        .map(|d| (LAYERS - 1) * shape.width + (shape.width / 2 + d) % shape.width)
        .find(|&i| i < n && shape.is_checkpoint(i))
        .expect("a checkpoint in the last layer");
    let restricted: Vec<String> = (0..shape.width.min(n))
        .filter(|&i| shape.restricted_root(i))
        .map(|i| shape.artifact_id(i))
        .collect();
    let meta = serde_json::json!({
        "artifacts": n,
        "records": records,
        "deep_checkpoint": shape.artifact_id(deep),
        "restricted_models": restricted,
    });
    std::fs::write(
        dir.join("bench-meta.json"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .expect("write meta");
    println!(
        "RESULT ingest records={records} secs={secs:.3} records_per_s={:.0} peak_rss_mib={:.0}",
        records as f64 / secs,
        peak_rss_mib()
    );
}

fn open(dir: &Path) -> (Store, Policy, Catalog) {
    let store = Store::open(dir.to_str().expect("utf-8 path")).expect("open store");
    let policy = Policy::locate(None, store.project_dir()).expect("policy");
    let catalog = Catalog::for_audit(None, Some(&policy)).expect("catalog");
    (store, policy, catalog)
}

fn question(dir: &Path, out: &Path) {
    let (store, policy, catalog) = open(dir);
    let t0 = Instant::now();
    let index = LineageIndex::load(&store, None).expect("load index");
    let t_load = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let flagged = index.restricted_runs(&catalog, policy.organisation.restrictions_travel);
    let t_query = t1.elapsed().as_secs_f64();
    let total = t0.elapsed().as_secs_f64();
    let mut ids: Vec<&str> = flagged.iter().map(|&n| index.id(n)).collect();
    ids.sort_unstable();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).expect("create out"));
    for id in &ids {
        writeln!(f, "{id}").unwrap();
    }
    f.flush().unwrap();
    println!(
        "RESULT question secs={total:.4} load_secs={t_load:.4} query_secs={t_query:.4} flagged={} nodes={} edges={} peak_rss_mib={:.0}",
        ids.len(),
        index.node_count(),
        index.edge_count(),
        peak_rss_mib()
    );
}

fn upstream(dir: &Path, artifact: &str) {
    let (store, _, _) = open(dir);
    let t0 = Instant::now();
    let index = LineageIndex::load(&store, None).expect("load index");
    let t_load = t0.elapsed().as_secs_f64();
    let node = index.node(artifact).expect("artifact in the store");
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let closure = index.upstream(node);
        times.push(t.elapsed().as_secs_f64());
        count = closure.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "RESULT upstream secs={:.5} min_secs={:.5} nodes={count} load_secs={t_load:.4}",
        times[times.len() / 2],
        times[0]
    );
}

fn full_audit(dir: &Path, out: Option<&Path>) {
    let (store, policy, catalog) = open(dir);
    let t0 = Instant::now();
    let report = if std::env::var_os("MLPROV_FULL_VIEW_AUDIT").is_some() {
        // Every record into one view, then the audit: the path `audit_store` avoids.
        let view = View::build(&store.load().expect("load"), None);
        audit::audit(&view, &catalog, &policy, &AuditOptions::default())
    } else {
        audit::audit_store(&store, &catalog, &policy, &AuditOptions::default(), None)
            .expect("audit")
    };
    let total = t0.elapsed().as_secs_f64();
    let with_paths = report
        .findings
        .iter()
        .filter(|f| !f.path.is_empty())
        .count();
    let mut flagged_runs: Vec<&str> = report
        .findings
        .iter()
        .filter_map(|f| f.run.as_deref())
        .collect();
    flagged_runs.sort_unstable();
    flagged_runs.dedup();
    if let Some(out) = out {
        // Runs with an unmet naming condition (L105): what the script checks against DuckDB.
        let mut l105: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.code == "L105")
            .filter_map(|f| f.run.as_deref())
            .collect();
        l105.sort_unstable();
        l105.dedup();
        let mut text = l105.join("\n");
        text.push('\n');
        std::fs::write(out, if l105.is_empty() { String::new() } else { text })
            .expect("write audit runs");
    }
    println!(
        "RESULT audit secs={total:.3} findings={} with_paths={with_paths} runs_with_findings={} runs_evaluated={} errors={} warnings={} peak_rss_mib={:.0}",
        report.findings.len(),
        flagged_runs.len(),
        report.summary.runs_evaluated,
        report.summary.errors,
        report.summary.warnings,
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: lineage_bench generate DIR [N] | question DIR OUT | upstream DIR ID | audit DIR [OUT]";
    match args.first().map(String::as_str) {
        Some("generate") if args.len() >= 2 => generate(
            Path::new(&args[1]),
            args.get(2)
                .map(|s| s.parse().expect("N"))
                .unwrap_or(1_000_000),
        ),
        Some("question") if args.len() == 3 => question(Path::new(&args[1]), Path::new(&args[2])),
        Some("upstream") if args.len() == 3 => upstream(Path::new(&args[1]), &args[2]),
        Some("audit") if (2..=3).contains(&args.len()) => {
            full_audit(Path::new(&args[1]), args.get(2).map(Path::new))
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
