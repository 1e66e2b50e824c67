//! The `host` command line; see [`host::cli`].

fn main() -> std::process::ExitCode {
    host::cli::main()
}
