//! The `enamel` binary's library: command line, configuration and telemetry.
//!
//! This is the only crate that reads the environment or parses command lines; the others
//! receive typed values. It uses `anyhow` for errors: they end here, printed once.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod config;
mod connections;
pub mod http;
mod secrets;
mod service;
mod telemetry;
mod writeback;

pub use cli::Cli;
pub use config::LogFormat;

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match commands::resolve(&cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // The demo talks to a person: keep the sync's progress logs out of its output.
    let quiet = matches!(cli.command, cli::Command::Demo(_));
    telemetry::init(config.log_format, if quiet { "warn" } else { "warn,enamel=info" });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run_with(cli, config));
    // Tasks abandoned at the end of a graceful shutdown must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
