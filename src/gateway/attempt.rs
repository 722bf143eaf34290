//! One attempt against one instance, owned end to end (Pingora's own proxy
//! loop can only replay 64 KiB of body; LLM prompts are larger). Connect
//! through Pingora's pooled connector, send head + body, wait for the response
//! head under the first-byte deadline while watching for the client leaving,
//! then let `classify` decide: deliver, pass through, or fail over. Nothing
//! reaches the client before that decision, so a failed attempt is invisible.

use super::classify::{classify, Failure, Served, Verdict};
use super::deliver::{unix_now, Deliver, StreamEnd};
use super::{client, headers, State};
use crate::dialect::pair::Pair;
use crate::dialect::{gemini, upstream_error, usage_from_json, Dialect, Usage};
use crate::observe::RequestCtx;
use crate::routing::{hints, Ticket};
use crate::upstream::{self, BodyBatches, ReadError, UpSession, Upstream, Wire};
use bytes::{Bytes, BytesMut};
use pingora::protocols::http::ServerSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// A non-stream 2xx body is checked to be JSON up to this size; larger ones
/// (embeddings of big batches) are streamed through unchanged, with the
/// upstream's own framing: never cut short under a rewritten length.
const CHECK_LIMIT: usize = 64 * 1024 * 1024;
/// How long a 429's body is waited for when its rate-limit hint is in it.
const HINT_BODY_WAIT: Duration = Duration::from_secs(5);
/// A stale pooled connection is replaced this many times per attempt.
const STALE_RETRIES: u32 = 2;

pub enum Outcome {
    /// A response went to the client (or the client left): the request is over.
    Served(Served),
    /// Nothing went to the client: try the next candidate.
    Failed(Failure),
}

/// What the attempt sends.
pub struct Attempt<'a> {
    pub up: &'a Upstream,
    pub addr: SocketAddr,
    pub path: String,
    pub body: Bytes,
    pub model: &'a str,
    pub stream: bool,
    /// The routing ticket, told at once when the head says a window emptied.
    pub ticket: &'a Ticket<'a>,
    /// Set when the provider speaks another dialect than the client.
    pub translation: Option<Translation>,
    /// The gateway asked for stream usage the client did not ask for.
    pub strip_usage: bool,
}

/// How a reply goes back to a client of another dialect.
pub struct Translation {
    pub pair: Pair,
    /// `(sent, original)` tool names the request had to shorten.
    pub tool_names: Vec<(String, String)>,
    /// The model the client asked for: the translated reply names it.
    pub client_model: String,
    /// The client asked for a usage event at the end of its stream.
    pub include_usage: bool,
}

