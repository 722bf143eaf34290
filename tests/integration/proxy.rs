//! Routing, auth, header rewriting and the local error table, against the real
//! binary: what the client gets, and what each upstream saw (hits, headers, bytes).

use crate::support::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::Duration;

const UP_KEY_A: &str = "sk-upstream-aaaa-1111";
const UP_KEY_B: &str = "sk-upstream-bbbb-2222";
const GW_KEY: &str = "gw-key-alice-9999";
const GW_KEY_BOB: &str = "gw-key-bob-8888";

/// Two instances serving `m1` (a, b), `a` also `m2`; alias `fast` → a/m2;
/// keys: alice (all models), bob (`m1` only).
fn two_instances(a: &MockUpstream, b: &MockUpstream) -> String {
    format!(
        "auth:\n  keys:\n    - {{ name: alice, key: \"${{GW_ALICE}}\" }}\n    - {{ name: bob, key: \"${{GW_BOB}}\", models: [m1] }}\n\
         providers:\n{}{}\
         models:\n  - name: fast\n    targets: [ {{ provider: a, model: m2 }} ]\n",
        provider_yaml("a", &a.base_url(), Some("KEY_A"), &["m1", "m2"]),
        provider_yaml("b", &b.base_url(), Some("KEY_B"), &["m1"]),
    )
}

async fn start(yaml: &str) -> Gateway {
    Gateway::builder(yaml)
        .env("KEY_A", UP_KEY_A)
        .env("KEY_B", UP_KEY_B)
        .env("GW_ALICE", GW_KEY)
        .env("GW_BOB", GW_KEY_BOB)
        .start()
        .await
}

async fn json_of(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn chat_round_trip_uses_the_instance_key_and_never_the_clients() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    let body = chat_body("m1");
    let resp = gw
        .post_json_with_key("/v1/chat/completions", &body, GW_KEY)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelgate-provider"), Some("a"));
    assert_eq!(header(&resp, "x-modelgate-model"), Some("m1"));
    assert_eq!(header(&resp, "x-modelgate-attempts"), Some("1"));
    assert_eq!(
        header(&resp, "x-request-id").map(str::len),
        Some(32),
        "a generated request id"
    );
    let out = json_of(resp).await;
    assert_eq!(out["object"], "chat.completion");
    assert_eq!(out["model"], "m1");
    assert!(out["usage"]["total_tokens"].as_u64().is_some());
    assert_eq!((a.hits(), b.hits()), (1, 0));
    let seen = a.last_request().expect("a request");
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {UP_KEY_A}").as_str())
    );
    assert_eq!(seen.json(), body, "the body arrives unchanged");
    for (name, value) in &seen.headers {
        assert!(!value.contains(GW_KEY), "client key forwarded in {name}");
    }
}

#[tokio::test]
async fn completions_and_embeddings_route_to_their_upstream_paths() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    let resp = gw
        .post_json_with_key(
            "/v1/completions",
            &json!({"model": "m2", "prompt": "hi"}),
            GW_KEY,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["object"], "text_completion");
    let resp = gw
        .post_json_with_key(
            "/v1/embeddings",
            &json!({"model": "m2", "input": ["a", "b"]}),
            GW_KEY,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        json_of(resp).await["data"].as_array().map(Vec::len),
        Some(2)
    );
    let paths: Vec<String> = a.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, vec!["/v1/completions", "/v1/embeddings"]);
}

#[tokio::test]
async fn alias_rewrites_the_model_and_not_one_other_byte() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    let raw = "{ \"messages\" : [ {\"role\":\"user\", \"content\":\"model: fast \\u00e9\"} ],\n  \"model\":\"fast\",  \"temperature\": 0.50, \"x\": [1,2 ,3] }";
    let resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(GW_KEY)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelgate-model"), Some("m2"));
    let expected = raw.replace("\"model\":\"fast\"", "\"model\":\"m2\"");
    assert_eq!(a.last_request().expect("request").body_str(), expected);
}

