//! Team keys as tests drive them: a gateway whose admin listener is ready, the admin
//! API called with (or without) the admin key, the gateway's Prometheus samples, waiting until every request was settled
//! (its usage charged to its key, which happens just after the response went out),
//! a raw keep-alive connection that stays open across requests, and the
//! `x-ratelimit-reset-*` durations read back as seconds.

use super::gateway::{Gateway, GatewayBuilder};
use super::wire;
use reqwest::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `auth.admin_key` of test gateways (at least 16 characters, as config requires).
pub const ADMIN_KEY: &str = "admin-secret-0123456789";

/// How long the admin listener may take to accept after the API listener answers.
/// How long requests may take to be settled after their responses arrived.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts `builder`'s gateway with `admin_listen` (its start waits until the admin
/// listener answers too).
pub async fn start_with_admin(builder: GatewayBuilder) -> Gateway {
    builder.admin_listen().start().await
}

/// Calls the admin API of `gw` (started with `.admin_listen()`) with `Authorization:
/// Bearer <admin_key>` (none: no header) and `body` as JSON; returns the status and
/// the JSON reply (`Null` when the reply is not JSON).
pub async fn admin_as(
    gw: &Gateway,
    admin_key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let url = gw.admin_url(path);
    let mut request = gw.client().request(method.clone(), &url);
    if let Some(key) = admin_key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = (request.send().await).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// [`admin_as`] with [`ADMIN_KEY`].
pub async fn admin(gw: &Gateway, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    admin_as(gw, Some(ADMIN_KEY), method, path, body).await
}

/// `POST /admin/keys` with `body`; asserts the 201 and returns the key it answers with.
pub async fn create_key(gw: &Gateway, body: &Value) -> String {
    let (status, created) = admin(gw, Method::POST, "/admin/keys", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str();
    key.unwrap_or_else(|| panic!("no key in {created}"))
        .to_string()
}

/// `GET /metrics` on the admin listener.
pub async fn metrics_text(gw: &Gateway) -> String {
    let url = gw.admin_url("/metrics");
    let response = (gw.client().get(&url).send().await).unwrap_or_else(|e| panic!("{url}: {e}"));
    response.text().await.expect("metrics text")
}

/// The value of the sample `name{...}` whose labels include all of `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (set, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let all = labels
            .iter()
            .all(|(k, v)| set.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        all.then(|| value.trim().parse().ok()).flatten()
    })
}

/// Polls `/metrics` until no request is in flight and returns that scrape. A request
/// is settled (its tokens and cost charged to its key) before it stops counting as in
/// flight, so after this the next request sees the key's new balance.
pub async fn wait_requests_done(gw: &Gateway) -> String {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let text = metrics_text(gw).await;
        if metric(&text, "modelgate_requests_in_flight", &[]) == Some(0.0) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "requests still in flight after {SETTLE_TIMEOUT:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An `x-ratelimit-reset-*` value (Go's duration format: `20ms`, `59.95s`, `1m59.9s`,
/// `1h0m0s`) in seconds; panics on anything else.
pub fn reset_secs(value: &str) -> f64 {
    let fail = || panic!("not a Go duration: {value:?}");
    if let Some(ms) = value.strip_suffix("ms") {
        return ms.parse::<f64>().unwrap_or_else(|_| fail()) / 1000.0;
    }
    let (mut total, mut number) = (0.0, String::new());
    for c in value.chars() {
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => {
                number.push(c);
                continue;
            }
        };
        total += number.parse::<f64>().unwrap_or_else(|_| fail()) * unit;
        number.clear();
    }
    if !number.is_empty() || !value.ends_with('s') {
        fail();
    }
    total
}

/// One client connection held open across requests (HTTP/1.1 keep-alive), to show
/// what a change does to connections that were already served. Every read is bounded.
pub struct KeptConnection {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// How long one response on a [`KeptConnection`] may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

impl KeptConnection {
    pub async fn open(addr: SocketAddr) -> KeptConnection {
        let stream = TcpStream::connect(addr).await.expect("connect");
        KeptConnection {
            stream,
            buf: Vec::new(),
        }
    }

    /// POSTs `body` as JSON to `path` with `Authorization: Bearer <key>` on this
    /// connection; returns the status and the JSON reply. Panics if the connection
    /// was closed or no whole response arrives in time.
    pub async fn post(&mut self, path: &str, body: &Value, key: &str) -> (u16, Value) {
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("write the request on the kept connection");
        let reply = tokio::time::timeout(REPLY_TIMEOUT, self.read_response()).await;
        let (status, reply) = reply.expect("a response in time");
        (
            status,
            serde_json::from_slice(&reply).unwrap_or(Value::Null),
        )
    }

    /// Reads one response: its status and body (by `Content-Length` or chunked).
    async fn read_response(&mut self) -> (u16, Vec<u8>) {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut slots);
            if let httparse::Status::Complete(n) = response.parse(&self.buf).expect("HTTP") {
                let status = response.code.expect("a status");
                let headers = (response.headers.iter())
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value).into_owned();
                        (h.name.to_ascii_lowercase(), value)
                    })
                    .collect();
                let head = wire::Head {
                    method: String::new(),
                    path: String::new(),
                    headers,
                };
                self.buf.drain(..n);
                let body = wire::read_body(&mut self.stream, &mut self.buf, &head).await;
                return (status, body.expect("the response body"));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the gateway closed the kept connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
