//! Library hot paths, measured with divan: `cargo bench --bench hot_paths`.
//! (The side-by-side comparison with other tools is `scripts/bench-peers`.)
//!
//! Inputs are built once per process: a store holding a layered lineage of `ARTIFACTS`
//! artifacts (each written by a run with 1–3 inputs from the previous layer), plus in-memory
//! buffers for hashing.

use std::sync::OnceLock;

use divan::{black_box, Bencher};
use mlprov::catalog::Catalog;
use mlprov::graph::index::LineageIndex;
use mlprov::records::{
    id, ArtifactKind, ArtifactRecord, Batch, Channel, Role, RunInput, RunKind, RunRecord, RunStatus,
};
use mlprov::store::segment;
use mlprov::view::View;
use mlprov::Store;

const ARTIFACTS: usize = 20_000;
const WIDTH: usize = 1_000;

fn main() {
    divan::main();
}

fn artifact_id(i: usize) -> String {
    if i == 0 {
        return id::external_model(
            "meta-llama",
            "Llama-3.1-8B-Instruct",
            Some("main"),
            Channel::Weights,
        );
    }
    id::file(blake3::hash(&(i as u64).to_le_bytes()).to_hex().as_str())
}

fn batch() -> Batch {
    let mut b = Batch::default();
    for i in 0..ARTIFACTS {
        let mut a = ArtifactRecord::new(
            artifact_id(i),
            if i == 0 {
                ArtifactKind::ExternalModel
            } else {
                ArtifactKind::Dataset
            },
        );
        if i == 0 {
            a.vendor = Some("meta-llama".into());
            a.model = Some("Llama-3.1-8B-Instruct".into());
            a.revision = Some("main".into());
            a.channel = Some(Channel::Weights);
        }
        a.name = Some(format!("a{i}"));
        b.artifacts.push(a);
        if i >= WIDTH {
            let (layer, pos) = (i / WIDTH, i % WIDTH);
            let inputs = (0..1 + i % 3)
                .map(|k| {
                    let p = (layer - 1) * WIDTH + (pos + k * 7) % WIDTH;
                    RunInput {
                        artifact_id: artifact_id(p),
                        role: if p == 0 {
                            Role::Generator
                        } else {
                            Role::Source
                        },
                    }
                })
                .collect();
            b.runs.push(RunRecord {
                record_id: String::new(),
                run_id: id::derived_run(format!("bench {i}").as_bytes()),
                kind: RunKind::Transform,
                name: None,
                status: RunStatus::Succeeded,
                started_at: None,
                ended_at: None,
                inputs,
                outputs: vec![artifact_id(i)],
                recorded_at: mlprov::records::now(),
                recorded_by: "bench@mlprov".into(),
            });
        }
    }
    b.seal();
    b
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    batch: Batch,
    runs_segment: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::init(dir.path()).expect("store");
        let batch = batch();
        store.append(batch.clone()).expect("append");
        let runs_segment = segment::encode(&batch.runs);
        Fixture {
            _dir: dir,
            store,
            batch,
            runs_segment,
        }
    })
}

#[divan::bench(args = [4 << 10, 64 << 10, 16 << 20])]
fn blake3_buffer(bencher: Bencher, len: usize) {
    let buf = vec![7u8; len];
    bencher
        .counter(divan::counter::BytesCount::new(len))
        .bench(|| blake3::hash(black_box(&buf)));
}

#[divan::bench]
fn encode_runs_segment(bencher: Bencher) {
    let f = fixture();
    bencher
        .counter(divan::counter::ItemsCount::new(f.batch.runs.len()))
        .bench(|| segment::encode(black_box(&f.batch.runs)));
}

#[divan::bench]
fn decode_runs_segment(bencher: Bencher) {
    let f = fixture();
    let bytes = bytes::Bytes::from(f.runs_segment.clone());
    bencher
        .counter(divan::counter::ItemsCount::new(f.batch.runs.len()))
        .bench(|| segment::decode::<RunRecord>(black_box(bytes.clone())).unwrap());
}

#[divan::bench]
fn store_load_records(bencher: Bencher) {
    let f = fixture();
    bencher.bench(|| f.store.load().unwrap());
}

#[divan::bench]
fn view_build(bencher: Bencher) {
    let f = fixture();
    let snapshot = f.store.load().unwrap();
    bencher.bench(|| View::build(black_box(&snapshot), None));
}

#[divan::bench]
fn lineage_index_load(bencher: Bencher) {
    let f = fixture();
    bencher.bench(|| LineageIndex::load(&f.store, None).unwrap());
}

#[divan::bench]
fn restricted_runs(bencher: Bencher) {
    let f = fixture();
    let index = LineageIndex::load(&f.store, None).unwrap();
    let catalog = Catalog::builtin().unwrap();
    bencher.bench(|| index.restricted_runs(&catalog, true));
}

#[divan::bench]
fn upstream_of_last_artifact(bencher: Bencher) {
    let f = fixture();
    let index = LineageIndex::load(&f.store, None).unwrap();
    let node = index.node(&artifact_id(ARTIFACTS - 1)).unwrap();
    bencher.bench(|| index.upstream(black_box(node)));
}