#[tokio::test]
async fn model_resolution_auto_prefix_and_config_order() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    for _ in 0..4 {
        let resp = gw
            .post_json_with_key("/v1/chat/completions", &chat_body("auto"), GW_KEY)
            .await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(
        (a.hits(), b.hits()),
        (2, 2),
        "auto round-robins over instances"
    );
    let resp = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("b/m1"), GW_KEY)
        .await;
    assert_eq!(header(&resp, "x-modelgate-provider"), Some("b"));
    let resp = gw
        .post_json_with_key(
            "/v1/chat/completions",
            &chat_body("b/unlisted-model"),
            GW_KEY,
        )
        .await;
    assert_eq!(header(&resp, "x-modelgate-model"), Some("unlisted-model"));
    assert_eq!(
        b.last_request().expect("b").json()["model"],
        "unlisted-model"
    );
    let resp = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("m1"), GW_KEY)
        .await;
    assert_eq!(
        header(&resp, "x-modelgate-provider"),
        Some("a"),
        "real model: config order"
    );
}

#[tokio::test]
async fn request_ids_and_headers_are_rewritten_both_ways() {
    let a = MockUpstream::start(
        Behaviour::ok()
            .header("set-cookie", "__cf_bm=abc")
            .header("x-request-id", "req_upstream_1")
            .header("x-ratelimit-remaining-requests", "99"),
    );
    let b = MockUpstream::start(Behaviour::ok());
    let gw = start(&two_instances(&a, &b)).await;
    let resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(GW_KEY)
        .header("x-request-id", "client-req-42")
        .header("x-custom", "kept")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("cookie", "session=secret")
        .header("x-api-key", "another-client-secret")
        .json(&chat_body("m1"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-request-id"), Some("client-req-42"));
    assert_eq!(
        header(&resp, "x-upstream-request-id"),
        Some("req_upstream_1")
    );
    assert_eq!(header(&resp, "x-ratelimit-remaining-requests"), Some("99"));
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "provider cookies stay at the gateway"
    );
    let seen = a.last_request().expect("request");
    assert_eq!(seen.header("x-request-id"), Some("client-req-42"));
    // Only an allow-list of client headers goes upstream (hardening.rs).
    for gone in [
        "x-custom",
        "x-hop",
        "cookie",
        "x-api-key",
        "expect",
        "accept-encoding",
    ] {
        assert_eq!(seen.header(gone), None, "{gone} must not be forwarded");
    }
    assert_eq!(seen.header_all("authorization").len(), 1);
    assert_eq!(seen.header("host"), Some(a.addr().to_string().as_str()));
}

#[tokio::test]
async fn upstream_connections_are_pooled() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    for _ in 0..6 {
        let resp = gw
            .post_json_with_key("/v1/chat/completions", &chat_body("m1"), GW_KEY)
            .await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(a.hits(), 6);
    assert!(
        a.connections() <= 2,
        "6 sequential requests used {} connections",
        a.connections()
    );
}

/// Sends `body` with `Expect: 100-continue` over a raw socket; returns everything read.
fn raw_expect_continue(addr: std::net::SocketAddr, body: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {GW_KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut first = [0u8; 25];
    s.read_exact(&mut first)
        .expect("100 Continue before the body");
    s.write_all(body.as_bytes()).expect("write body");
    let mut rest = String::new();
    let _ = s.read_to_string(&mut rest);
    (String::from_utf8_lossy(&first).into_owned(), rest)
}

#[tokio::test]
async fn expect_100_continue_is_answered_once_and_not_forwarded() {
    let a = MockUpstream::start(Behaviour::ok().send_continue());
    let b = MockUpstream::start(Behaviour::ok());
    let gw = start(&two_instances(&a, &b)).await;
    let addr = gw.addr();
    let body = chat_body("m1").to_string();
    let (first, rest) = tokio::task::spawn_blocking(move || raw_expect_continue(addr, &body))
        .await
        .expect("join");
    assert!(first.starts_with("HTTP/1.1 100 Continue\r\n"), "{first:?}");
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n"),
        "one 100, then the answer: {rest}"
    );
    assert!(
        !rest.contains("100 Continue"),
        "the upstream's 100 is never relayed: {rest}"
    );
    assert_eq!(a.last_request().expect("request").header("expect"), None);
}

/// Writes `raw` on a fresh connection and reads until the gateway closes it.
fn raw_exchange(addr: std::net::SocketAddr, raw: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(raw).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("the gateway answers, then closes");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn malformed_heads_and_connect_get_an_envelope_and_a_closed_connection() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    let addr = gw.addr();
    let cases: [(&str, &[u8], &str, &str); 3] = [
        (
            "not an HTTP request line",
            b"GARBAGE\x01 / HTTP/1.1\r\n\r\n",
            "400 Bad Request",
            "malformed_request",
        ),
        (
            "a header line without a colon",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            "400 Bad Request",
            "malformed_request",
        ),
        (
            "CONNECT",
            b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n",
            "405 Method Not Allowed",
            "method_not_allowed",
        ),
    ];
    for (what, raw, status, code) in cases {
        let reply = tokio::task::spawn_blocking(move || raw_exchange(addr, raw))
            .await
            .expect("join");
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}\r\n")),
            "{what}: {reply}"
        );
        let lower = reply.to_ascii_lowercase();
        assert!(
            lower.contains("\r\nconnection: close\r\n"),
            "{what}: {reply}"
        );
        assert!(lower.contains("\r\nx-request-id: "), "{what}: {reply}");
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        let body: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {reply}"));
        assert_eq!(assert_openai_error(&body)["code"], code, "{what}");
    }
    assert_eq!(a.hits() + b.hits(), 0, "nothing reached an upstream");
    let resp = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("m1"), GW_KEY)
        .await;
    assert_eq!(resp.status(), 200, "still serving");
}

