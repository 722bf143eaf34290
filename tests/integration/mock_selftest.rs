//! Self-test of the mock upstream, driven directly with reqwest (and raw sockets where
//! the byte level matters), no gateway involved: if these fail, gateway test failures
//! mean nothing. Each test starts its own mock on a free port.

use crate::support::{
    assert_openai_error, chat_body, chat_stream_body, http_client, read_sse_events,
    try_read_sse_events, Behaviour, MockUpstream, MOCK_PROMPT_TOKENS,
};
use bytes::Bytes;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";

async fn post(mock: &MockUpstream, path: &str, body: &Value) -> reqwest::Response {
    http_client()
        .post(mock.url(path))
        .json(body)
        .send()
        .await
        .expect("mock answers")
}

#[tokio::test]
async fn chat_ok_answers_like_openai_and_records_the_request() {
    let mock = MockUpstream::start(Behaviour::chat_ok().content("hi there"));
    let response = http_client()
        .post(mock.url(CHAT))
        .bearer_auth("sk-upstream")
        .header("x-dup", "1")
        .header("x-dup", "2")
        .json(&chat_body("m1"))
        .send()
        .await
        .expect("mock answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), length);

    let reply: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["model"], "m1");
    assert!(reply["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(reply["created"].as_u64().unwrap() > 0);
    assert_eq!(
        reply["choices"][0]["message"],
        json!({"role": "assistant", "content": "hi there"})
    );
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    let usage = json!({"prompt_tokens": MOCK_PROMPT_TOKENS, "completion_tokens": 2,
                       "total_tokens": MOCK_PROMPT_TOKENS + 2});
    assert_eq!(reply["usage"], usage);

    assert_eq!(mock.hits(), 1);
    let seen = mock.last_request().unwrap();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("POST", CHAT));
    assert_eq!(seen.header("Authorization"), Some("Bearer sk-upstream"));
    assert_eq!(seen.header_all("x-dup"), vec!["1", "2"]);
    assert!(seen
        .headers
        .iter()
        .all(|(name, _)| *name == name.to_ascii_lowercase()));
    assert_eq!(seen.json(), chat_body("m1"));
    assert!(!seen.expected_continue());
}

#[tokio::test]
async fn chat_ok_rejects_what_a_provider_rejects() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let not_json = http_client()
        .post(mock.url(CHAT))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let body: Value = not_json.json().await.unwrap();
    assert_eq!(assert_openai_error(&body)["type"], "invalid_request_error");

    let no_model = post(&mock, CHAT, &json!({"messages": []})).await;
    assert_eq!(no_model.status(), 400);
    assert_openai_error(&no_model.json().await.unwrap());
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn ok_picks_the_object_by_path() {
    let mock = MockUpstream::start(Behaviour::ok().models(&["m1", "m2"]));
    let completion: Value = post(
        &mock,
        "/v1/completions",
        &json!({"model": "m1", "prompt": "x"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(completion["object"], "text_completion");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");

    let input = json!({"model": "e1", "input": ["a", "b", "c"]});
    let embeddings: Value = post(&mock, "/v1/embeddings", &input)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(embeddings["object"], "list");
    assert_eq!(embeddings["data"].as_array().unwrap().len(), 3);
    assert_eq!(embeddings["data"][2]["object"], "embedding");
    assert!(embeddings["usage"]["prompt_tokens"].is_u64());

    let chat: Value = post(&mock, CHAT, &chat_body("m2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chat["object"], "chat.completion");

    let models: Value = http_client()
        .get(mock.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][1]["id"], "m2");

    let unknown = post(&mock, "/v1/nowhere", &chat_body("m1")).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn sse_streams_each_event_as_it_is_sent() {
    let delay = Duration::from_millis(150);
    let mock = MockUpstream::start(Behaviour::sse(3, delay));
    let response = post(&mock, CHAT, &chat_stream_body("m1")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let received = read_sse_events(response).await;

    // 3 content events, the finish_reason event, the usage event, [DONE].
    let texts: Vec<&str> = received.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(texts.len(), 6, "{texts:#?}");
    assert_eq!(texts[5], "data: [DONE]");
    let chunk = |i: usize| -> Value { serde_json::from_str(&texts[i]["data: ".len()..]).unwrap() };
    assert_eq!(chunk(0)["object"], "chat.completion.chunk");
    assert_eq!(chunk(0)["model"], "m1");
    assert_eq!(chunk(0)["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunk(3)["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunk(4)["usage"]["completion_tokens"], 3);

    let sent = mock.sent_events();
    let sent_texts: Vec<&str> = sent.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(sent_texts, texts);
    assert!(sent.iter().all(|e| e.request == 0));
    // Unbuffered: each event arrived before the mock sent the next one.
    for (i, next) in sent.iter().enumerate().skip(1) {
        assert!(received[i - 1].0 < next.at, "event {} arrived late", i - 1);
    }
    assert!(received[5].0 - received[0].0 >= delay * 5 * 9 / 10);
}

#[tokio::test]
async fn status_carries_the_error_envelope_and_headers() {
    let behaviour = Behaviour::status(429)
        .retry_after(2)
        .header("x-ratelimit-reset-requests", "2s")
        .error_message("slow down");
    let mock = MockUpstream::start(behaviour);
    let response = post(&mock, CHAT, &chat_body("m1")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-ratelimit-reset-requests"], "2s");
    let body: Value = response.json().await.unwrap();
    let error = assert_openai_error(&body);
    assert_eq!(error["message"], "slow down");
    assert_eq!(error["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn sequence_steps_then_repeats_and_set_behaviour_resets_it() {
    let steps = vec![
        Behaviour::status(500),
        Behaviour::status(429),
        Behaviour::chat_ok(),
    ];
    let mock = MockUpstream::start(Behaviour::sequence(steps));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post(&mock, CHAT, &chat_body("m1")).await.status().as_u16());
    }
    assert_eq!(statuses, [500, 429, 200, 200]);
    assert_eq!(mock.hits(), 4);

    mock.set_behaviour(Behaviour::sequence(vec![
        Behaviour::status(502),
        Behaviour::chat_ok(),
    ]));
    assert_eq!(post(&mock, CHAT, &chat_body("m1")).await.status(), 502);
    assert_eq!(post(&mock, CHAT, &chat_body("m1")).await.status(), 200);
    assert!(mock.wait_for_hits(6, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn chunked_request_bodies_are_read() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"model\":")),
        Ok(Bytes::from_static(b"\"m1\",\"messages\":[]}")),
    ];
    let response = http_client()
        .post(mock.url(CHAT))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(parts)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen.header("content-length"), None);
    assert_eq!(seen.body_str(), r#"{"model":"m1","messages":[]}"#);
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let mock = MockUpstream::start(Behaviour::ok());
    let client = http_client();
    for _ in 0..5 {
        let response = client
            .post(mock.url(CHAT))
            .json(&chat_body("m1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    let stream = client
        .post(mock.url(CHAT))
        .json(&chat_stream_body("m1"))
        .send()
        .await
        .unwrap();
    read_sse_events(stream).await;
    client
        .post(mock.url(CHAT))
        .json(&chat_body("m1"))
        .send()
        .await
        .unwrap();
    assert_eq!(mock.hits(), 7);
    assert_eq!(mock.connections(), 1);
    assert!(mock.requests().iter().all(|r| r.connection == 0));
}

#[tokio::test]
async fn misbehaviours_fail_the_way_they_should() {
    let garbage = MockUpstream::start(Behaviour::garbage());
    assert!(http_client()
        .post(garbage.url(CHAT))
        .json(&chat_body("m1"))
        .send()
        .await
        .is_err());
    assert_eq!(garbage.hits(), 1);

    let closing = MockUpstream::start(Behaviour::close_immediately());
    assert!(http_client()
        .post(closing.url(CHAT))
        .json(&chat_body("m1"))
        .send()
        .await
        .is_err());
    assert_eq!(closing.hits(), 1);

    let bad_json = MockUpstream::start(Behaviour::bad_json_200());
    let response = post(&bad_json, CHAT, &chat_body("m1")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());

    let hang = MockUpstream::start(Behaviour::hang());
    let request = http_client().post(hang.url(CHAT)).json(&chat_body("m1"));
    let error = request
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert_eq!(hang.hits(), 1);
}

#[tokio::test]
async fn cut_after_ends_the_stream_mid_body() {
    let mock = MockUpstream::start(Behaviour::cut_after(2));
    let response = post(&mock, CHAT, &chat_stream_body("m1")).await;
    assert_eq!(response.status(), 200);
    let (events, error) = try_read_sse_events(response).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events
        .iter()
        .all(|(_, e)| e.contains("\"finish_reason\":null")));
    assert!(error.is_some(), "a cut stream must not look complete");
    assert_eq!(mock.sent_events().len(), 2);
}

#[tokio::test]
async fn delay_head_holds_the_response() {
    let delay = Duration::from_millis(300);
    let mock = MockUpstream::start(Behaviour::chat_ok().delay_head(delay));
    let started = Instant::now();
    assert_eq!(post(&mock, CHAT, &chat_body("m1")).await.status(), 200);
    assert!(started.elapsed() >= delay);
}
