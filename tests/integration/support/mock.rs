//! A programmable mock upstream speaking the OpenAI (chat or Responses), Anthropic or
//! Gemini wire format (by request path) over raw HTTP/1.1 (tokio TCP + `httparse`,
//! optionally TLS), so it can also misbehave at the byte level.
//! It owns its listener on `127.0.0.1:0`, a private tokio runtime (so it works the same
//! under any test runtime flavour, and dropping it stops every connection), and a record
//! of what it saw: requests, connections, SSE send instants. What it answers is a
//! [`Behaviour`]; acting one out lives in `reply.rs`.

use super::behaviour::{Behaviour, Reply};
use super::reply::{self, Flow};
use super::tls::TestCa;
use super::wire;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The base URLs of `mocks`, in order (for configs that list instances by URL).
pub fn bases(mocks: &[&MockUpstream]) -> Vec<String> {
    mocks.iter().map(|m| m.base_url()).collect()
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path with query, as sent (`/v1/chat/completions?x=1`).
    pub path: String,
    /// Lowercased names, in arrival order, duplicates kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which TCP connection it came on (0 = the first accepted).
    pub connection: usize,
    /// When its body was fully read.
    pub at: Instant,
}

impl RecordedRequest {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `Expect: 100-continue` arrived.
    pub fn expected_continue(&self) -> bool {
        self.header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "upstream request body is not JSON ({e}): {}",
                self.body_str()
            )
        })
    }
}

/// One SSE event the mock wrote, and when the write was flushed.
#[derive(Clone, Debug)]
pub struct SentEvent {
    /// Index into [`MockUpstream::requests`] of the request it answered.
    pub request: usize,
    /// The event without its terminating blank line, e.g. `data: {...}`; the same text
    /// [`read_sse_events`](super::read_sse_events) yields on the client side.
    pub event: String,
    pub at: Instant,
}

/// Shared between the handle and the connection tasks.
pub(super) struct State {
    behaviour: Mutex<Behaviour>,
    sequence_pos: AtomicUsize,
    hits: AtomicUsize,
    connections: AtomicUsize,
    requests: Mutex<Vec<RecordedRequest>>,
    sent: Mutex<Vec<SentEvent>>,
}

/// A poisoned lock only means another test thread panicked; the data is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// The behaviour for the next request, stepping through a sequence.
    fn next_behaviour(&self) -> Behaviour {
        let behaviour = lock(&self.behaviour);
        match &behaviour.reply {
            Reply::Sequence(steps) => {
                let pos = self.sequence_pos.fetch_add(1, Ordering::SeqCst);
                steps[pos.min(steps.len() - 1)].clone()
            }
            _ => behaviour.clone(),
        }
    }

    /// Stores a request; returns its index.
    fn record(&self, request: RecordedRequest) -> usize {
        let mut requests = lock(&self.requests);
        requests.push(request);
        self.hits.fetch_add(1, Ordering::SeqCst);
        requests.len() - 1
    }

    pub(super) fn record_sent(&self, request: usize, event: String) {
        let at = Instant::now();
        lock(&self.sent).push(SentEvent { request, event, at });
    }
}

/// A running mock upstream. Dropping it stops the listener and every connection.
pub struct MockUpstream {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl MockUpstream {
    /// Serves plain HTTP on `127.0.0.1:<free port>`.
    pub fn start(behaviour: Behaviour) -> MockUpstream {
        MockUpstream::spawn(behaviour, None)
    }

    /// Serves HTTPS with a certificate for `localhost` and `127.0.0.1` signed by `ca`.
    pub fn start_tls(behaviour: Behaviour, ca: &TestCa) -> MockUpstream {
        MockUpstream::spawn(behaviour, Some(ca.acceptor()))
    }

    /// Serves plain HTTP on `addr` again (a restarted upstream, same address).
    pub fn start_on(addr: SocketAddr, behaviour: Behaviour) -> MockUpstream {
        MockUpstream::spawn_at(addr, behaviour, None)
    }

