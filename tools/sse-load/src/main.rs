//! sse-load: the load client of modelgate's benchmark (`bench/`), for the two
//! things `wrk` cannot measure.
//!
//! - `bench`: a closed loop at a fixed concurrency for a fixed duration after a
//!   warm-up, one keep-alive HTTP/1.1 connection per worker; it records the
//!   time to the first body byte (what a chat UI waits for on an SSE stream)
//!   and the time to the end of the response, in HDR histograms.
//! - `soak`: opens thousands of streams, holds them open, and reports how many
//!   stayed open and, with `--watch-pid`, the proxy's RSS before, during and
//!   after.
//!
//! Either prints one JSON line on stdout. This module owns the command line
//! and the runtime; it must not hold measurement logic. It only talks to
//! loopback addresses: it is a benchmark tool, not a way to load other hosts.

mod bench;
mod client;
mod procfs;
mod soak;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};

use crate::client::Target;

#[derive(Parser, Debug)]
#[command(
    name = "sse-load",
    version,
    about = "Load client for SSE time-to-first-byte and stream soaks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Closed loop at fixed concurrency; latency and TTFB percentiles.
    Bench {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: bench::BenchArgs,
    },
    /// Open N streams, hold them, report how many stayed open and the RSS.
    Soak {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        args: soak::SoakArgs,
    },
}

#[derive(Args, Debug)]
struct TargetArgs {
    /// Where to POST, e.g. http://127.0.0.1:8080/v1/chat/completions
    /// (loopback only).
    #[arg(long)]
    url: String,
    /// The JSON request body.
    #[arg(
        long,
        conflicts_with = "body_file",
        required_unless_present = "body_file"
    )]
    body: Option<String>,
    /// Read the request body from this file instead.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the harness pins the client to one core, and a single
    // thread keeps the client's own cost low and steady.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sse-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sse-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<String, String> {
    let json = match command {
        Command::Bench { target, args } => {
            let report = bench::run(Arc::new(target.resolve().await?), &args).await?;
            serde_json::to_string(&report)
        }
        Command::Soak { target, args } => {
            let report = soak::run(Arc::new(target.resolve().await?), &args).await?;
            serde_json::to_string(&report)
        }
    };
    json.map_err(|e| format!("cannot write the report: {e}"))
}

impl TargetArgs {
    async fn resolve(self) -> Result<Target, String> {
        let body = match (self.body, self.body_file) {
            (Some(b), _) => Bytes::from(b),
            (None, Some(path)) => std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            (None, None) => return Err("give --body or --body-file".into()),
        };
        Target::resolve(&self.url, body, &self.headers).await
    }
}