pub async fn run(
    state: &State,
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
    a: Attempt<'_>,
) -> Outcome {
    let peer = a.up.peer(a.addr);
    let started = Instant::now();
    let (mut conn, verdict) =
        match connect_and_send(state, session, &peer, &a, &ctx.request_id).await {
            Ok(Some(x)) => x,
            Ok(None) => return client_left(ctx),
            Err(f) => return Outcome::Failed(f),
        };
    let ttfb = started.elapsed();
    let status = upstream::status(&conn);
    if let (Verdict::Deliver, Some(head)) = (verdict, conn.resp_header()) {
        if let Some(d) = hints::exhausted_until(&head.headers, SystemTime::now()) {
            a.ticket.exhausted(d);
        }
    }
    if verdict == Verdict::Retry {
        let mut f = retry_failure(&conn);
        // Gemini says how long to wait in the body (`RetryInfo`), not in
        // a header.
        if let (
            Failure::Status {
                code: 429,
                retry_after: None,
            },
            Dialect::Gemini,
        ) = (&f, a.up.dialect)
        {
            let within = state.timeouts.idle.min(HINT_BODY_WAIT);
            if let Ok(Json::Checked(body, _) | Json::Other(body)) =
                read_json_body(&mut conn, within).await
            {
                f = Failure::Status {
                    code: 429,
                    retry_after: gemini::retry_delay(&body),
                };
            }
        }
        (state.connector)
            .discard(conn, &peer, state.timeouts.idle)
            .await;
        return Outcome::Failed(f);
    }
    let idle = state.timeouts.idle;
    let translated = a.translation.is_some();
    if translated && a.stream && verdict == Verdict::Deliver && !is_event_stream(&conn) {
        // A translator reads events; a whole reply to a stream request is
        // not what was asked for.
        (state.connector).discard(conn, &peer, idle).await;
        return Outcome::Failed(Failure::BadResponse(NOT_A_STREAM.into()));
    }
    // The body reads are awaited here, not in a helper: a nested future is
    // moved into its parent's state when awaited, and these are large
    // (measured: ~8k instructions per request for two such layers).
    let body = match first_read(verdict, a.stream, &conn, translated) {
        FirstRead::Nothing => Body::Stream(None),
        FirstRead::Chunk => match read_chunk(&mut conn, idle).await {
            Ok(Some(first)) => Body::Stream(Some(first)),
            Ok(None) => return Outcome::Failed(Failure::BadResponse(EMPTY_STREAM.into())),
            Err(f) => return Outcome::Failed(f),
        },
        FirstRead::Json | FirstRead::Error => match read_json_body(&mut conn, idle).await {
            Ok(Json::Checked(body, usage)) => {
                ctx.usage = usage;
                Body::Whole(body)
            }
            // An error passed on in the client's dialect may be any text.
            Ok(Json::Other(body)) if verdict != Verdict::Deliver => Body::Whole(body),
            Ok(Json::Other(_)) => return Outcome::Failed(Failure::BadResponse(NOT_JSON.into())),
            Ok(Json::TooLarge(prefix)) => Body::Stream(Some(prefix)),
            Err(f) => return Outcome::Failed(f),
        },
    };
    if let (Dialect::Gemini, Body::Whole(error)) = (a.up.dialect, &body) {
        if status == 400 && gemini::key_invalid(error) {
            // Gemini's word for a rejected key: fail over, and let routing
            // re-check the key as for a 401.
            (state.connector).discard(conn, &peer, idle).await;
            return Outcome::Failed(Failure::Status {
                code: 401,
                retry_after: None,
            });
        }
    }
    let body = match &a.translation {
        None => body,
        Some(t) => match translate_whole(t, verdict, status, a.stream, body, ctx) {
            Ok(body) => body,
            Err(f) => return Outcome::Failed(f),
        },
    };
    let translator = (a.translation)
        .filter(|_| matches!(body, Body::Stream(_)))
        .map(|t| {
            let created = unix_now();
            (t.pair).stream(t.client_model, t.tool_names, t.include_usage, created)
        });
    let deliver = Deliver {
        state,
        session,
        ctx,
        peer: &peer,
        instance: &a.up.id,
        model: a.model,
        content_type: translated.then_some(match body {
            Body::Stream(_) => "text/event-stream",
            Body::Whole(_) => "application/json",
        }),
        strip_usage: a.strip_usage,
    };
    let broke = match body {
        Body::Stream(first) => {
            deliver.pump(conn, first, translator).await == StreamEnd::UpstreamBroke
        }
        Body::Whole(body) => {
            deliver.whole(conn, body).await;
            false
        }
    };
    Outcome::Served(Served::Response {
        status,
        ttfb,
        broke,
    })
}

/// How a decided response's body goes out.
enum Body {
    /// Checked and complete: sent with its length.
    Whole(Bytes),
    /// Passed through as it arrives, starting with the chunk already read.
    Stream(Option<Bytes>),
}

const EMPTY_STREAM: &str = "stream ended before any data";
const NOT_JSON: &str = "a 2xx whose body is not JSON";
const NOT_A_STREAM: &str = "a stream was asked for and the reply is not one";

