//! Client connections held to `connections:`: slow heads and bodies get a 408, idle
//! keep-alive connections close, one address cannot hold more than `max_per_ip`, and a
//! process short of file descriptors closes its oldest idle connections so that a new
//! client is still answered. Raw sockets throughout; every wait is bounded.

use crate::support::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

async fn gateway(connections: &str) -> (Gateway, MockUpstream) {
    let up = MockUpstream::start(Behaviour::ok());
    let mut yaml = format!("connections: {connections}\n");
    yaml.push_str(&instances_yaml("", &bases(&[&up]), &["m"]));
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    (gw, up)
}

/// Reads one response (head and `Content-Length` body); `None` on EOF or after `within`.
async fn read_response(s: &mut TcpStream, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = (text[..end].lines())
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned()),
        }
    }
}

/// Whether the gateway closed `s` (EOF or reset) within `within`, sending nothing.
async fn closed_quietly(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 64];
    match tokio::time::timeout(within, s.read(&mut b)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

/// A connection from 127.0.0.2: an address of its own, apart from the harness's
/// connections (from 127.0.0.1).
async fn connect_from_elsewhere(gw: &Gateway) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("addr"))
        .expect("bind 127.0.0.2");
    socket.connect(gw.addr()).await.expect("connect")
}

/// A keep-alive connection that has had one answered request.
async fn used_connection(gw: &Gateway) -> TcpStream {
    let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
    answered(&mut s).await;
    s
}

async fn answered(s: &mut TcpStream) {
    s.write_all(HEALTH).await.expect("write");
    let reply = read_response(s, Duration::from_secs(10)).await;
    assert!(reply.expect("a reply").starts_with("HTTP/1.1 200"));
}

fn assert_408(reply: Option<String>, what: &str) {
    let reply = reply.unwrap_or_else(|| panic!("{what}: no reply"));
    assert!(reply.starts_with("HTTP/1.1 408"), "{what}: {reply}");
    assert!(
        reply.contains("\"code\":\"request_timeout\""),
        "{what}: {reply}"
    );
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{what}: {reply}"
    );
}