    fn spawn(behaviour: Behaviour, tls: Option<TlsAcceptor>) -> MockUpstream {
        MockUpstream::spawn_at(([127, 0, 0, 1], 0).into(), behaviour, tls)
    }

    fn spawn_at(at: SocketAddr, behaviour: Behaviour, tls: Option<TlsAcceptor>) -> MockUpstream {
        let listener = std::net::TcpListener::bind(at).expect("bind mock upstream");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("mock upstream address");
        let state = Arc::new(State {
            behaviour: Mutex::new(behaviour),
            sequence_pos: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mock-upstream")
            .enable_all()
            .build()
            .expect("mock upstream runtime");
        let is_tls = tls.is_some();
        runtime.spawn(accept_loop(listener, Arc::clone(&state), tls));
        MockUpstream {
            addr,
            tls: is_tls,
            state,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT/v1`, or `https://localhost:PORT/v1` for TLS.
    pub fn base_url(&self) -> String {
        self.url("/v1")
    }

    /// The origin plus `path` (`/v1/chat/completions`), for talking to the mock directly.
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests fully received so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Requests that were not `GET`s (the gateway's health checks are `GET .../models`).
    pub fn posts(&self) -> usize {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    }

    /// The `GET` requests so far (health checks).
    pub fn gets(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.method == "GET")
            .cloned()
            .collect()
    }

    /// TCP connections accepted so far (TLS or not).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.state.requests).last().cloned()
    }

    /// Every SSE event written so far, in write order, with its send instant.
    pub fn sent_events(&self) -> Vec<SentEvent> {
        lock(&self.state.sent).clone()
    }

    /// Replaces the behaviour for requests that arrive from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut current = lock(&self.state.behaviour);
        *current = behaviour;
        self.state.sequence_pos.store(0, Ordering::SeqCst);
    }

    /// Polls until at least `n` requests arrived; false on timeout.
    pub async fn wait_for_hits(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.hits() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // `shutdown_background` never blocks, so dropping is fine inside async tests.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: std::net::TcpListener, state: Arc<State>, tls: Option<TlsAcceptor>) {
    let listener = TcpListener::from_std(listener).expect("register mock listener");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let connection = state.connections.fetch_add(1, Ordering::SeqCst);
        // Each SSE event must leave as its own segment, not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        tokio::spawn(handle(tcp, tls.clone(), Arc::clone(&state), connection));
    }
}

async fn handle(tcp: TcpStream, tls: Option<TlsAcceptor>, state: Arc<State>, connection: usize) {
    match tls {
        None => serve(tcp, &state, connection).await,
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(tcp).await {
                serve(stream, &state, connection).await;
            }
        }
    }
}

/// Serves requests on one connection until the peer closes, a behaviour closes it, the
/// client asks for `Connection: close`, or the bytes are not HTTP.
async fn serve<S>(mut stream: S, state: &State, connection: usize)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut buf = Vec::new();
    // Ends quietly on a peer that closes or sends non-HTTP: that is the client's business.
    while let Ok(Some(head)) = wire::read_head(&mut stream, &mut buf).await {
        let mut behaviour = state.next_behaviour();
        if behaviour.gets_ok && head.method == "GET" {
            behaviour.reply = Reply::Ok;
        }
        if behaviour.send_continue && head.expects_continue() {
            let continued = wire::send(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\n").await;
            if continued.is_err() {
                return;
            }
        }
        let Ok(body) = wire::read_body(&mut stream, &mut buf, &head).await else {
            return;
        };
        let wants_close = head.wants_close();
        let request = RecordedRequest {
            method: head.method,
            path: head.path,
            headers: head.headers,
            body,
            connection,
            at: Instant::now(),
        };
        let index = state.record(request.clone());
        let exchange = reply::Exchange {
            request: &request,
            index,
            state,
            close: wants_close,
        };
        match reply::respond(&mut stream, &behaviour, exchange).await {
            Ok(Flow::KeepAlive) if !wants_close => {}
            Ok(_) => break,
            Err(_) => return,
        }
    }
    // A TLS peer reading to the end wants close_notify, not a bare FIN.
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}