/// A whole reply (a success, or an error passed on) in the client's
/// dialect. A success the translator cannot read is the upstream's fault,
/// like a 2xx that is not JSON: the next candidate is tried.
fn translate_whole(
    t: &Translation,
    verdict: Verdict,
    status: u16,
    stream: bool,
    body: Body,
    ctx: &mut RequestCtx,
) -> Result<Body, Failure> {
    let body = match body {
        Body::Whole(body) => body,
        // A stream is translated as it is pumped.
        Body::Stream(first) if verdict == Verdict::Deliver && stream => {
            return Ok(Body::Stream(first))
        }
        Body::Stream(_) => {
            return Err(Failure::BadResponse(
                "a reply too large to translate".into(),
            ))
        }
    };
    if verdict != Verdict::Deliver {
        return Ok(Body::Whole(upstream_error::translate(
            &body,
            status,
            ctx.dialect,
        )));
    }
    let translated = (t.pair)
        .response(&body, &t.client_model, &t.tool_names, unix_now())
        .map_err(|e| Failure::BadResponse(e.message()))?;
    ctx.usage = t.pair.usage(&body).map(Usage::from);
    Ok(Body::Whole(Bytes::from(translated)))
}

/// What is read of a response before its head goes out.
enum FirstRead {
    /// Nothing: a passed-through error, or a body too large to check.
    Nothing,
    /// A stream's first chunk (a stream that ends at once is a failure).
    Chunk,
    /// The whole non-stream 2xx, which must be JSON and tells its usage.
    Json,
    /// The whole error, to be put in the client's dialect.
    Error,
}

fn first_read(verdict: Verdict, stream: bool, conn: &UpSession, translated: bool) -> FirstRead {
    match verdict {
        Verdict::Retry => FirstRead::Nothing,
        Verdict::PassThrough if translated => FirstRead::Error,
        Verdict::PassThrough => FirstRead::Nothing,
        // A translator reads what it asked for, and a whole reply whole.
        Verdict::Deliver if translated && stream => FirstRead::Chunk,
        Verdict::Deliver if translated => FirstRead::Json,
        Verdict::Deliver if stream || is_event_stream(conn) => FirstRead::Chunk,
        Verdict::Deliver if declared_length(conn).is_some_and(|n| n > CHECK_LIMIT) => {
            FirstRead::Nothing
        }
        Verdict::Deliver => FirstRead::Json,
    }
}

fn client_left(ctx: &mut RequestCtx) -> Outcome {
    ctx.note = Some("client disconnected before the first byte".into());
    ctx.status = 499;
    Outcome::Served(Served::ClientLeft)
}

/// Connect, send, read the head. `Ok(None)`: the client left meanwhile.
async fn connect_and_send(
    state: &State,
    session: &mut ServerSession,
    peer: &HttpPeer,
    a: &Attempt<'_>,
    request_id: &str,
) -> Result<Option<(UpSession, Verdict)>, Failure> {
    let wire = headers::upstream_request(
        session.req_header(),
        a.up,
        &a.path,
        a.body.len(),
        request_id,
        a.translation.is_some(),
    )
    .and_then(|header| Wire::new(&header, &a.body))
    .map_err(|e| Failure::Connect(e.etype().as_str().to_string()))?;
    let mut stale = 0;
    loop {
        let (stream, reused) = state
            .connector
            .connect(peer)
            .await
            .map_err(|e| connect_failure(&e))?;
        let answer = tokio::time::timeout(
            state.timeouts.first_byte,
            upstream::exchange(stream, peer, &wire),
        );
        // `biased`: the watch on the client (a read on its socket) runs only while
        // the upstream has nothing yet.
        let result = tokio::select! {
            biased;
            r = answer => r,
            () = client::gone(session) => return Ok(None),
        };
        match result {
            Ok(Ok(conn)) => {
                let verdict = classify(upstream::status(&conn));
                return Ok(Some((conn, verdict)));
            }
            Ok(Err(e)) if reused && stale < STALE_RETRIES && is_stale_connection(&e) => stale += 1,
            Ok(Err(e)) => return Err(io_failure(&e)),
            Err(_) => return Err(Failure::Timeout),
        }
    }
}

