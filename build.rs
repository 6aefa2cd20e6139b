//! Link-time settings for the `mlprov` binary only (dependencies are not rebuilt for them).

fn main() {
    // Every command starts by relocating a large executable: packed relative relocations
    // (RELR, glibc ≥ 2.36 with binutils ≥ 2.38) make that table a few kilobytes instead of
    // megabytes. Only where the linker supports it: checked, not assumed.
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("linux-gnu") && linker_supports("-Wl,-z,pack-relative-relocs") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Whether `cc` links a trivial program with `flag` (and the result runs).
fn linker_supports(flag: &str) -> bool {
    let Some(dir) = std::env::var_os("OUT_DIR").map(std::path::PathBuf::from) else {
        return false;
    };
    let src = dir.join("relr-probe.c");
    let exe = dir.join("relr-probe");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let linked = std::process::Command::new("cc")
        .arg(flag)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    linked
        && std::process::Command::new(&exe)
            .status()
            .is_ok_and(|s| s.success())
}
