//! Holding the door: what a key holder, or anyone who can reach the port, must not be
//! able to do with odd requests, and what a mistake at start must not hide. Each test
//! reproduces one hole and shows it closed, with upstream hit counts.

use crate::support::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UP_KEY: &str = "sk-up-hardening-1111";
const GW_KEY: &str = "gw-key-cheap-2222";

/// Polls `gw`'s stdout (the access log) until a line contains `needle`.
async fn access_log_line(gw: &Gateway, needle: &str, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(line) = gw.stdout().lines().find(|l| l.contains(needle)) {
            return Some(line.to_string());
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_model_glob_never_crosses_a_slash() {
    let up = MockUpstream::start(Behaviour::ok());
    let yaml =
        format!(
        "auth:\n  keys:\n    - {{ name: cheap, key: \"${{GW_KEY}}\", models: [\"cheap-*\"] }}\n\
         providers:\n{}",
        provider_yaml("cheap-pool", &up.base_url(), Some("UP_KEY"), &["cheap-small"]),
    );
    let gw = Gateway::builder(&yaml)
        .env("GW_KEY", GW_KEY)
        .env("UP_KEY", UP_KEY)
        .start()
        .await;
    let url = gw.url("/v1/chat/completions");
    let send = |model: &str| {
        (gw.client().post(&url))
            .bearer_auth(GW_KEY)
            .json(&chat_body(model))
            .send()
    };
    // A pinned request to any model of an instance whose id starts with `cheap`.
    let resp = send("cheap-pool/o1-pro-anything").await.expect("send");
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(assert_openai_error(&body)["code"], "model_not_allowed");
    assert_eq!(up.hits(), 0, "a refused model reaches no upstream");
    // What the glob is for still works.
    assert_eq!(send("cheap-small").await.expect("send").status(), 200);
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn an_overlong_or_control_character_model_is_a_400_before_any_upstream() {
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("", &bases(&[&up]), &["m"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let long = "m".repeat(257);
    for (what, model) in [
        ("control character", "m\u{1}"),
        ("257 bytes", long.as_str()),
    ] {
        let resp = gw
            .post_json("/v1/chat/completions", &chat_body(model))
            .await;
        assert_eq!(resp.status(), 400, "{what}");
        let body: serde_json::Value = resp.json().await.expect("json");
        let error = assert_openai_error(&body);
        assert_eq!(error["code"], "invalid_model", "{what}");
        assert_eq!(error["param"], "model", "{what}");
    }
    let longest = "m".repeat(256);
    let resp = gw
        .post_json("/v1/chat/completions", &chat_body(&longest))
        .await;
    assert_eq!(
        resp.status(),
        404,
        "256 bytes is a name, just not a known one"
    );
    assert_eq!(up.hits(), 0);
    let ok = gw.post_json("/v1/chat/completions", &chat_body("m")).await;
    assert_eq!(ok.status(), 200);
    let log = gw.stdout();
    assert!(!log.contains(&long), "the refused name is not logged");
    assert!(!log.contains("m\\u0001"), "nor the control character");
}

#[tokio::test]
async fn a_non_stream_reply_too_large_to_check_arrives_whole() {
    const SIZE: usize = 70_000_000;
    let mut body = br#"{"object":"list","data":""#.to_vec();
    body.resize(SIZE - 2, b'x');
    body.extend_from_slice(br#""}"#);
    let up = MockUpstream::start(Behaviour::raw(200, "application/json", body));
    let yaml = instances_yaml("", &bases(&[&up]), &["m"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let resp = gw
        .post_json("/v1/embeddings", &json!({"model": "m", "input": "x"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-length"), Some("70000000"));
    let bytes = resp.bytes().await.expect("the whole body");
    assert_eq!(bytes.len(), SIZE, "not cut short");
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(parsed["object"], "list");
}

#[test]
fn config_errors_never_quote_the_credentials_of_a_base_url() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = write_file(
        dir.path(),
        "gateway.yaml",
        "providers:\n\
         \x20 - { id: a, type: openai-compatible, base_url: \"https://user:sk-userinfo-secret@host/v1?api_key=sk-query-secret\", models: [m] }\n\
         \x20 - { id: b, type: openai-compatible, base_url: \"https://user:sk-only-userinfo@host/v1\", models: [m] }\n",
    );
    let (code, out, err) = run_modelgate(&["-t", "-g", gw.to_str().expect("path")], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(
            "providers[0].base_url: `https://***@host/v1?api_key=***` must not carry a query"
        ),
        "{err}"
    );
    assert!(
        err.contains("providers[1].base_url: `https://***@host/v1` must not carry credentials"),
        "{err}"
    );
    for secret in ["sk-userinfo-secret", "sk-query-secret", "sk-only-userinfo"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} printed"
        );
    }
}

#[test]
fn a_busy_port_is_an_error_at_start_not_a_silent_retry_loop() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("dir");
    let gw = write_file(
        dir.path(),
        "gateway.yaml",
        &format!(
            "listen: \"{addr}\"\nproviders:\n  - {{ id: a, type: openai-compatible, base_url: \"http://127.0.0.1:9\", models: [m] }}\n"
        ),
    );
    let started = Instant::now();
    let (code, out, err) = run_modelgate(&["-g", gw.to_str().expect("path")], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!("listen `{addr}`: the address is already in use")),
        "{err}"
    );
    assert!(!err.contains("will try again"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "no retry loop");
}

#[tokio::test]
async fn a_client_that_stops_reading_a_stream_lets_it_go_after_the_idle_timeout() {
    // 48 MB of SSE, far more than the socket buffers between the three parties hold.
    let event = format!(
        "data: {}\n\n",
        json!({"choices": [{"delta": {"content": "x".repeat(4000)}}]})
    );
    let body = event.repeat(48_000_000 / event.len());
    let up = MockUpstream::start(Behaviour::raw(200, "text/event-stream", body));
    let yaml = instances_yaml("  timeouts: { idle: 1s }\n", &bases(&[&up]), &["m"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let request = json!({"model": "m", "stream": true, "messages": []}).to_string();
    let mut client = tokio::net::TcpStream::connect(gw.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: stops-reading\r\n\r\n{request}",
        request.len()
    );
    client.write_all(head.as_bytes()).await.expect("send");
    let mut first = vec![0u8; 4096];
    let n = client.read(&mut first).await.expect("read the head");
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    // Now the client reads nothing more, and keeps its connection open.
    let line = access_log_line(&gw, "stops-reading", Duration::from_secs(30)).await;
    let line = line.expect("the request ended although the client still holds the connection");
    assert!(line.contains("stopped reading"), "{line}");
    drop(client);
}

#[tokio::test]
async fn client_headers_cannot_choose_the_paying_account_or_reveal_the_client() {
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = format!(
        "providers:\n{}",
        provider_yaml("p", &up.base_url(), Some("UP_KEY"), &["m"])
    );
    let gw = Gateway::builder(&yaml).env("UP_KEY", UP_KEY).start().await;
    let resp = (gw.client().post(gw.url("/v1/chat/completions")))
        .header("OpenAI-Organization", "org-bogus")
        .header("OpenAI-Project", "proj-bogus")
        .header("X-Forwarded-For", "10.1.2.3")
        .header("Forwarded", "for=10.1.2.3")
        .header("Cookie", "session=1")
        .header("X-Anything", "else")
        .header("User-Agent", "OpenAI/Python 1.99.0")
        .header("X-Stainless-Lang", "python")
        .header("Accept", "application/json")
        .json(&chat_body("m"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let seen = up.last_request().expect("request");
    for gone in [
        "openai-organization",
        "openai-project",
        "x-forwarded-for",
        "forwarded",
        "cookie",
        "x-anything",
    ] {
        assert_eq!(
            seen.header(gone),
            None,
            "{gone} must not reach the provider"
        );
    }
    assert_eq!(seen.header("user-agent"), Some("OpenAI/Python 1.99.0"));
    assert_eq!(seen.header("x-stainless-lang"), Some("python"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    let auth = format!("Bearer {UP_KEY}");
    assert_eq!(seen.header("authorization"), Some(auth.as_str()));
}

#[tokio::test]
async fn the_admin_listener_serves_get_metrics_only_and_never_logs_raw_requests() {
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("", &bases(&[&up]), &["m"]);
    let gw = (Gateway::builder(&yaml).instance_keys(1))
        .admin_listen()
        .start()
        .await;
    let c = gw.client();
    let metrics = c.get(gw.admin_url("/metrics")).send().await.expect("get");
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.expect("text").contains("modelgate_"));
    let other = c.get(gw.admin_url("/anything")).send().await.expect("get");
    assert_eq!(other.status(), 404);
    assert!(!other.text().await.expect("text").contains("modelgate_"));
    let post = c.post(gw.admin_url("/metrics")).send().await.expect("post");
    assert_eq!(post.status(), 405);
    // A request that is not HTTP, carrying a credential.
    let admin = gw.admin_url("");
    let addr = admin.trim_start_matches("http://");
    let mut raw = tokio::net::TcpStream::connect(addr).await.expect("connect");
    raw.write_all(b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer sk-admin-raw-secret\r\nBad Header Line\r\n\r\n")
        .await
        .expect("send");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut rest)).await;
    assert!(
        !String::from_utf8_lossy(&rest).contains("modelgate_"),
        "no metrics for garbage"
    );
    // The gateway is still serving, and nothing logged the request's bytes.
    let ok = c.get(gw.admin_url("/metrics")).send().await.expect("get");
    assert_eq!(ok.status(), 200);
    assert!(
        !gw.logs().contains("sk-admin-raw-secret"),
        "raw request bytes were logged"
    );
}

/// Sends a chat request for `model` with `Expect: 100-continue` the way curl does for a
/// large body: the head, then (after the `100 Continue`) the body. Returns what came
/// before the body was sent and everything after.
async fn expect_continue(addr: std::net::SocketAddr, model: &str) -> (String, String) {
    let body = chat_body(model).to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {GW_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    let mut first = [0u8; 25];
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut first)).await;
    read.expect("a 100 Continue in time").expect("read");
    s.write_all(body.as_bytes()).await.expect("body");
    let mut rest = Vec::new();
    let mut buf = [0u8; 4096];
    // Keep-alive: read until a whole JSON body arrived (or the gateway closed).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        rest.extend_from_slice(&buf[..n]);
        if rest.ends_with(b"}") || rest.ends_with(b"}\n") {
            break;
        }
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&first), text(&rest))
}

#[tokio::test]
async fn errors_decided_after_an_expect_continue_body_still_reach_the_client() {
    let failing = MockUpstream::start(Behaviour::status(500));
    let limited = MockUpstream::start(Behaviour::status(429).retry_after(30));
    let yaml =
        format!(
        "auth:\n  keys:\n    - {{ name: cheap, key: \"${{GW_KEY}}\", models: [\"cheap-*\"] }}\n\
         providers:\n{}{}",
        provider_yaml("failing", &failing.base_url(), Some("UP_KEY"), &["cheap-broken"]),
        provider_yaml("limited", &limited.base_url(), Some("UP_KEY"), &["cheap-busy"]),
    );
    let gw = Gateway::builder(&yaml)
        .env("GW_KEY", GW_KEY)
        .env("UP_KEY", UP_KEY)
        .start()
        .await;
    let cases = [
        ("expensive-model", "403 Forbidden", "model_not_allowed"),
        ("cheap-unknown", "404 Not Found", "model_not_found"),
        ("cheap-busy", "429 Too Many Requests", ""),
        ("cheap-broken", "502 Bad Gateway", ""),
    ];
    for (model, status, code) in cases {
        let (first, rest) = expect_continue(gw.addr(), model).await;
        assert!(first.starts_with("HTTP/1.1 100 Continue\r\n"), "{first:?}");
        assert!(
            rest.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{model}: the final status follows the 100: {rest:?}"
        );
        let body = rest.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON envelope");
        let error = assert_openai_error(&json);
        if !code.is_empty() {
            assert_eq!(error["code"], code, "{json}");
        }
        let code = status.split(' ').next().unwrap_or_default();
        let line = access_log_line(
            &gw,
            &format!("\"model\":\"{model}\""),
            Duration::from_secs(5),
        )
        .await
        .expect("an access-log line");
        assert!(line.contains(&format!("\"status\":{code}")), "{line}");
    }
    let again =
        (gw.post_json_with_key("/v1/chat/completions", &chat_body("cheap-busy"), GW_KEY)).await;
    assert_eq!(again.status(), 429, "still serving");
}

#[tokio::test]
async fn a_flood_of_sdk_telemetry_headers_is_capped_before_the_upstream() {
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("", &bases(&[&up]), &["m"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let mut req = gw.client().post(gw.url("/v1/chat/completions"));
    for i in 0..200 {
        req = req.header(format!("x-stainless-junk-{i}"), "x");
    }
    let resp = req.json(&chat_body("m")).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    let seen = up.last_request().expect("forwarded");
    let forwarded = (seen.headers.iter())
        .filter(|(name, _)| name.starts_with("x-stainless-"))
        .count();
    assert_eq!(
        forwarded, 24,
        "the first 24 pass, the rest stay at the gateway"
    );
}