/// A pooled connection the provider had already closed: it fails on write
/// or reads end-of-file / a reset. Anything else (garbage, timeouts) was an
/// answer, and resending would call the same instance twice.
fn is_stale_connection(e: &pingora::Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectionClosed | ErrorType::WriteError | ErrorType::ReadError
    )
}

fn connect_failure(e: &pingora::Error) -> Failure {
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::TLSHandshakeTimedout => Failure::Timeout,
        t => Failure::Connect(t.as_str().to_string()),
    }
}

fn io_failure(e: &pingora::Error) -> Failure {
    match e.etype() {
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => Failure::Timeout,
        ErrorType::InvalidHTTPHeader | ErrorType::H1Error | ErrorType::H2Error => {
            Failure::BadResponse("not an HTTP response".into())
        }
        t => Failure::Connect(t.as_str().to_string()),
    }
}

fn header_bytes<'a>(conn: &'a UpSession, name: &str) -> Option<&'a [u8]> {
    conn.resp_header()?.headers.get(name).map(|v| v.as_bytes())
}

fn retry_failure(conn: &UpSession) -> Failure {
    let code = upstream::status(conn);
    let retry_after = conn
        .resp_header()
        .and_then(|h| hints::after_rate_limit(&h.headers, SystemTime::now()));
    Failure::Status { code, retry_after }
}

fn is_event_stream(conn: &UpSession) -> bool {
    header_bytes(conn, "content-type").is_some_and(|v| v.starts_with(b"text/event-stream"))
}

async fn read_chunk(conn: &mut UpSession, idle: Duration) -> Result<Option<Bytes>, Failure> {
    upstream::read_chunk(conn, idle).await.map_err(|e| match e {
        ReadError::Broken(kind) => Failure::BadResponse(format!("body: {kind}")),
        ReadError::Timeout => Failure::Timeout,
    })
}

/// The `Content-Length` of the response, when it has one.
fn declared_length(conn: &UpSession) -> Option<usize> {
    let v = header_bytes(conn, "content-length")?;
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A non-stream 2xx body as read for checking.
enum Json {
    /// Whole and JSON, with the usage it reports (read in the same parse).
    Checked(Bytes, Option<Usage>),
    /// Past `CHECK_LIMIT`: what was read so far, to be sent on with the rest.
    TooLarge(Bytes),
    /// Whole, but not JSON.
    Other(Bytes),
}

/// A whole body (a non-stream 2xx, which must be JSON to count as a
/// success, or an error to translate).
async fn read_json_body(conn: &mut UpSession, idle: Duration) -> Result<Json, Failure> {
    let mut batches = BodyBatches::default();
    let mut parts: Vec<Bytes> = Vec::new();
    let mut len = 0;
    loop {
        let batch = match tokio::time::timeout(idle, batches.next(conn)).await {
            Ok(Ok(Some(batch))) => batch,
            Ok(Ok(None)) => break,
            Ok(Err(e)) => {
                return Err(Failure::BadResponse(format!(
                    "body: {}",
                    e.etype().as_str()
                )))
            }
            Err(_) => return Err(Failure::Timeout),
        };
        len += batch.len();
        parts.push(batch);
        if len > CHECK_LIMIT {
            return Ok(Json::TooLarge(concat(parts, len)));
        }
    }
    let body = concat(parts, len);
    match usage_from_json(&body) {
        Ok(usage) => Ok(Json::Checked(body, usage)),
        Err(_) => Ok(Json::Other(body)),
    }
}

/// One buffer from the parts read (usually one already: no copy).
fn concat(mut parts: Vec<Bytes>, len: usize) -> Bytes {
    if parts.len() == 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut buf = BytesMut::with_capacity(len);
    for p in parts {
        buf.extend_from_slice(&p);
    }
    buf.freeze()
}
