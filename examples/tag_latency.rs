//! Library-call latency of tagging one small file, durable on return, and where the time goes.
//!
//! ```text
//! cargo run --release --example tag_latency -- [DIR] [N]
//! ```
//!
//! Creates a store in a fresh temporary folder under DIR (default: the system temp dir; put it
//! on the file system you care about, since fsync cost is the point), writes 2×N distinct 4 KiB
//! files, then
//! - pass 1: `mlprov::tag::tag_path` on N files, each call timed whole (hash, record, encode,
//!   write, fsync, rename, directory fsync);
//! - pass 2: the same steps taken apart on the other N files: `tag::identify` (the BLAKE3 hash),
//!   `tag::describe_path` (identify again + build the record), `store::segment::encode` alone,
//!   and `Store::append` (encode + write + fsync + rename + directory fsync).
//!
//! The last line is machine-readable: `RESULT tag_path median_us=<u> p90_us=<u> n=<n>`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mlprov::records::{ArtifactKind, Batch};
use mlprov::store::segment;
use mlprov::tag::{self, TagOptions};
use mlprov::Store;

const FILE_SIZE: usize = 4096;

fn small_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("small-{n:06}.bin"));
    let mut bytes =
        format!("tag_latency small file #{n} pid {}\n", std::process::id()).into_bytes();
    let mut x = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while bytes.len() < FILE_SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    std::fs::write(&path, &bytes).expect("write small file");
    path
}

/// Median and 90th percentile in microseconds.
fn stats(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (pick(0.5), pick(0.9))
}

fn us(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

fn row(name: &str, samples: &mut [f64]) -> (f64, f64) {
    let (median, p90) = stats(samples);
    println!("{name:<52} median {median:>9.1} us   p90 {p90:>9.1} us");
    (median, p90)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let parent = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let n: usize = args
        .next()
        .map(|s| s.parse().expect("N must be a number"))
        .unwrap_or(200);
    assert!(n > 0, "N must be positive");
    std::fs::create_dir_all(&parent).expect("create DIR");
    let work = tempfile::Builder::new()
        .prefix("tag-latency-")
        .tempdir_in(&parent)
        .expect("temp dir");
    let store = Store::init(work.path()).expect("init store");
    let data = work.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let files: Vec<PathBuf> = (0..2 * n).map(|i| small_file(&data, i)).collect();
    let (pass1, pass2) = files.split_at(n);
    let opts = TagOptions::new(ArtifactKind::Dataset);

    // Warm-up: first calls pay for lazy initialisation (thread pools, page faults).
    let warm = small_file(&data, 10_000_000);
    tag::tag_path(&store, &warm, &opts).expect("tag");

    let mut total = Vec::with_capacity(n);
    for path in pass1 {
        let t = Instant::now();
        let tagged = tag::tag_path(&store, path, &opts).expect("tag");
        total.push(us(t));
        assert_eq!(
            tagged.bytes_hashed, FILE_SIZE as u64,
            "a fresh file is hashed, not a stat-cache hit"
        );
    }

    let (mut identify, mut describe, mut encode, mut append, mut write) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for path in pass2 {
        let t = Instant::now();
        tag::identify(&store, path, false).expect("identify");
        identify.push(us(t));

        let t = Instant::now();
        let (rec, _) = tag::describe_path(&store, path, &opts).expect("describe");
        describe.push(us(t));

        let mut batch = Batch {
            artifacts: vec![rec],
            ..Default::default()
        };
        batch.seal();
        let t = Instant::now();
        let bytes = segment::encode(&batch.artifacts);
        let e = us(t);
        encode.push(e);
        std::hint::black_box(bytes);

        let t = Instant::now();
        store.append(batch).expect("append");
        let a = us(t);
        append.push(a);
        write.push((a - e).max(0.0));
    }

    println!(
        "store: {}  ({n} files of {FILE_SIZE} B per pass)",
        store.describe()
    );
    let (median, p90) = row("tag::tag_path, durable on return", &mut total);
    println!("breakdown (pass 2, separate files):");
    row("  tag::identify (stat + BLAKE3 of 4 KiB)", &mut identify);
    row(
        "  tag::describe_path (identify + build record)",
        &mut describe,
    );
    row(
        "  store::segment::encode (1 record -> Parquet)",
        &mut encode,
    );
    row(
        "  Store::append (seal + encode + write + fsyncs)",
        &mut append,
    );
    row(
        "  append - encode (write, fsync, rename, dir fsync)",
        &mut write,
    );
    println!("RESULT tag_path median_us={median:.1} p90_us={p90:.1} n={n}");
}
