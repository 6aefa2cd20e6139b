// mimalloc: the audit and the composition scan allocate and free millions of small objects
// across threads; measured against glibc malloc in docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(mlprov::cli::main());
}
