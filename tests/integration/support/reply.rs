//! Acting out one [`Behaviour`] for one received request: picking the OpenAI object,
//! writing full responses, streaming SSE with per-event flushes, and the byte-level
//! misbehaviours. Returns whether the connection may serve another request.

use super::behaviour::{Behaviour, Reply};
use super::mock::{RecordedRequest, State};
use super::openai;
use super::wire;
use serde_json::{json, Value};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// What the connection does after a reply.
pub(super) enum Flow {
    KeepAlive,
    Close,
}

/// The request being answered and where to record what is sent.
pub(super) struct Exchange<'a> {
    pub request: &'a RecordedRequest,
    /// The request's index in the mock's record.
    pub index: usize,
    pub state: &'a State,
    /// The client sent `Connection: close`.
    pub close: bool,
}

impl Exchange<'_> {
    fn flow(&self) -> Flow {
        if self.close {
            Flow::Close
        } else {
            Flow::KeepAlive
        }
    }
}

/// Not HTTP: an SSH banner, then binary noise.
const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n";

/// What a misconfigured CDN sends with `Content-Type: application/json`.
const NOT_JSON: &[u8] = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n";

/// The JSON object an OK-family reply produces.
enum Kind {
    Chat,
    Completion,
    Embeddings,
    Models,
    UnknownPath,
}

pub(super) async fn respond<S>(stream: &mut S, b: &Behaviour, ex: Exchange<'_>) -> io::Result<Flow>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    if !b.delay_head.is_zero() {
        tokio::time::sleep(b.delay_head).await;
    }
    match &b.reply {
        Reply::Ok | Reply::Chat | Reply::Completion | Reply::Embeddings => {
            let kind = kind_for(&b.reply, ex.request);
            ok_reply(stream, b, &ex, kind).await
        }
        Reply::Sse {
            chunks,
            delay,
            cut_after,
        } => sse(stream, b, &ex, *chunks, *delay, *cut_after).await,
        Reply::Status(code) => {
            let default = format!("mock upstream error {code}");
            let message = b.error_message.as_deref().unwrap_or(&default);
            let body = openai::error_envelope(*code, message).to_string();
            full(stream, b, &ex, *code, "application/json", body.as_bytes()).await
        }
        Reply::Raw {
            status,
            content_type,
            body,
        } => full(stream, b, &ex, *status, content_type, body).await,
        Reply::BadJson200 => full(stream, b, &ex, 200, "application/json", NOT_JSON).await,
        Reply::Garbage => {
            wire::send(stream, GARBAGE).await?;
            Ok(Flow::Close)
        }
        Reply::Hang => {
            wire::drain(stream).await;
            Ok(Flow::Close)
        }
        Reply::CloseImmediately => Ok(Flow::Close),
        Reply::Sequence(_) => {
            let body = openai::error_envelope(500, "mock: sequences do not nest").to_string();
            full(stream, b, &ex, 500, "application/json", body.as_bytes()).await
        }
    }
}

fn kind_for(reply: &Reply, request: &RecordedRequest) -> Kind {
    let path = request.path.split('?').next().unwrap_or_default();
    if request.method == "GET" && path.ends_with("/models") {
        return Kind::Models;
    }
    match reply {
        Reply::Chat => Kind::Chat,
        Reply::Completion => Kind::Completion,
        Reply::Embeddings => Kind::Embeddings,
        _ if path.ends_with("/chat/completions") => Kind::Chat,
        _ if path.ends_with("/completions") => Kind::Completion,
        _ if path.ends_with("/embeddings") => Kind::Embeddings,
        _ => Kind::UnknownPath,
    }
}

/// The OK-family object for `kind`, or the 400/404 a real provider would send.
fn ok_body(b: &Behaviour, request: &RecordedRequest, kind: Kind) -> (u16, Value) {
    let parsed = match kind {
        Kind::Models => return (200, openai::model_list(&b.models)),
        Kind::UnknownPath => {
            let message = format!("Invalid URL ({} {})", request.method, request.path);
            let error = json!({ "message": message, "type": "invalid_request_error",
                                "param": null, "code": "unknown_url" });
            return (404, json!({ "error": error }));
        }
        _ => openai::parse_request(&request.body),
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return (400, openai::error_envelope(400, &message)),
    };
    let object = match kind {
        Kind::Completion => openai::text_completion(&parsed.model, &b.content),
        Kind::Embeddings => openai::embeddings(&parsed.model, &parsed.json),
        _ => openai::chat_completion(&parsed.model, &b.content),
    };
    (200, object)
}

async fn ok_reply<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    kind: Kind,
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let (status, body) = ok_body(b, ex.request, kind);
    let body = body.to_string();
    full(stream, b, ex, status, "application/json", body.as_bytes()).await
}

/// Headers every reply starts with, then the behaviour's own.
fn headers(
    b: &Behaviour,
    ex: &Exchange<'_>,
    mut base: Vec<(String, String)>,
) -> Vec<(String, String)> {
    if ex.close {
        base.push(("connection".to_string(), "close".to_string()));
    }
    base.extend(b.headers.iter().cloned());
    base
}

/// A complete response with `Content-Length`, written in one go.
async fn full<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let base = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("content-length".to_string(), body.len().to_string()),
    ];
    let mut bytes = wire::head_bytes(status, &headers(b, ex, base));
    bytes.extend_from_slice(body);
    wire::send(stream, &bytes).await?;
    Ok(ex.flow())
}

/// A chunked `text/event-stream`, one HTTP chunk and one flush per event. With
/// `cut_after: Some(k)`, the connection closes after `k` events, mid-body.
async fn sse<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    chunks: usize,
    delay: Duration,
    cut_after: Option<usize>,
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let parsed = match openai::parse_request(&ex.request.body) {
        Ok(parsed) => parsed,
        Err(message) => {
            let body = openai::error_envelope(400, &message).to_string();
            return full(stream, b, ex, 400, "application/json", body.as_bytes()).await;
        }
    };
    let base = vec![
        ("content-type".to_string(), "text/event-stream".to_string()),
        ("cache-control".to_string(), "no-cache".to_string()),
        ("transfer-encoding".to_string(), "chunked".to_string()),
    ];
    wire::send(stream, &wire::head_bytes(200, &headers(b, ex, base))).await?;
    for (i, payload) in openai::sse_payloads(&parsed.model, chunks)
        .into_iter()
        .enumerate()
    {
        if cut_after == Some(i) {
            return Ok(Flow::Close);
        }
        if i > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let event = format!("data: {payload}");
        wire::send(
            stream,
            &wire::chunk_bytes(format!("{event}\n\n").as_bytes()),
        )
        .await?;
        ex.state.record_sent(ex.index, event);
    }
    wire::send(stream, wire::LAST_CHUNK).await?;
    Ok(ex.flow())
}
