//! Writing a decided response to the client: a whole (JSON-checked) body
//! with its exact length, or a body pumped through chunk by chunk as it
//! arrives (SSE). After the first byte there is no retry: a broken upstream
//! ends an SSE stream with an `event: error` and a clean end of body.

use super::headers::{self, Routed};
use super::{client, GatewayError, State};
use super::{cors, respond};
use crate::dialect::translate::StreamTranslator;
use crate::dialect::{responses, Dialect, StreamTail, StreamUsage, Usage, UsageChunkFilter};
use crate::observe::RequestCtx;
use crate::upstream::{BodyBatches, UpSession};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use std::time::{Instant, SystemTime};

/// Writing a decided response to the client.
pub struct Deliver<'s> {
    pub state: &'s State,
    pub session: &'s mut ServerSession,
    pub ctx: &'s mut RequestCtx,
    pub peer: &'s HttpPeer,
    /// The instance that answered, and the model it was sent.
    pub instance: &'s str,
    pub model: &'s str,
    /// Set for a reply translated to the client's dialect: its content
    /// type (the provider's length and type no longer apply).
    pub content_type: Option<&'static str>,
    /// The gateway asked the provider for stream usage the client did not
    /// ask for: the usage-only chunk is taken out of what the client gets.
    pub strip_usage: bool,
}

/// What a pass-through stream's bytes are read for on their way: the
/// usage they report (every event, not only the last few KiB), and the
/// usage-only chunk the client did not ask for.
struct PassThrough {
    usage: StreamUsage,
    filter: Option<UsageChunkFilter>,
}

impl PassThrough {
    fn new(strip_usage: bool) -> Self {
        Self {
            usage: StreamUsage::default(),
            filter: strip_usage.then(UsageChunkFilter::default),
        }
    }

    /// What of `chunk` goes to the client.
    fn pass(&mut self, chunk: Bytes) -> Bytes {
        match &mut self.filter {
            None => {
                self.usage.push(&chunk);
                chunk
            }
            // The filter reads the usage itself.
            Some(filter) => {
                let mut out = Vec::with_capacity(chunk.len());
                filter.push(&chunk, &mut out);
                Bytes::from(out)
            }
        }
    }

    /// The usage the stream reported.
    fn usage(&self) -> Option<Usage> {
        match &self.filter {
            Some(filter) => filter.usage(),
            None => self.usage.usage(),
        }
    }

    /// Whatever the filter still holds, at the end of the stream.
    fn finish(&mut self) -> Option<Bytes> {
        let mut out = Vec::new();
        self.filter.as_mut()?.finish(&mut out);
        Some(Bytes::from(out))
    }
}

/// How a streamed body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Whole, to the upstream's end of body.
    Complete,
    /// The upstream failed mid-body (the client got a clean end).
    UpstreamBroke,
    /// The client went away: not the upstream's fault.
    ClientLeft,
}

