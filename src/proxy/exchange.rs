//! One attempt against one instance, owned end to end (Pingora's own proxy
//! loop can only replay 64 KiB of body; LLM prompts are larger). Connect
//! through Pingora's pooled connector, send head + body, wait for the response
//! head under the first-byte deadline while watching for the client leaving,
//! then let `classify` decide: deliver, pass through, or fail over. Nothing
//! reaches the client before that decision, so a failed attempt is invisible.

use super::classify::{classify, parse_retry_after, Failure, Verdict};
use super::headers::{self, Routed};
use super::upstream::{Upstream, POOL_IDLE};
use super::{RequestCtx, State};
use bytes::{Bytes, BytesMut};
use pingora::protocols::http::client::HttpSession as UpSession;
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// A non-stream 2xx body is checked to be JSON up to this size; larger ones
/// pass through unchecked (embeddings of big batches).
const CHECK_LIMIT: usize = 64 * 1024 * 1024;
/// Error bodies of failed attempts are read (to keep the connection) up to this.
const DRAIN_LIMIT: usize = 256 * 1024;
/// A stale pooled connection is replaced this many times per attempt.
const STALE_RETRIES: u32 = 2;

pub enum Outcome {
    /// A response went to the client (or the client left): the request is over.
    Served,
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
}

pub async fn run(
    state: &State,
    session: &mut Session,
    ctx: &mut RequestCtx,
    a: Attempt<'_>,
) -> Outcome {
    let peer = a.up.peer(a.addr);
    let (mut conn, verdict) =
        match connect_and_send(state, session, &peer, &a, &ctx.request_id).await {
            Ok(Some(x)) => x,
            Ok(None) => return client_left(ctx),
            Err(f) => return Outcome::Failed(f),
        };
    match verdict {
        Verdict::Retry => {
            let f = retry_failure(&conn);
            drain(state, conn, &peer).await;
            Outcome::Failed(f)
        }
        Verdict::PassThrough => {
            Deliver {
                state,
                session,
                ctx,
                peer: &peer,
                a: &a,
            }
            .pump(conn, None)
            .await;
            Outcome::Served
        }
        Verdict::Deliver if a.stream || is_event_stream(&conn) => {
            let first = match read_chunk(&mut conn, state.timeouts.idle).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    return Outcome::Failed(Failure::BadResponse(
                        "stream ended before any data".into(),
                    ))
                }
                Err(f) => return Outcome::Failed(f),
            };
            Deliver {
                state,
                session,
                ctx,
                peer: &peer,
                a: &a,
            }
            .pump(conn, Some(first))
            .await;
            Outcome::Served
        }
        Verdict::Deliver => {
            let body = match read_json_body(&mut conn, state.timeouts.idle).await {
                Ok(body) => body,
                Err(f) => return Outcome::Failed(f),
            };
            Deliver {
                state,
                session,
                ctx,
                peer: &peer,
                a: &a,
            }
            .whole(conn, body)
            .await;
            Outcome::Served
        }
    }
}

fn client_left(ctx: &mut RequestCtx) -> Outcome {
    ctx.note = Some("client disconnected before the first byte".into());
    ctx.status = 499;
    Outcome::Served
}

/// Connect, send, read the head. `Ok(None)`: the client left meanwhile.
async fn connect_and_send(
    state: &State,
    session: &mut Session,
    peer: &HttpPeer,
    a: &Attempt<'_>,
    request_id: &str,
) -> Result<Option<(UpSession, Verdict)>, Failure> {
    let header = headers::upstream_request(
        session.req_header(),
        a.up,
        &a.path,
        a.body.len(),
        request_id,
    )
    .map_err(|e| Failure::Connect(e.etype().as_str().to_string()))?;
    let mut stale = 0;
    loop {
        let (mut conn, reused) = state
            .connector
            .get_http_session(peer)
            .await
            .map_err(|e| connect_failure(&e))?;
        let exchange = tokio::time::timeout(
            state.timeouts.first_byte,
            send_and_read_head(&mut conn, header.clone(), a.body.clone()),
        );
        let result = tokio::select! {
            r = exchange => r,
            () = client_gone(session) => return Ok(None),
        };
        match result {
            Ok(Ok(status)) => return Ok(Some((conn, classify(status)))),
            Ok(Err(_)) if reused && stale < STALE_RETRIES => stale += 1,
            Ok(Err(e)) => return Err(io_failure(&e)),
            Err(_) => return Err(Failure::Timeout),
        }
    }
}