/// Every row of the error table (docs/http.md, "Errors") that the gateway answers
/// itself: status, envelope code, no upstream call, and the gateway still serves
/// afterwards.
#[tokio::test]
async fn local_errors_have_exact_statuses_and_envelopes() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let yaml = format!("routing: {{ max_body: 4KiB }}\n{}", two_instances(&a, &b));
    let gw = start(&yaml).await;
    let c = gw.client();
    let chat = gw.url("/v1/chat/completions");
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "not JSON",
            c.post(&chat).bearer_auth(GW_KEY).body("{nope"),
            400,
            "invalid_json",
        ),
        (
            "empty body",
            c.post(&chat).bearer_auth(GW_KEY),
            400,
            "invalid_json",
        ),
        (
            "array body",
            c.post(&chat).bearer_auth(GW_KEY).body("[1]"),
            400,
            "invalid_json",
        ),
        (
            "no model",
            c.post(&chat)
                .bearer_auth(GW_KEY)
                .json(&json!({"messages": []})),
            400,
            "missing_model",
        ),
        (
            "model type",
            c.post(&chat).bearer_auth(GW_KEY).json(&json!({"model": 7})),
            400,
            "invalid_type",
        ),
        (
            "stream type",
            c.post(&chat)
                .bearer_auth(GW_KEY)
                .json(&json!({"model": "m1", "stream": "yes"})),
            400,
            "invalid_type",
        ),
        (
            "no key",
            c.post(&chat).json(&chat_body("m1")),
            401,
            "missing_api_key",
        ),
        (
            "wrong key",
            c.post(&chat)
                .bearer_auth("gw-key-alice-999")
                .json(&chat_body("m1")),
            401,
            "invalid_api_key",
        ),
        (
            "not allowed",
            c.post(&chat).bearer_auth(GW_KEY_BOB).json(&chat_body("m2")),
            403,
            "model_not_allowed",
        ),
        (
            "unknown model",
            c.post(&chat).bearer_auth(GW_KEY).json(&chat_body("gpt-9")),
            404,
            "model_not_found",
        ),
        (
            "unknown path",
            c.post(gw.url("/v1/nope"))
                .bearer_auth(GW_KEY)
                .json(&chat_body("m1")),
            404,
            "unknown_url",
        ),
        (
            "wrong method",
            c.get(&chat).bearer_auth(GW_KEY),
            405,
            "method_not_allowed",
        ),
        (
            "too large",
            c.post(&chat).bearer_auth(GW_KEY).body(format!(
                "{{\"model\":\"m1\",\"p\":\"{}\"}}",
                "x".repeat(5000)
            )),
            413,
            "request_too_large",
        ),
    ];
    for (what, request, status, code) in cases {
        let resp = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert!(
            header(&resp, "x-request-id").is_some_and(|id| !id.is_empty()),
            "{what}: x-request-id"
        );
        assert_eq!(
            header(&resp, "content-type"),
            Some("application/json"),
            "{what}"
        );
        let body = json_of(resp).await;
        let err = assert_openai_error(&body);
        assert_eq!(err["code"], code, "{what}: {body}");
        if status == 404 && code == "model_not_found" {
            assert!(
                err["message"].as_str().unwrap_or("").contains("/v1/models"),
                "{body}"
            );
            assert_eq!(err["param"], "model");
        }
    }
    assert_eq!(a.hits() + b.hits(), 0, "no local error reached an upstream");
    let resp = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("m1"), GW_KEY)
        .await;
    assert_eq!(resp.status(), 200, "still serving");
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&format!(
        "routing: {{ max_body: 4KiB }}\n{}",
        two_instances(&a, &b)
    ))
    .await;
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"model\":\"m1\",\"p\":\"".into()),
        Ok("y".repeat(6000)),
        Ok("\"}".into()),
    ];
    let resp = gw
        .client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(GW_KEY)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status(), 413);
    assert_eq!(a.hits(), 0);
}

