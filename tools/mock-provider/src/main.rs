//! mock-provider: a fake LLM provider for modelgate, speaking three
//! dialects: OpenAI (chat completions, completions, embeddings, models),
//! Anthropic Messages (`/v1/messages`, `count_tokens`, models) and Gemini
//! (`/v1beta/models/{model}:generateContent` and friends, also under `/v1`).
//!
//! This module owns the command line, the Tokio runtime, the accept loop
//! (HTTP/1.1, keep-alive, `TCP_NODELAY`) and shutdown on SIGINT/SIGTERM.
//! Request handling lives in `service` (which tells the dialect, `dialect`,
//! and serves the OpenAI endpoints), `anthropic_api` and `gemini_api`. The
//! wire formats: OpenAI's in `request`, `response`, `embedding` and `sse`;
//! Anthropic's in `anthropic` (requests) and `anthropic_reply`; Gemini's in
//! `gemini` and `gemini_reply`; every dialect's model list in `models` and
//! error envelope in `error`. Function calling (`--tool-calls`) is decided
//! in `tools` (and read from Anthropic and Gemini requests by their
//! modules); prebuilt streams are `frames`; the body type is `body`.

mod anthropic;
mod anthropic_api;
mod anthropic_reply;
mod body;
mod dialect;
mod embedding;
mod error;
mod frames;
mod gemini;
mod gemini_api;
mod gemini_reply;
mod models;
mod request;
mod response;
mod service;
mod sse;
mod tools;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{value_parser, Parser};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::StatusCode;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::service::{FailEvery, State};

/// How long in-flight responses get to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A fake LLM provider with deterministic answers, in three dialects.
///
/// OpenAI: POST /v1/chat/completions, /v1/completions, /v1/embeddings; GET
/// /v1/models. Anthropic: POST /v1/messages (any query, e.g. ?beta=true),
/// /v1/messages/count_tokens; GET /v1/models with an `anthropic-version`
/// header. Gemini: POST /v1beta/models/{model}:generateContent,
/// :streamGenerateContent (?alt=sse), :countTokens; GET /v1beta/models; the
/// same under /v1 (GET /v1/models with an `x-goog-api-key` header).
/// The model lists hold mock-small, mock-large, mock-embed and the models
/// Anthropic and Gemini requests asked for.
#[derive(Parser, Debug)]
#[command(name = "mock-provider", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the line printed at
    /// start shows the real one).
    #[arg(long, default_value = "127.0.0.1:9901", value_name = "ADDR")]
    listen: String,

    /// Chunk events per streamed OpenAI reply (role + N-2 content deltas +
    /// stop), before the optional usage chunk and [DONE]. Anthropic streams
    /// carry the same N-2 text deltas between their framing events; Gemini
    /// streams the same N-2 pieces as N-2 responses.
    #[arg(long, default_value_t = 20, value_name = "N",
          value_parser = value_parser!(u64).range(3..=1_000_000))]
    chunks: u64,

    /// Pause between streamed chunk events, in milliseconds (Anthropic:
    /// before each delta and `message_delta`; Gemini: before each response).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    chunk_delay_ms: u64,

    /// Runtime worker threads (default: one per CPU core).
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,

    /// Refuse requests without the key in `Authorization: Bearer <KEY>`,
    /// `x-api-key` (Anthropic), `x-goog-api-key` or `?key=` (Gemini), as the
    /// path's provider does: 401 (OpenAI, Anthropic); Gemini 403 without a
    /// key, 400 `API_KEY_INVALID` with a wrong one.
    #[arg(long, value_name = "KEY")]
    require_key: Option<String>,

    /// Fail every N-th request to a known endpoint with --fail-status and
    /// the path's error envelope: OpenAI and Anthropic with `Retry-After: 1`
    /// (429: `rate_limit_error`, 529: `overloaded_error`), Gemini with a
    /// `RetryInfo` of 1s in the body (429: `RESOURCE_EXHAUSTED`).
    #[arg(long, value_name = "N", value_parser = value_parser!(u64).range(1..))]
    fail_every: Option<u64>,

    /// Status of the injected failures.
    #[arg(long, default_value_t = 429, value_name = "STATUS",
          value_parser = value_parser!(u16).range(400..=599))]
    fail_status: u16,

    /// Print one line per request to stderr (off by default: benchmarks).
    #[arg(long)]
    log: bool,

    /// Answer requests that carry tools with a call of the first tool (or
    /// the one `tool_choice` / `allowedFunctionNames` names), its required
    /// arguments filled with placeholders: OpenAI `tool_calls`, Anthropic
    /// `tool_use`, Gemini `functionCall` with a `thoughtSignature`. Answer a
    /// request whose last turn is a tool result (`tool` message,
    /// `tool_result` block, `functionResponse` part) with text quoting it.
    /// Gemini requests whose current turn sends a call back without its
    /// `thoughtSignature` get 400, as Gemini 3 answers.
    #[arg(long)]
    tool_calls: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads as usize);
    }
    let result = match runtime.build() {
        Ok(runtime) => runtime.block_on(serve(args)),
        Err(e) => Err(format!("cannot start the Tokio runtime: {e}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mock-provider: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let fail = match args.fail_every {
        Some(every) => {
            let status = StatusCode::from_u16(args.fail_status)
                .map_err(|e| format!("invalid --fail-status {}: {e}", args.fail_status))?;
            Some(FailEvery::new(every, status))
        }
        None => None,
    };
    let state = Arc::new(State::new(
        args.chunks as usize,
        Duration::from_millis(args.chunk_delay_ms),
        args.require_key,
        fail,
        args.log,
        args.tool_calls,
    ));

    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    println!("mock-provider listening on {addr}");

    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true);
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Streamed events must leave as soon as they are written.
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    let service = service_fn(move |req| service::handle(Arc::clone(&state), req));
                    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        // Client resets and timeouts are routine; nothing to report.
                        let _ = conn.await;
                    });
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    eprintln!("mock-provider: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }

    drop(listener);
    eprintln!("mock-provider: shutting down");
    // Idle keep-alive connections close at once; streams get a grace period.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    Ok(async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        tokio::select! {
            () = ctrl_c => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        ctrl_c.await;
    })
}
