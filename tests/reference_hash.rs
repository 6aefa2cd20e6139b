//! Digests agree with the reference BLAKE3 tool, `b3sum` (installed by scripts/test), on a
//! 1 GiB file; re-tagging it unchanged is answered by the stat cache without reading it.

use crate::common;

use std::io::Write;
use std::process::Command;

use common::Project;

fn b3sum(path: &std::path::Path) -> String {
    let out = Command::new("b3sum")
        .arg("--no-names")
        .arg(path)
        .output()
        .expect(
        "b3sum is not installed: run ./scripts/test (it installs it) or `apt-get install b3sum`",
    );
    assert!(
        out.status.success(),
        "b3sum failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn one_gib_file_matches_b3sum_and_retag_reads_nothing() {
    let p = Project::new();
    let path = p.path().join("big.bin");
    {
        let mut f =
            std::io::BufWriter::with_capacity(8 << 20, std::fs::File::create(&path).unwrap());
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            for chunk in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 30);
    // Files changed within 100 ms of hashing are not cached (coarse timestamps could hide a
    // second write); let that window pass so the first tag can fill the cache.
    std::thread::sleep(std::time::Duration::from_millis(200));

    let first = p
        .ok(&["--format", "json", "tag", "dataset", "big.bin"])
        .json();
    let reference = b3sum(&path);
    assert_eq!(first["artifact_id"], format!("blake3:{reference}"));
    assert_eq!(first["bytes_hashed"], 1u64 << 30);
    assert_eq!(first["size_bytes"], 1u64 << 30);

    let again = p
        .ok(&["--format", "json", "tag", "dataset", "big.bin"])
        .json();
    assert_eq!(again["artifact_id"], first["artifact_id"]);
    assert_eq!(
        again["bytes_hashed"], 0,
        "unchanged file must come from the stat cache"
    );

    // Touching the content invalidates the cache entry.
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(b"changed").unwrap();
    }
    let changed = p
        .ok(&["--format", "json", "tag", "dataset", "big.bin"])
        .json();
    assert_eq!(changed["artifact_id"], format!("blake3:{}", b3sum(&path)));
    assert_ne!(changed["artifact_id"], first["artifact_id"]);
    std::fs::remove_file(&path).unwrap();
}
