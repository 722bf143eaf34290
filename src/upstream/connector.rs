//! Upstream HTTP/1 connections: Pingora's pooled transport connector and
//! its H1 client, with one difference. Pingora's H1 client flushes the
//! request head on its own, so head and body leave in two sends, and the
//! provider is woken twice per request. Here the head (serialised by
//! Pingora's own `http_req_header_to_wire`) and the body go out in one
//! write; the response is then read by Pingora's H1 client as usual.

use super::instance::POOL_IDLE;
use bytes::{Bytes, BytesMut};
use pingora::connectors::{ConnectorOptions, TransportConnector};
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::http_req_header_to_wire;
use pingora::protocols::Stream;
use pingora::upstreams::peer::{HttpPeer, Peer};
use pingora::{Error, ErrorType, OrErr, Result};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Pingora's H1 client session, reading one response.
pub type UpSession = pingora::protocols::http::v1::client::HttpSession;

/// Bodies up to this size are copied behind the head and sent in one write;
/// larger ones follow the head in a second write (a copy would cost more
/// than the send it saves).
const COALESCE_LIMIT: usize = 64 * 1024;
/// Bodies nobody needs are read (to keep the connection) up to this...
const DISCARD_LIMIT: usize = 256 * 1024;
/// ...waiting at most this long per read.
const DISCARD_WAIT: Duration = Duration::from_secs(2);

pub struct Connector {
    transport: TransportConnector,
}

impl Connector {
    pub fn new(options: ConnectorOptions) -> Self {
        Self {
            transport: TransportConnector::new(Some(options)),
        }
    }

    /// A pooled connection to `peer`, or a new one; `true` if pooled.
    ///
    /// A new connection's future (TCP connect and TLS handshake) is about
    /// 7 KiB; boxed, it is allocated only when a connection is made, instead
    /// of living inside every request's future, streams included.
    pub async fn connect(&self, peer: &HttpPeer) -> Result<(Stream, bool)> {
        if let Some(stream) = self.transport.reused_stream(peer).await {
            return Ok((stream, true));
        }
        let stream = Box::pin(self.transport.new_stream(peer)).await?;
        Ok((stream, false))
    }

    /// Read a body nobody needs (a failed attempt's error, a health check's
    /// model list), waiting per read `idle` but at most `DISCARD_WAIT`, and
    /// up to `DISCARD_LIMIT` bytes, so that the connection can go back to
    /// the pool.
    pub async fn discard(&self, mut conn: UpSession, peer: &HttpPeer, idle: Duration) {
        let wait = idle.min(DISCARD_WAIT);
        let mut read = 0;
        while let Ok(Some(chunk)) = read_chunk(&mut conn, wait).await {
            read += chunk.len();
            if read > DISCARD_LIMIT {
                return;
            }
        }
        self.release(conn, peer).await;
    }

    /// Give a connection whose response was read to the end back to the
    /// pool (if the response allows keep-alive); any other is closed.
    pub async fn release(&self, mut conn: UpSession, peer: &HttpPeer) {
        if !conn.is_body_done() {
            return;
        }
        conn.respect_keepalive();
        if let Some(stream) = conn.reuse().await {
            self.transport
                .release_stream(stream, peer.reuse_hash(), Some(POOL_IDLE));
        }
    }
}

/// One request as it goes on the wire: the head, serialised by Pingora,
/// with the body behind it when small, or after it in a second write.
pub struct Wire {
    head: BytesMut,
    rest: Bytes,
}

impl Wire {
    pub fn new(head: &RequestHeader, body: &Bytes) -> Result<Self> {
        let mut wire = http_req_header_to_wire(head).ok_or_else(|| {
            Error::explain(ErrorType::InvalidHTTPHeader, "request head cannot be sent")
        })?;
        if body.len() > COALESCE_LIMIT {
            return Ok(Self {
                head: wire,
                rest: body.clone(),
            });
        }
        wire.reserve(body.len());
        wire.extend_from_slice(body);
        Ok(Self {
            head: wire,
            rest: Bytes::new(),
        })
    }
}

/// Send `wire` on `stream`, then read the response head with Pingora's H1
/// client, skipping 1xx heads (e.g. an upstream `100 Continue`), which are
/// never forwarded.
pub async fn exchange(mut stream: Stream, peer: &HttpPeer, wire: &Wire) -> Result<UpSession> {
    write(&mut stream, &wire.head).await?;
    if !wire.rest.is_empty() {
        write(&mut stream, &wire.rest).await?;
    }
    stream
        .flush()
        .await
        .or_err(ErrorType::WriteError, "flushing the request")?;
    let mut conn = UpSession::new_with_options(stream, peer);
    loop {
        conn.read_response().await?;
        if !(100..200).contains(&status(&conn)) {
            return Ok(conn);
        }
    }
}

/// The response status, 0 before a head was read.
pub fn status(conn: &UpSession) -> u16 {
    conn.resp_header().map_or(0, |h| h.status.as_u16())
}

async fn write(stream: &mut Stream, bytes: &[u8]) -> Result<()> {
    stream
        .write_all(bytes)
        .await
        .or_err(ErrorType::WriteError, "writing the request")
}

/// Why reading an upstream body stopped short.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed (the Pingora error kind).
    Broken(&'static str),
    /// Nothing arrived within the wait.
    Timeout,
}

/// The next body chunk within `wait`; `None` at the end of the body.
pub async fn read_chunk(conn: &mut UpSession, wait: Duration) -> Result<Option<Bytes>, ReadError> {
    match tokio::time::timeout(wait, conn.read_body_bytes()).await {
        Ok(Ok(chunk)) => Ok(chunk),
        Ok(Err(e)) => Err(ReadError::Broken(e.etype().as_str())),
        Err(_) => Err(ReadError::Timeout),
    }
}
