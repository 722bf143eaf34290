//! Acting out one [`Behaviour`] for one received request: picking the object (the
//! dialect by path, `dialect.rs`), writing full responses, streaming SSE with per-event
//! flushes, delays and cuts, and the byte-level misbehaviours. Returns whether the
//! connection may serve another request.

use super::answer::{self, Answer, Event, Said};
use super::behaviour::{Behaviour, Reply};
use super::dialect::Dialect;
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

/// How an answer is sent: as the request asks (whole or streamed), or streamed anyway.
enum Form {
    AsAsked(Pacing),
    Stream(Pacing),
}

/// The timing of a stream.
#[derive(Clone, Copy)]
struct Pacing {
    /// Between two events.
    delay: Duration,
    /// Close the connection before content event `k + 1`.
    cut_after: Option<usize>,
}

impl Pacing {
    fn steady(delay: Duration) -> Pacing {
        Pacing {
            delay,
            cut_after: None,
        }
    }
}

/// The JSON object an OK-family reply of the OpenAI dialect produces.
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
    let dialect = Dialect::of(ex.request);
    match &b.reply {
        Reply::Completion | Reply::Embeddings => ok_reply(stream, b, &ex).await,
        // `ok()` streams a chat request that asks for it (as `tool_call` does);
        // `chat_ok()` answers JSON whatever was asked.
        Reply::Ok
            if dialect == Dialect::OpenAi
                && ex.request.path.ends_with("/chat/completions")
                && asks_stream(ex.request) =>
        {
            let said = Said::Text(answer::words(&b.content));
            let form = Form::AsAsked(Pacing::steady(Duration::ZERO));
            converse(stream, b, &ex, dialect, said, form).await
        }
        Reply::Ok | Reply::Chat if dialect == Dialect::OpenAi => ok_reply(stream, b, &ex).await,
        Reply::Ok | Reply::Chat if is_model_list(ex.request) => {
            let body = dialect.model_list(&b.models).to_string();
            full(stream, b, &ex, 200, dialect.json_type(), body.as_bytes()).await
        }
        Reply::Ok | Reply::Chat => {
            let said = Said::Text(answer::words(&b.content));
            let form = Form::AsAsked(Pacing::steady(Duration::ZERO));
            converse(stream, b, &ex, dialect, said, form).await
        }
        Reply::Sse {
            chunks,
            delay,
            cut_after,
        } => {
            let said = Said::Text(answer::numbered_tokens(*chunks));
            let pacing = Pacing {
                delay: *delay,
                cut_after: *cut_after,
            };
            converse(stream, b, &ex, dialect, said, Form::Stream(pacing)).await
        }
        Reply::ToolCall { name, args, delay } => {
            let said = Said::ToolCall {
                name: name.clone(),
                args: args.clone(),
            };
            let form = Form::AsAsked(Pacing::steady(*delay));
            converse(stream, b, &ex, dialect, said, form).await
        }
        Reply::Status(code) => {
            let default = format!("mock upstream error {code}");
            let message = b.error_message.as_deref().unwrap_or(&default);
            error_reply(stream, b, &ex, dialect, *code, message).await
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
            error_reply(stream, b, &ex, dialect, 500, "mock: sequences do not nest").await
        }
    }
}

fn is_model_list(request: &RecordedRequest) -> bool {
    let path = request.path.split('?').next().unwrap_or_default();
    request.method == "GET" && path.ends_with("/models")
}

fn kind_for(reply: &Reply, request: &RecordedRequest) -> Kind {
    if is_model_list(request) {
        return Kind::Models;
    }
    let path = request.path.split('?').next().unwrap_or_default();
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
        _ => {
            let said = Said::Text(answer::words(&b.content));
            openai::chat_completion(&Answer::new(&parsed.model, said, b.usage))
        }
    };
    (200, object)
}

/// The OpenAI OK-family reply: the object `kind_for` picks.
async fn ok_reply<S>(stream: &mut S, b: &Behaviour, ex: &Exchange<'_>) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let (status, body) = ok_body(b, ex.request, kind_for(&b.reply, ex.request));
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

/// The dialect's error envelope for `status`, whole.
async fn error_reply<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    dialect: Dialect,
    status: u16,
    message: &str,
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let body = dialect.error(status, message, b.retry_delay).to_string();
    full(stream, b, ex, status, dialect.json_type(), body.as_bytes()).await
}

/// Answers a conversation request (chat, responses, messages, generateContent) with
/// `said`, in the request's dialect: its 400 if the provider would reject the body, else
/// the whole reply or the stream, as `form` says.
async fn converse<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    dialect: Dialect,
    said: Said,
    form: Form,
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let asked = match dialect.parse(ex.request) {
        Ok(asked) => asked,
        Err(message) => return error_reply(stream, b, ex, dialect, 400, &message).await,
    };
    let answer = Answer::new(&asked.model, said, b.usage);
    let pacing = match form {
        Form::Stream(pacing) => pacing,
        Form::AsAsked(pacing) if asked.stream => pacing,
        Form::AsAsked(_) => {
            let body = dialect.whole(&answer).to_string();
            return full(stream, b, ex, 200, dialect.json_type(), body.as_bytes()).await;
        }
    };
    let events = dialect.events(&answer);
    sse(stream, b, ex, dialect.stream_type(), events, pacing).await
}

/// The text of one event without its terminating blank line: what is recorded, and what
/// [`read_sse_events`](super::read_sse_events) yields on the client side.
fn event_text(event: &Event, eol: &str) -> String {
    match event.name {
        Some(name) => format!("event: {name}{eol}data: {}", event.data),
        None => format!("data: {}", event.data),
    }
}

/// A chunked `text/event-stream`, one HTTP chunk and one flush per event, `delay` between
/// events. With `cut_after: Some(k)`, the connection closes, mid-body, before content
/// event `k + 1`.
async fn sse<S>(
    stream: &mut S,
    b: &Behaviour,
    ex: &Exchange<'_>,
    content_type: &str,
    events: Vec<Event>,
    pacing: Pacing,
) -> io::Result<Flow>
where
    S: AsyncWrite + Unpin,
{
    let base = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("cache-control".to_string(), "no-cache".to_string()),
        ("transfer-encoding".to_string(), "chunked".to_string()),
    ];
    wire::send(stream, &wire::head_bytes(200, &headers(b, ex, base))).await?;
    let eol = if b.crlf { "\r\n" } else { "\n" };
    let mut content_sent = 0;
    for (i, event) in events.iter().enumerate() {
        if event.content && pacing.cut_after == Some(content_sent) {
            return Ok(Flow::Close);
        }
        if i > 0 && !pacing.delay.is_zero() {
            tokio::time::sleep(pacing.delay).await;
        }
        let text = event_text(event, eol);
        let chunk = wire::chunk_bytes(format!("{text}{eol}{eol}").as_bytes());
        wire::send(stream, &chunk).await?;
        ex.state.record_sent(ex.index, text);
        content_sent += usize::from(event.content);
    }
    wire::send(stream, wire::LAST_CHUNK).await?;
    Ok(ex.flow())
}

/// Whether a JSON request body has `"stream": true`.
fn asks_stream(request: &RecordedRequest) -> bool {
    serde_json::from_slice::<Value>(&request.body).is_ok_and(|v| v["stream"] == true)
}
