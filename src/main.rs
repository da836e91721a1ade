//! The `portico` binary: parse the command line, set up logging, run the command.
#![forbid(unsafe_code)]

use std::io::IsTerminal;

use clap::Parser;
use portico::config::LogFormat;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,portico=info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file or a shipper.
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = portico::cli::Cli::parse();
    init_logging(cli.log_format());
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