#[tokio::test]
async fn no_candidate_at_all_is_503_without_an_upstream_call() {
    let a = MockUpstream::start(Behaviour::ok());
    let yaml = format!(
        "providers:\n{}{}models:\n  - name: only-skipped\n    targets: [ {{ provider: skipped, model: m9 }} ]\n",
        provider_yaml("a", &a.base_url(), Some("KEY_A"), &["m1"]),
        provider_yaml("skipped", &a.base_url(), Some("UNSET_KEY_FOR_TEST"), &["m9"]),
    );
    let gw = start(&yaml).await;
    let resp = gw
        .post_json("/v1/chat/completions", &chat_body("only-skipped"))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        assert_openai_error(&json_of(resp).await)["code"],
        "no_available_provider"
    );
    assert_eq!(a.hits(), 0);
    assert!(gw
        .logs()
        .contains("instance `skipped` skipped: `UNSET_KEY_FOR_TEST` is not set"));
}

#[tokio::test]
async fn models_list_is_openai_shaped_and_filtered_by_key() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    assert_eq!(gw.get("/v1/models").await.status(), 401);
    let list = json_of(
        gw.client()
            .get(gw.url("/v1/models"))
            .bearer_auth(GW_KEY)
            .send()
            .await
            .expect("ok"),
    )
    .await;
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for id in ["auto", "m1", "m2", "fast", "a/m2", "b/m1"] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    assert!(list["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|m| m["object"] == "model"));
    let bob = json_of(
        gw.client()
            .get(gw.url("/v1/models"))
            .bearer_auth(GW_KEY_BOB)
            .send()
            .await
            .expect("ok"),
    )
    .await;
    let ids: Vec<&str> = bob["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["m1"], "bob may use m1 only");
}

#[tokio::test]
async fn one_model_by_id_is_its_list_entry_or_a_404() {
    let (a, b) = (
        MockUpstream::start(Behaviour::ok()),
        MockUpstream::start(Behaviour::ok()),
    );
    let gw = start(&two_instances(&a, &b)).await;
    let get = |path: &str, key: &'static str| gw.client().get(gw.url(path)).bearer_auth(key).send();
    let list = json_of(get("/v1/models", GW_KEY).await.expect("ok")).await;
    for id in ["m1", "fast", "auto", "a/m2"] {
        for path in [
            format!("/v1/models/{id}"),
            format!("/v1/models/{}", id.replace('/', "%2F")),
        ] {
            let resp = get(&path, GW_KEY).await.expect("ok");
            assert_eq!(resp.status(), 200, "{path}");
            let entry = json_of(resp).await;
            let listed = (list["data"].as_array().expect("data").iter())
                .find(|m| m["id"] == id)
                .expect("listed");
            assert_eq!(&entry, listed, "{path}: the list's own entry");
        }
    }
    // Unknown, and known but not this key's: the same 404 (nothing to learn).
    for (path, key) in [("/v1/models/nope", GW_KEY), ("/v1/models/m2", GW_KEY_BOB)] {
        let resp = get(path, key).await.expect("ok");
        assert_eq!(resp.status(), 404, "{path}");
        let body = json_of(resp).await;
        assert_eq!(assert_openai_error(&body)["code"], "model_not_found");
    }
    assert_eq!(
        gw.get("/v1/models/m1").await.status(),
        401,
        "a key is needed"
    );
    assert_eq!(a.posts() + b.posts(), 0, "no upstream call");
}

#[tokio::test]
async fn azure_gets_deployment_urls_and_the_api_key_header() {
    let az = MockUpstream::start(Behaviour::ok());
    let base = az.base_url().trim_end_matches("/v1").to_string();
    let yaml = format!(
        "providers:\n  - id: az\n    type: azure\n    base_url: {base}\n    api_key: ${{KEY_A}}\n    api_version: \"2024-06-01\"\n    models: [gpt4o-dep]\n"
    );
    let gw = start(&yaml).await;
    let resp = gw
        .post_json("/v1/chat/completions", &chat_body("gpt4o-dep"))
        .await;
    assert_eq!(resp.status(), 200);
    let seen = az.last_request().expect("request");
    assert_eq!(
        seen.path,
        "/openai/deployments/gpt4o-dep/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(seen.header("api-key"), Some(UP_KEY_A));
    assert_eq!(seen.header("authorization"), None);
}

#[tokio::test]
async fn open_gateway_warns_and_still_never_forwards_client_credentials() {
    let a = MockUpstream::start(Behaviour::ok());
    let yaml = format!(
        "providers:\n{}",
        provider_yaml("a", &a.base_url(), None, &["m1"])
    );
    let gw = start(&yaml).await;
    let resp = gw
        .post_json_with_key(
            "/v1/chat/completions",
            &chat_body("m1"),
            "whatever-client-token",
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        a.last_request().expect("request").header("authorization"),
        None,
        "keyless instance, no client token"
    );
    assert!(gw.logs().contains("no gateway keys configured"));
}

#[tokio::test]
async fn health_shows_instances_and_no_secret_appears_anywhere() {
    let a = MockUpstream::start(Behaviour::ok());
    let b = MockUpstream::start(Behaviour::status(500));
    let gw = start(&two_instances(&a, &b)).await;
    let health = json_of(gw.get("/health").await).await;
    assert_eq!(health["status"], "ok");
    let providers = health["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[0]["id"], "a");
    assert_eq!(providers[0]["type"], "openai-compatible");
    assert_eq!(providers[0]["state"], "healthy");
    assert_eq!(providers[0]["models"], json!(["m1", "m2"]));
    let mut seen = health.to_string();
    for (path, body, key) in [
        ("/v1/chat/completions", chat_body("b/m1"), GW_KEY),
        ("/v1/chat/completions", chat_body("m1"), "wrong-key"),
        ("/v1/chat/completions", chat_body("nope"), GW_KEY),
        ("/v1/chat/completions", chat_body("m1"), GW_KEY),
    ] {
        let resp = gw.post_json_with_key(path, &body, key).await;
        seen.push_str(&format!("{:?}", resp.headers()));
        seen.push_str(&resp.text().await.expect("body"));
    }
    seen.push_str(
        &gw.client()
            .get(gw.url("/v1/models"))
            .bearer_auth(GW_KEY)
            .send()
            .await
            .expect("ok")
            .text()
            .await
            .expect("body"),
    );
    assert!(
        gw.logs().contains(r#""key":"alice","route":"chat""#),
        "the key's name is in the access log"
    );
    seen.push_str(&gw.logs());
    for secret in [UP_KEY_A, UP_KEY_B, GW_KEY, GW_KEY_BOB] {
        assert!(!seen.contains(secret), "secret {secret} printed");
    }
}
