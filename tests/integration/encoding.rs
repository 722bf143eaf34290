//! Request bodies sent compressed: decoded before anything reads them (the
//! provider gets plain JSON), bounded by `max_body` after decoding.

use crate::support::{instances_yaml, Behaviour, Gateway, MockUpstream};
use serde_json::{json, Value};
use std::io::Write;

async fn send(gw: &Gateway, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    gw.client()
        .post(gw.url("/v1/chat/completions"))
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
    let response = send(&gw, "zstd", zstd).await;
    assert_eq!(response.status(), 200);
    let seen = mock.last_request().expect("request");
    assert_eq!(seen.body_str(), body);
    assert_eq!(seen.header("content-encoding"), None);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).expect("gzip");
    let response = send(&gw, "gzip", gz.finish().expect("gzip")).await;
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
    let response = send(&gw, "zstd", compressed).await;
    assert_eq!(response.status(), 413);
    let v: Value = response.json().await.expect("json");
    assert_eq!(v["error"]["code"], "request_too_large");
    let response = send(&gw, "zstd", b"not zstd at all".to_vec()).await;
    assert_eq!(response.status(), 400);
    let response = send(&gw, "br", b"{}".to_vec()).await;
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
