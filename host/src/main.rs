//! The `host` command line; see [`host::cli`].

// glibc's malloc serialises the runtime's worker threads on its arena locks and
// spends a fifth of the per-frame CPU in malloc/free (BENCHMARKS.md); mimalloc's
// thread-local heaps remove both.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    host::cli::main()
}
