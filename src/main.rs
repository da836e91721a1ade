//! The `portico` binary: parse the command line, set up logging, run the command.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,portico=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = portico::cli::Cli::parse();
    let mut out = std::io::stdout();
    match portico::cli::run(cli, &mut out) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(portico::cli::Failure(msg)) => {
            if !msg.is_empty() {
                eprint!("{msg}");
                if !msg.ends_with('\n') {
                    eprintln!();
                }
            }
            std::process::ExitCode::FAILURE
        }
    }
}