#[tokio::test]
async fn slow_heads_and_bodies_get_a_408_and_idle_connections_close() {
    let (gw, up) = gateway("{ request_head: 1s, body: 1s, keepalive_idle: 2s }").await;
    let started = Instant::now();

    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(gw.addr()).await.expect("connect");
    assert_408(
        read_response(&mut silent, Duration::from_secs(5)).await,
        "silent",
    );

    // A head trickled one byte every 200 ms, forever.
    let mut trickle = TcpStream::connect(gw.addr()).await.expect("connect");
    let trickled = async {
        for b in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if trickle.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickled).await;
    assert_408(
        read_response(&mut trickle, Duration::from_secs(5)).await,
        "trickle",
    );

    // A body that stops short of its Content-Length.
    let mut body = TcpStream::connect(gw.addr()).await.expect("connect");
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":";
    body.write_all(head.as_bytes()).await.expect("write");
    assert_408(
        read_response(&mut body, Duration::from_secs(5)).await,
        "body",
    );
    assert_eq!(up.hits(), 0, "nothing reached the upstream");

    // A second request head that starts and stops, on a reused connection.
    let mut partial = used_connection(&gw).await;
    partial.write_all(b"GET /health HT").await.expect("write");
    assert_408(
        read_response(&mut partial, Duration::from_secs(5)).await,
        "partial second head",
    );

    // An idle keep-alive connection is closed without a word after keepalive_idle,
    // and not before: at 1 s it still serves.
    let mut idle = used_connection(&gw).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    idle.write_all(HEALTH).await.expect("write");
    let again = read_response(&mut idle, Duration::from_secs(5)).await;
    assert!(again.expect("a reply").starts_with("HTTP/1.1 200"));
    assert!(
        closed_quietly(&mut idle, Duration::from_secs(5)).await,
        "idle connection kept"
    );

    assert!(started.elapsed() < Duration::from_secs(30));
    let health = gw.get("/health").await;
    assert_eq!(health.status(), 200, "still serving");
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_max_per_ip_connections() {
    let (gw, _up) = gateway("{ max_per_ip: 4 }").await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from_elsewhere(&gw).await;
        answered(&mut s).await;
        held.push(s);
    }
    let mut extra = connect_from_elsewhere(&gw).await;
    extra.write_all(HEALTH).await.expect("write");
    let reply = read_response(&mut extra, Duration::from_secs(5))
        .await
        .expect("a reply");
    assert!(reply.starts_with("HTTP/1.1 429"), "{reply}");
    assert!(
        reply.contains("\"code\":\"too_many_connections\""),
        "{reply}"
    );
    assert!(closed_quietly(&mut extra, Duration::from_secs(5)).await);
    // One that sends nothing is not held for request_head (10 s): answered in ~1 s.
    let started = Instant::now();
    let mut silent = connect_from_elsewhere(&gw).await;
    let reply = read_response(&mut silent, Duration::from_secs(5))
        .await
        .expect("a reply");
    assert!(reply.starts_with("HTTP/1.1 429"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The held connections still work; closing one frees its place.
    held[0].write_all(HEALTH).await.expect("write");
    let reply = read_response(&mut held[0], Duration::from_secs(5)).await;
    assert!(reply.expect("a reply").starts_with("HTTP/1.1 200"));
    drop(held.pop());
    let mut later = None;
    for _ in 0..50 {
        let mut s = connect_from_elsewhere(&gw).await;
        s.write_all(HEALTH).await.expect("write");
        let reply = read_response(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        if reply.starts_with("HTTP/1.1 200") {
            later = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        later.is_some(),
        "a freed place is given to the next connection"
    );
    // Other addresses were never affected.
    assert_eq!(gw.get("/health").await.status(), 200);
}

#[tokio::test]
async fn idle_connections_make_room_for_new_clients_when_descriptors_run_short() {
    // 256 descriptors: room for 192 client connections.
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("", &bases(&[&up]), &["m"]);
    let gw = (Gateway::builder(&yaml).instance_keys(1))
        .fd_limit(256)
        .start()
        .await;
    assert!(
        gw.logs().contains("file descriptor limit: 256"),
        "{}",
        gw.logs()
    );
    let mut idle = Vec::new();
    for _ in 0..230 {
        idle.push(used_connection(&gw).await);
    }
    // New clients are answered, whatever the idle ones hold.
    for _ in 0..20 {
        let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
        s.write_all(HEALTH).await.expect("write");
        let reply = read_response(&mut s, Duration::from_secs(5)).await;
        assert!(reply.expect("a reply").starts_with("HTTP/1.1 200"));
    }
    // The oldest idle connections were the ones closed.
    let mut oldest = idle.remove(0);
    assert!(closed_quietly(&mut oldest, Duration::from_secs(5)).await);
    let mut newest = idle.pop().expect("one");
    newest.write_all(HEALTH).await.expect("write");
    let reply = read_response(&mut newest, Duration::from_secs(5)).await;
    assert!(reply
        .expect("the newest idle connection still works")
        .starts_with("HTTP/1.1 200"));
    let chat = gw.post_json("/v1/chat/completions", &chat_body("m")).await;
    assert_eq!(chat.status(), 200);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (gw, _up) = gateway("{ keepalive_idle: 5s }").await;
    let mut s = TcpStream::connect(gw.addr()).await.expect("connect");
    let models = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
    let pipelined = [HEALTH, models.as_slice(), HEALTH].concat();
    s.write_all(&pipelined).await.expect("write");
    let mut all = String::new();
    let mut chunk = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while all.matches("HTTP/1.1 200").count() < 3 {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => all.push_str(&String::from_utf8_lossy(&chunk[..n])),
            _ => break,
        }
    }
    let replies: Vec<&str> = all.split("HTTP/1.1 ").filter(|r| !r.is_empty()).collect();
    assert_eq!(replies.len(), 3, "three answers: {all}");
    for (reply, want) in
        replies
            .iter()
            .zip(["\"providers\"", "\"object\":\"list\"", "\"providers\""])
    {
        assert!(reply.starts_with("200"), "{reply}");
        assert!(reply.contains(want), "in order: {want} in {reply}");
    }
}
