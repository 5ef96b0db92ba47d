//! The `enamel` binary: everything lives in the library so tests can drive it.

/// mimalloc: the store's batches allocate many small values; glibc malloc spent a quarter
/// of a bulk upsert in malloc/free (perf, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    enamel_server::main()
}