impl Deliver<'_> {
    fn head(&mut self, conn: &UpSession) -> pingora::Result<ResponseHeader> {
        let upstream = conn
            .resp_header()
            .ok_or_else(|| pingora::Error::explain(ErrorType::InternalError, "no response head"))?;
        let routed = Routed {
            request_id: &self.ctx.request_id,
            instance: self.instance,
            model: self.model,
            attempts: self.ctx.attempts,
        };
        self.ctx.status = upstream.status.as_u16();
        let extra = self.ctx.rate_limit.len() + 2;
        let mut head = headers::client_response(upstream, &routed, extra)?;
        if let Some(content_type) = self.content_type {
            head.remove_header(&http::header::CONTENT_LENGTH);
            head.insert_header(http::header::CONTENT_TYPE, content_type)?;
        }
        if let Some(allow) = &self.ctx.cors {
            cors::add(&mut head, allow)?;
        }
        // The key's own limits, not the provider account's.
        for (name, value) in &self.ctx.rate_limit {
            head.insert_header(name.clone(), value.clone())?;
        }
        Ok(head)
    }

    /// A streamed response's head, and whether it is SSE.
    fn stream_head(&mut self, conn: &UpSession) -> Option<(ResponseHeader, bool)> {
        let head = self.head(conn).ok()?;
        self.ctx.chunked = head.headers.get(http::header::CONTENT_LENGTH).is_none();
        let sse = (head.headers.get("content-type"))
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        Some((head, sse))
    }

    /// Send a fully read body with its exact length.
    pub async fn whole(mut self, conn: UpSession, body: Bytes) {
        let sent = async {
            let mut head = self.head(&conn)?;
            head.remove_header(&http::header::TRANSFER_ENCODING);
            head.insert_header(http::header::CONTENT_LENGTH, body.len())?;
            self.ctx.first_byte = Some(Instant::now());
            self.ctx.bytes_out = body.len();
            respond::write_head(self.session, head).await?;
            self.session.write_response_body(body, true).await
        };
        let sent: pingora::Result<()> = sent.await;
        if sent.is_err() {
            self.ctx.note = Some("client went away while the response was written".into());
            self.session.set_keepalive(None);
        }
        self.state.connector.release(conn, self.peer).await;
    }

    /// Stream the body through chunk by chunk as it arrives, until its end,
    /// the upstream breaking off, or the client leaving.
    ///
    /// One async fn on purpose: a relay loop in a helper of its own made
    /// the request future 1.2 KiB larger (a nested future sits beside the
    /// caller's live locals), and every request's future is copied once
    /// into Pingora's box.
    /// A `translator` turns the provider's events into the client's
    /// dialect as each arrives.
    pub async fn pump(
        mut self,
        mut conn: UpSession,
        first: Option<Bytes>,
        mut translator: Option<Box<dyn StreamTranslator>>,
    ) -> StreamEnd {
        let Some((head, sse)) = self.stream_head(&conn) else {
            return StreamEnd::Complete;
        };
        self.ctx.first_byte = Some(Instant::now());
        if respond::write_head(self.session, head).await.is_err() {
            return self.client_went_away();
        }
        let state = self.state;
        let _open = state.metrics.stream_opened();
        // For SSE: the last KiBs, for the usage event and to close a
        // half-written event before an error event of ours.
        let mut tail = (sse && translator.is_none()).then(|| match self.ctx.dialect {
            Dialect::Responses => StreamTail::for_responses(),
            _ => StreamTail::default(),
        });
        // Boxed: ~1.2 KiB of readers would otherwise sit in every request's
        // future (copied whole into Pingora's box), streams or not.
        let mut through =
            (sse && translator.is_none()).then(|| Box::new(PassThrough::new(self.strip_usage)));
        if let Some(chunk) = first {
            let chunk = translate(&mut translator, |t, out| t.feed(&chunk, out))
                .unwrap_or_else(|| pass(&mut through, chunk));
            if !self.send_chunk(chunk, &mut tail).await {
                return self.client_went_away();
            }
        }
        let idle = state.timeouts.idle;
        let mut batches = BodyBatches::default();
        loop {
            let next = tokio::select! {
                biased;
                r = tokio::time::timeout(idle, batches.next(&mut conn)) => r,
                () = client::gone(self.session) => return self.client_went_away(),
            };
            let why = match next {
                Ok(Ok(Some(chunk))) => {
                    let chunk = translate(&mut translator, |t, out| t.feed(&chunk, out))
                        .unwrap_or_else(|| pass(&mut through, chunk));
                    if !self.send_chunk(chunk, &mut tail).await {
                        return self.client_went_away();
                    }
                    continue;
                }
                Ok(Ok(None)) => {
                    let last = translate(&mut translator, |t, out| t.finish(out))
                        .or_else(|| through.as_mut().and_then(|p| p.finish()));
                    if let Some(last) = last {
                        if !self.send_chunk(last, &mut tail).await {
                            return self.client_went_away();
                        }
                    }
                    self.ctx.usage = match (&translator, &through) {
                        (Some(t), _) => t.usage().map(Usage::from),
                        (None, Some(p)) => p.usage(),
                        (None, None) => None,
                    };
                    let _ = self.session.write_response_body(Bytes::new(), true).await;
                    self.state.connector.release(conn, self.peer).await;
                    return StreamEnd::Complete;
                }
                Ok(Err(e)) => format!(
                    "the upstream connection failed mid-stream ({})",
                    e.etype().as_str()
                ),
                Err(_) => format!(
                    "the upstream sent nothing for {} mid-stream",
                    humantime::format_duration(idle)
                ),
            };
            if let Some(t) = translator.as_mut() {
                self.ctx.usage = t.usage().map(Usage::from);
                let mut event = Vec::new();
                t.fail(&why, &mut event);
                self.cut_translated(event, why).await;
            } else {
                self.ctx.usage = through.as_ref().and_then(|p| p.usage());
                self.cut(tail.as_ref(), why).await;
            }
            return StreamEnd::UpstreamBroke;
        }
    }

    /// The upstream broke after bytes went out: no retry is possible. An SSE
    /// stream ends with an `error` event and a properly framed end of body,
    /// after which the connection stays usable (closing it would race a
    /// client that already reuses it for its next request). A response whose
    /// framing cannot be completed (a `Content-Length` body) is cut by
    /// closing the connection, so no client mistakes it for whole.
    async fn cut(self, sse_tail: Option<&StreamTail>, why: String) {
        log::warn!(
            "request {}: instance {}: {why}",
            self.ctx.request_id,
            self.instance
        );
        self.ctx.note = Some(why.clone());
        let chunked = self.ctx.chunked;
        if let (Some(tail), true) = (sse_tail, chunked) {
            let model = self.model.to_string();
            let err = GatewayError::UpstreamFailed {
                model,
                summary: why,
            };
            let mut event = Vec::with_capacity(256);
            event.extend_from_slice(tail.separator());
            if self.ctx.dialect == Dialect::Responses {
                // A Responses client waits for a terminal event.
                let created = unix_now();
                let seq = tail.next_sequence_number();
                let message = err.to_string();
                let id = tail.response_id();
                let failed = responses::failed_event(seq, id, self.model, &message, created);
                event.extend_from_slice(&failed);
            } else {
                event.extend_from_slice(b"event: error\ndata: ");
                event.extend_from_slice(&err.envelope(self.ctx.dialect));
                event.extend_from_slice(b"\n\n");
            }
            let sent = self
                .session
                .write_response_body(Bytes::from(event), false)
                .await
                .is_ok()
                && self
                    .session
                    .write_response_body(Bytes::new(), true)
                    .await
                    .is_ok();
            if sent {
                return;
            }
        }
        self.session.set_keepalive(None);
    }

    /// A translated stream broke: the translator's error event in the
    /// client's dialect, then a clean end of body.
    async fn cut_translated(self, event: Vec<u8>, why: String) {
        log::warn!(
            "request {}: instance {}: {why}",
            self.ctx.request_id,
            self.instance
        );
        self.ctx.note = Some(why);
        let sent = self
            .session
            .write_response_body(Bytes::from(event), false)
            .await
            .is_ok()
            && (self.session.write_response_body(Bytes::new(), true).await).is_ok();
        if !sent {
            self.session.set_keepalive(None);
        }
    }

    /// Send one chunk on; `false` when the client is gone. An empty chunk
    /// (a translator still waiting for the rest of an event) is not sent.
    async fn send_chunk(&mut self, chunk: Bytes, tail: &mut Option<StreamTail>) -> bool {
        if chunk.is_empty() {
            return true;
        }
        if let Some(tail) = tail {
            tail.push(&chunk);
        }
        self.ctx.bytes_out += chunk.len();
        self.session.write_response_body(chunk, false).await.is_ok()
    }

    /// Not the upstream's fault: it did not break.
    fn client_went_away(self) -> StreamEnd {
        self.ctx.note = Some("client disconnected, or stopped reading, mid-response".into());
        self.session.set_keepalive(None);
        StreamEnd::ClientLeft
    }
}

/// Seconds since the epoch, for the `created` stamps of translated replies.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A pass-through chunk as the client gets it.
fn pass(through: &mut Option<Box<PassThrough>>, chunk: Bytes) -> Bytes {
    match through {
        Some(p) => p.pass(chunk),
        None => chunk,
    }
}

/// What the translator, if any, makes of one step (`None`: no translator,
/// the bytes go as they are).
fn translate(
    translator: &mut Option<Box<dyn StreamTranslator>>,
    step: impl FnOnce(&mut dyn StreamTranslator, &mut Vec<u8>),
) -> Option<Bytes> {
    let t = translator.as_mut()?;
    let mut out = Vec::new();
    step(t.as_mut(), &mut out);
    Some(Bytes::from(out))
}