async fn send_and_read_head(
    conn: &mut UpSession,
    header: pingora::http::RequestHeader,
    body: Bytes,
) -> pingora::Result<u16> {
    conn.write_request_header(Box::new(header)).await?;
    conn.write_request_body(body, true).await?;
    conn.finish_request_body().await?;
    loop {
        conn.read_response_header().await?;
        let status = conn.response_header().map_or(0, |h| h.status.as_u16());
        // 1xx (e.g. an upstream `100 Continue`) is never forwarded.
        if !(100..200).contains(&status) {
            return Ok(status);
        }
    }
}

/// Resolves when the client closes its connection (never if it stays).
async fn client_gone(session: &mut Session) {
    loop {
        match session.as_downstream_mut().read_body_or_idle(true).await {
            Err(_) => return,
            Ok(Some(_)) => continue,
            Ok(None) => std::future::pending::<()>().await,
        }
    }
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
    conn.response_header()?
        .headers
        .get(name)
        .map(|v| v.as_bytes())
}

fn retry_failure(conn: &UpSession) -> Failure {
    let code = conn.response_header().map_or(0, |h| h.status.as_u16());
    let retry_after = parse_retry_after(
        header_bytes(conn, "retry-after"),
        header_bytes(conn, "retry-after-ms"),
        SystemTime::now(),
    );
    Failure::Status { code, retry_after }
}

fn is_event_stream(conn: &UpSession) -> bool {
    header_bytes(conn, "content-type").is_some_and(|v| v.starts_with(b"text/event-stream"))
}

async fn read_chunk(conn: &mut UpSession, idle: Duration) -> Result<Option<Bytes>, Failure> {
    match tokio::time::timeout(idle, conn.read_response_body()).await {
        Ok(Ok(chunk)) => Ok(chunk),
        Ok(Err(e)) => Err(Failure::BadResponse(format!(
            "body: {}",
            e.etype().as_str()
        ))),
        Err(_) => Err(Failure::Timeout),
    }
}

/// Read a failed attempt's small error body so the connection can be reused.
async fn drain(state: &State, mut conn: UpSession, peer: &HttpPeer) {
    let mut read = 0;
    let limit = state.timeouts.idle.min(Duration::from_secs(2));
    while let Ok(Some(chunk)) = read_chunk(&mut conn, limit).await {
        read += chunk.len();
        if read > DRAIN_LIMIT {
            return;
        }
    }
    if conn.response_done() {
        state
            .connector
            .release_http_session(conn, peer, Some(POOL_IDLE))
            .await;
    }
}

/// A non-stream 2xx body, which must be JSON to count as a success.
async fn read_json_body(conn: &mut UpSession, idle: Duration) -> Result<Bytes, Failure> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = read_chunk(conn, idle).await? {
        buf.extend_from_slice(&chunk);
        if buf.len() > CHECK_LIMIT {
            return Ok(buf.freeze());
        }
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&buf).is_err() {
        return Err(Failure::BadResponse("a 2xx whose body is not JSON".into()));
    }
    Ok(buf.freeze())
}

/// Writing a decided response to the client.
struct Deliver<'s, 'a> {
    state: &'s State,
    session: &'s mut Session,
    ctx: &'s mut RequestCtx,
    peer: &'s HttpPeer,
    a: &'s Attempt<'a>,
}

impl Deliver<'_, '_> {
    fn head(&mut self, conn: &UpSession) -> pingora::Result<pingora::http::ResponseHeader> {
        let upstream = conn
            .response_header()
            .ok_or_else(|| pingora::Error::explain(ErrorType::InternalError, "no response head"))?;
        let routed = Routed {
            request_id: &self.ctx.request_id,
            instance: &self.a.up.id,
            model: self.a.model,
            attempts: self.ctx.attempts,
        };
        self.ctx.status = upstream.status.as_u16();
        headers::client_response(upstream, &routed)
    }

    /// Send a fully read body with its exact length.
    async fn whole(mut self, mut conn: UpSession, body: Bytes) {
        let sent = async {
            let mut head = self.head(&conn)?;
            head.remove_header(&http::header::TRANSFER_ENCODING);
            head.insert_header(http::header::CONTENT_LENGTH, body.len())?;
            self.ctx.first_byte = Some(Instant::now());
            let down = self.session.as_downstream_mut();
            down.write_response_header(Box::new(head)).await?;
            down.write_response_body(body, true).await
        };
        let sent: pingora::Result<()> = sent.await;
        if sent.is_err() {
            self.ctx.note = Some("client went away while the response was written".into());
        }
        if conn.response_done() {
            self.state
                .connector
                .release_http_session(conn, self.peer, Some(POOL_IDLE))
                .await;
        }
    }

