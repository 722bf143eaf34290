//! One JSON line per request (`access_log` in gateway.yaml: `stdout`, the
//! default; `stderr`; `off`; or an absolute file path, appended to). It names
//! the gateway key by its *name*, instances by id, and never holds a key or a
//! body. The process log (`log` + `env_logger`, `RUST_LOG`) goes to stderr.

use super::RequestCtx;
use crate::config;
use crate::dialect::Usage;
use serde::Serialize;
use std::fs::File;
use std::io::{LineWriter, Write};
use std::sync::Mutex;
use std::time::SystemTime;

/// The access log's file cannot be opened for appending.
#[derive(Debug, thiserror::Error)]
#[error("access_log `{}`: cannot open it: {source}", path.display())]
pub struct AccessLogError {
    pub path: std::path::PathBuf,
    pub source: std::io::Error,
}

pub enum AccessLog {
    Stdout,
    Stderr,
    File(Mutex<LineWriter<File>>),
    Off,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    request_id: &'a str,
    key: Option<&'a str>,
    route: &'a str,
    model: Option<&'a str>,
    instance: Option<&'a str>,
    upstream_model: Option<&'a str>,
    attempts: Vec<Attempt<'a>>,
    status: u16,
    stream: bool,
    bytes_in: usize,
    bytes_out: usize,
    ttfb_ms: Option<f64>,
    duration_ms: f64,
    usage: Option<Usage>,
    /// What the usage cost (priced models only).
    cost_usd: Option<f64>,
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct Attempt<'a> {
    instance: &'a str,
    outcome: &'a str,
    ms: u64,
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

impl AccessLog {
    pub fn open(conf: &config::AccessLog) -> Result<Self, AccessLogError> {
        Ok(match conf {
            config::AccessLog::Stdout => Self::Stdout,
            config::AccessLog::Stderr => Self::Stderr,
            config::AccessLog::Off => Self::Off,
            config::AccessLog::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)
                    .map_err(|source| AccessLogError {
                        path: path.clone(),
                        source,
                    })?;
                Self::File(Mutex::new(LineWriter::new(file)))
            }
        })
    }

    pub fn write(&self, ctx: &RequestCtx) {
        if matches!(self, Self::Off) {
            return;
        }
        let line = Line {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            request_id: &ctx.request_id,
            key: ctx.key_name.as_deref(),
            route: ctx.route,
            model: ctx.requested_model.as_deref(),
            instance: ctx.instance.as_deref(),
            upstream_model: ctx.upstream_model.as_deref(),
            attempts: (ctx.attempt_log.iter())
                .map(|a| Attempt {
                    instance: &a.instance,
                    outcome: &a.outcome,
                    ms: a.ms,
                })
                .collect(),
            status: ctx.status,
            stream: ctx.stream,
            bytes_in: ctx.bytes_in,
            bytes_out: ctx.bytes_out,
            ttfb_ms: ctx.first_byte.map(|t| ms(t.duration_since(ctx.start))),
            duration_ms: ms(ctx.start.elapsed()),
            usage: ctx.usage,
            cost_usd: ctx.cost_usd,
            note: ctx.note.as_deref(),
        };
        let mut buf = Vec::with_capacity(512);
        if serde_json::to_writer(&mut buf, &line).is_err() {
            return;
        }
        buf.push(b'\n');
        // A full disk or a closed pipe must not take requests down with it.
        let _ = match self {
            Self::Stdout => std::io::stdout().lock().write_all(&buf),
            Self::Stderr => std::io::stderr().lock().write_all(&buf),
            Self::File(f) => match f.lock() {
                Ok(mut f) => f.write_all(&buf),
                Err(p) => p.into_inner().write_all(&buf),
            },
            Self::Off => Ok(()),
        };
    }
}
