// The merged GraphQL schema nests deeply: laying out its futures in a release build takes more than the
// default recursion limit of 128.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::Parser;

// The read side builds and drops many small JSON values and rows per event; glibc's allocator spent a third of
// a projector rebuild's CPU time in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = api::cli::Cli::parse();
    // reqwest and the OTLP exporter are built without a default TLS provider: ring is the only one in the tree.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("aegis: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(api::cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("aegis: {error:#}");
            ExitCode::FAILURE
        }
    }
}
