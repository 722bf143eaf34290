//! Request bodies sent compressed: decoded before anything reads them (the
//! provider gets plain JSON, translated where the route asks), bounded by
//! `max_body` after decoding, on every route.

use crate::support::{instances_yaml, Behaviour, Gateway, MockUpstream};
use serde_json::{json, Value};
use std::io::Write;

const CHAT: &str = "/v1/chat/completions";
const RESPONSES: &str = "/v1/responses";

/// `POST path` with `Content-Encoding: encoding` and this (encoded) body.
async fn send(gw: &Gateway, path: &str, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    gw.client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .header("content-encoding", encoding)
        .body(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn zstd_and_gzip_bodies_reach_the_provider_decoded() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let yaml = instances_yaml("", &[mock.base_url()], &["m1"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let body = json!({"model": "m1", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let zstd = zstd::encode_all(body.as_bytes(), 3).expect("zstd");
    let response = send(&gw, CHAT, "zstd", zstd).await;
    assert_eq!(response.status(), 200);
    let seen = mock.last_request().expect("request");
    assert_eq!(seen.body_str(), body);
    assert_eq!(seen.header("content-encoding"), None);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).expect("gzip");
    let response = send(&gw, CHAT, "gzip", gz.finish().expect("gzip")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.last_request().expect("request").body_str(), body);
}

#[tokio::test]
async fn a_body_that_inflates_past_max_body_is_413_and_the_gateway_keeps_serving() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let yaml = instances_yaml("  max_body: 1MiB\n", &[mock.base_url()], &["m1"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    // 200 MiB of spaces around a valid request: a few KiB compressed.
    let mut bomb = vec![b' '; 200 * 1024 * 1024];
    bomb.extend_from_slice(br#"{"model":"m1","messages":[]}"#);
    let compressed = zstd::encode_all(&bomb[..], 19).expect("zstd");
    drop(bomb);
    assert!(compressed.len() < 1024 * 1024);
    let response = send(&gw, CHAT, "zstd", compressed).await;
    assert_eq!(response.status(), 413);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["error"]["code"], "request_too_large");
    let response = send(&gw, CHAT, "zstd", b"not zstd at all".to_vec()).await;
    assert_eq!(response.status(), 400);
    let response = send(&gw, CHAT, "br", b"{}".to_vec()).await;
    assert_eq!(response.status(), 415);
    assert_eq!(mock.posts(), 0);
    let response = gw
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "m1", "messages": []}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// `/v1/responses` too (Codex compresses its requests with zstd): the body is decoded
/// before it is translated, so the chat provider gets the translation of the plain JSON;
/// one that inflates past `max_body` is a 413 and reaches no provider.
#[tokio::test]
async fn a_zstd_responses_body_is_decoded_then_translated_and_a_bomb_is_413() {
    let mock = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("  max_body: 1MiB\n", &[mock.base_url()], &["m1"]);
    let gw = Gateway::builder(&yaml).instance_keys(1).start().await;
    let body = json!({"model": "m1", "instructions": "Be terse.", "input": "Say hi"}).to_string();
    let zstd = zstd::encode_all(body.as_bytes(), 3).expect("zstd");
    let response = send(&gw, RESPONSES, "zstd", zstd).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("json");
    assert_eq!(reply["object"], "response", "{reply}");
    let seen = mock.last_request().expect("request");
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("content-encoding"), None);
    let sent = seen.json();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "Say hi"})
    );

    let mut bomb = vec![b' '; 200 * 1024 * 1024];
    bomb.extend_from_slice(body.as_bytes());
    let compressed = zstd::encode_all(&bomb[..], 19).expect("zstd");
    drop(bomb);
    let response = send(&gw, RESPONSES, "zstd", compressed).await;
    assert_eq!(response.status(), 413);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["error"]["code"], "request_too_large");
    assert_eq!(mock.posts(), 1, "only the first reached the provider");
}