    /// Stream the body through chunk by chunk as it arrives.
    async fn pump(mut self, mut conn: UpSession, first: Option<Bytes>) {
        let head = match self.head(&conn) {
            Ok(h) => h,
            Err(_) => return,
        };
        let sse = head
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        self.ctx.first_byte = Some(Instant::now());
        if self
            .session
            .as_downstream_mut()
            .write_response_header(Box::new(head))
            .await
            .is_err()
        {
            return self.client_went_away();
        }
        let mut tail = Tail::default();
        if let Some(chunk) = first {
            tail.push(&chunk);
            if self
                .session
                .as_downstream_mut()
                .write_response_body(chunk, false)
                .await
                .is_err()
            {
                return self.client_went_away();
            }
        }
        let idle = self.state.timeouts.idle;
        loop {
            let next = tokio::select! {
                r = tokio::time::timeout(idle, conn.read_response_body()) => r,
                () = client_gone(self.session) => return self.client_went_away(),
            };
            let why = match next {
                Ok(Ok(Some(chunk))) => {
                    tail.push(&chunk);
                    if self
                        .session
                        .as_downstream_mut()
                        .write_response_body(chunk, false)
                        .await
                        .is_err()
                    {
                        return self.client_went_away();
                    }
                    continue;
                }
                Ok(Ok(None)) => {
                    let _ = self
                        .session
                        .as_downstream_mut()
                        .write_response_body(Bytes::new(), true)
                        .await;
                    if conn.response_done() {
                        self.state
                            .connector
                            .release_http_session(conn, self.peer, Some(POOL_IDLE))
                            .await;
                    }
                    return;
                }
                Ok(Err(e)) => format!(
                    "the upstream connection failed mid-stream ({})",
                    e.etype().as_str()
                ),
                Err(_) => format!(
                    "the upstream sent nothing for {}s mid-stream",
                    idle.as_secs()
                ),
            };
            return self.cut(sse, &tail, why).await;
        }
    }

    /// The upstream broke after bytes went out: no retry is possible. An SSE
    /// stream ends with an `error` event and a clean end of body; then the
    /// connection is closed so no client mistakes the response for whole.
    async fn cut(self, sse: bool, tail: &Tail, why: String) {
        log::warn!(
            "request {}: instance {}: {why}",
            self.ctx.request_id,
            self.a.up.id
        );
        self.ctx.note = Some(why.clone());
        let down = self.session.as_downstream_mut();
        down.set_keepalive(None);
        if sse {
            let err = crate::error::GatewayError::UpstreamFailed {
                model: self.a.model.to_string(),
                summary: why,
            };
            let mut event = Vec::with_capacity(256);
            event.extend_from_slice(tail.separator());
            event.extend_from_slice(b"event: error\ndata: ");
            event.extend_from_slice(&err.envelope());
            event.extend_from_slice(b"\n\n");
            if down
                .write_response_body(Bytes::from(event), false)
                .await
                .is_ok()
            {
                let _ = down.write_response_body(Bytes::new(), true).await;
            }
        }
    }

    fn client_went_away(self) {
        self.ctx.note = Some("client disconnected mid-response".into());
        self.session.as_downstream_mut().set_keepalive(None);
    }
}

/// The last two bytes sent, to close a half-written SSE event before ours.
#[derive(Default)]
struct Tail([u8; 2], usize);

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        for &b in chunk.iter().rev().take(2).rev() {
            self.0 = [self.0[1], b];
            self.1 += 1;
        }
    }

    fn separator(&self) -> &'static [u8] {
        match (self.1, self.0) {
            (0, _) | (_, [b'\n', b'\n']) => b"",
            (_, [_, b'\n']) => b"\n",
            _ => b"\n\n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tail;

    #[test]
    fn separator_closes_a_partial_event() {
        let mut t = Tail::default();
        assert_eq!(t.separator(), b"");
        t.push(b"data: {}\n\n");
        assert_eq!(t.separator(), b"");
        t.push(b"data: {\"par");
        assert_eq!(t.separator(), b"\n\n");
        t.push(b"tial\"}\n");
        assert_eq!(t.separator(), b"\n");
        t.push(b"\n");
        assert_eq!(t.separator(), b"");
    }
}
