//! `availability-server`: the HTTPS service over `availability-core`.
//!
//! The server is not built yet; this binary only says so, so that `cargo run` fails loudly
//! instead of pretending to serve.

fn main() -> std::process::ExitCode {
    eprintln!(
        "availability-server {}: the HTTPS server is not implemented yet; \
         the core library (availability-core) is usable on its own",
        env!("CARGO_PKG_VERSION")
    );
    std::process::ExitCode::FAILURE
}
