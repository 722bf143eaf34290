//! One keep-alive HTTP/1.1 connection and one timed request/response exchange
//! on it. Owns the target (address, path, headers, body) and what counts as a
//! complete response; must not keep statistics (that is `stats`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The end of an OpenAI-style SSE stream.
const DONE: &[u8] = b"data: [DONE]\n\n";

/// Where and what to send; built once, shared by every worker.
#[derive(Debug)]
pub struct Target {
    addr: SocketAddr,
    host: HeaderValue,
    uri: Uri,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Target {
    /// Parses `url` (plain `http://`, a loopback host) and the extra headers.
    pub async fn resolve(url: &str, body: Bytes, headers: &[String]) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad --url {url}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--url must be http:// (got {url})"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--url has no host: {url}"))?;
        let host_port = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let addr = tokio::net::lookup_host(&host_port)
            .await
            .map_err(|e| format!("cannot resolve {host_port}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| {
                format!("{host_port} is not a loopback address; sse-load only loads 127.0.0.1/::1")
            })?;
        let host =
            HeaderValue::from_str(authority.as_str()).map_err(|e| format!("bad host: {e}"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = path.parse().map_err(|e| format!("bad path {path}: {e}"))?;
        let headers = headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            addr,
            host,
            uri,
            body,
            headers,
        })
    }

    fn request(&self) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        req.body(Full::new(self.body.clone()))
    }
}

fn parse_header(h: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("bad --header {h:?}: expected `Name: value`"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("bad header name in {h:?}: {e}"))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|e| format!("bad header value in {h:?}: {e}"))?;
    Ok((name, value))
}

/// How one exchange went, for `stats`.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    pub status: u16,
    /// Request sent → first body byte (→ the head, for an empty body).
    pub ttfb: Duration,
    /// Request sent → end of the body.
    pub total: Duration,
    pub bytes: u64,
    /// False for an event stream that ended without `data: [DONE]`.
    pub complete: bool,
    /// `x-modelgate-attempts`, when the response carries it (failover count).
    pub attempts: Option<u32>,
}

/// Why an exchange or a connect failed.
#[derive(Debug)]
pub enum Failure {
    Connect(std::io::Error),
    Http(hyper::Error),
    Request(hyper::http::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connect: {e}"),
            Self::Http(e) => write!(f, "http: {e}"),
            Self::Request(e) => write!(f, "request: {e}"),
        }
    }
}

/// One client connection; its driver task is aborted when it is dropped, so
/// dropping a `Conn` mid-stream closes the socket.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Conn {
    pub async fn connect(t: &Target) -> Result<Self, Failure> {
        let tcp = TcpStream::connect(t.addr).await.map_err(Failure::Connect)?;
        tcp.set_nodelay(true).map_err(Failure::Connect)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(Failure::Http)?;
        let driver = tokio::spawn(async move {
            // The error (a reset, a close) surfaces on the sender's side.
            let _ = conn.await;
        });
        Ok(Self { sender, driver })
    }

    /// False once the server closed the connection (e.g. `Connection: close`).
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Sends the request and returns the response with its body unread.
    pub async fn send(&mut self, t: &Target) -> Result<Response<Incoming>, Failure> {
        let req = t.request().map_err(Failure::Request)?;
        self.sender.ready().await.map_err(Failure::Http)?;
        self.sender.send_request(req).await.map_err(Failure::Http)
    }

    /// One full exchange: send, read the whole body, time it.
    pub async fn exchange(&mut self, t: &Target) -> Result<Exchange, Failure> {
        let start = Instant::now();
        let resp = self.send(t).await?;
        let status = resp.status().as_u16();
        let attempts = resp
            .headers()
            .get("x-modelgate-attempts")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let sse = resp
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let mut body = resp.into_body();
        let mut ttfb = None;
        let mut tail = Tail::default();
        let mut bytes = 0u64;
        while let Some(chunk) = next_data(&mut body).await.map_err(Failure::Http)? {
            ttfb.get_or_insert_with(|| start.elapsed());
            bytes += chunk.len() as u64;
            tail.push(&chunk);
        }
        let total = start.elapsed();
        Ok(Exchange {
            status,
            ttfb: ttfb.unwrap_or(total),
            total,
            bytes,
            complete: !sse || tail.ends_with(DONE),
            attempts,
        })
    }
}

/// The next non-empty data frame of a body (trailers skipped), or `None` at
/// its end.
pub async fn next_data(body: &mut Incoming) -> Result<Option<Bytes>, hyper::Error> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if !data.is_empty() {
                return Ok(Some(data));
            }
        }
    }
    Ok(None)
}

/// The last bytes seen, across chunk boundaries (a proxy may split or merge
/// the upstream's chunks).
#[derive(Default)]
struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    const KEEP: usize = 32;

    fn push(&mut self, chunk: &[u8]) {
        self.buf
            .extend_from_slice(&chunk[chunk.len().saturating_sub(Self::KEEP)..]);
        let excess = self.buf.len().saturating_sub(Self::KEEP);
        self.buf.drain(..excess);
    }

    fn ends_with(&self, s: &[u8]) -> bool {
        self.buf.ends_with(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_sees_done_split_across_chunks() {
        let mut t = Tail::default();
        t.push(b"data: {\"choices\":[]}\n\ndata: [DO");
        assert!(!t.ends_with(DONE));
        t.push(b"NE]\n\n");
        assert!(t.ends_with(DONE));
        t.push(&[b'x'; 100]);
        assert!(!t.ends_with(DONE));
        assert!(t.buf.len() <= Tail::KEEP);
    }

    #[test]
    fn headers_parse_or_explain() {
        let (n, v) = parse_header("Authorization:  Bearer k ").unwrap();
        assert_eq!(n.as_str(), "authorization");
        assert_eq!(v, "Bearer k");
        assert!(parse_header("no-colon")
            .unwrap_err()
            .contains("Name: value"));
    }

    #[tokio::test]
    async fn only_loopback_targets() {
        let t = Target::resolve("http://127.0.0.1:9/v1/chat/completions", Bytes::new(), &[])
            .await
            .unwrap();
        assert_eq!(t.uri, "/v1/chat/completions");
        assert_eq!(t.host, "127.0.0.1:9");
        let e = Target::resolve("http://192.0.2.1:80/", Bytes::new(), &[])
            .await
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let e = Target::resolve("https://127.0.0.1/", Bytes::new(), &[])
            .await
            .unwrap_err();
        assert!(e.contains("http://"), "{e}");
    }
}
