//! SSE through the real binary: events pass byte for byte and as they are sent (not
//! buffered), all but the usage-only chunk the gateway asks for on behalf of a client
//! that did not (and takes out again); a stream cut mid-way ends with an SSE `error`
//! event and no retry, failover still works before the first byte, many streams run
//! at once, TLS upstreams work (and an untrusted one fails cleanly), and a client
//! leaving before the first byte is noticed.

use crate::support::{
    assert_openai_error, bases, chat_body, chat_stream_body, header, http_client, instances_yaml,
    post_json, read_sse_events, sse_data, try_read_sse_events, usage_only, Behaviour, Gateway,
    MockUpstream, TestCa,
};
use reqwest::Response;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";
const MODEL: &str = "m1";

/// A gateway in front of `bases`: instances `p1`, `p2`, ... serving `m1`, with keys
/// `sk-test-1`, ... ; `ca` is the upstream trust store, if not the system's.
async fn gateway(bases: &[String], ca: Option<&TestCa>) -> Gateway {
    let yaml = instances_yaml("", bases, &[MODEL]);
    let mut builder = Gateway::builder(&yaml).instance_keys(bases.len());
    if let Some(ca) = ca {
        builder = builder.ca_file(ca.ca_pem_path());
    }
    builder.start().await
}

/// A 200 SSE response routed to instance `id` after `attempts` attempts.
fn assert_stream_head(response: &Response, id: &str, attempts: &str) {
    assert_eq!(response.status(), 200);
    assert_eq!(header(response, "content-type"), Some("text/event-stream"));
    assert_eq!(header(response, "x-modelgate-provider"), Some(id));
    assert_eq!(header(response, "x-modelgate-model"), Some(MODEL));
    assert_eq!(header(response, "x-modelgate-attempts"), Some(attempts));
    assert!(header(response, "x-request-id").is_some());
}

/// The events `mock` sent for its request number `request`, as the client reads them.
fn sent_for(mock: &MockUpstream, request: usize) -> Vec<String> {
    let sent = mock.sent_events().into_iter();
    sent.filter(|e| e.request == request)
        .map(|e| e.event)
        .collect()
}

/// The events `mock` sent for its request number `request`, as a client that did not
/// ask for usage reads them: all but the usage-only chunk, which the gateway asked the
/// provider for (to count tokens) and takes out again. Asserts there was exactly one,
/// so that every other event is still compared.
fn delivered_for(mock: &MockUpstream, request: usize) -> Vec<String> {
    let sent = sent_for(mock, request);
    let usage = sent.iter().filter(|e| usage_only(e).is_some()).count();
    assert_eq!(usage, 1, "one usage-only chunk sent: {sent:#?}");
    sent.into_iter()
        .filter(|e| usage_only(e).is_none())
        .collect()
}

/// Events as they are on the wire: each followed by its blank line.
fn sse_bytes(events: &[String]) -> String {
    events.iter().map(|e| format!("{e}\n\n")).collect()
}

fn texts(events: &[(Instant, String)]) -> Vec<String> {
    events.iter().map(|(_, e)| e.clone()).collect()
}

/// A complete stream for `m1` from a gateway that keeps serving. On a new client:
/// after a cut stream the gateway closes that client connection, and a pooled client
/// could race that close with its next request.
async fn assert_full_stream(gw: &Gateway) {
    let body = chat_stream_body(MODEL);
    let response = post_json(&http_client(), &gw.url(CHAT), &body, None).await;
    assert_eq!(response.status(), 200, "follow-up stream");
    let events = read_sse_events(response).await;
    assert_eq!(events.last().map(|(_, e)| e.as_str()), Some("data: [DONE]"));
}

#[tokio::test]
async fn sse_passes_through_byte_for_byte() {
    let mock = MockUpstream::start(Behaviour::sse(3, Duration::from_millis(20)));
    let gw = gateway(&bases(&[&mock]), None).await;

    // A client that asks for usage: its request and every byte of the stream go
    // through as they are, the usage-only chunk included.
    let mut asked = chat_stream_body(MODEL);
    asked["stream_options"] = json!({ "include_usage": true });
    let response = gw.post_json(CHAT, &asked).await;
    assert_stream_head(&response, "p1", "1");
    let got = response.bytes().await.expect("the whole stream");
    let sent = sent_for(&mock, 0);
    assert_eq!(sent.len(), 6, "3 chunks, finish, usage, [DONE]");
    assert_eq!(String::from_utf8_lossy(&got), sse_bytes(&sent));
    assert_eq!(mock.requests()[0].json(), asked);

    // A client that did not ask: usage is asked for upstream on its behalf, and that
    // one event is taken out of what it gets, every other byte unchanged.
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p1", "1");
    let got = response.bytes().await.expect("the whole stream");
    let delivered = delivered_for(&mock, 1);
    assert_eq!(delivered.len(), 5, "3 chunks, finish, [DONE]");
    assert_eq!(String::from_utf8_lossy(&got), sse_bytes(&delivered));
    let upstream = mock.requests()[1].json();
    assert_eq!(upstream["stream_options"], json!({ "include_usage": true }));

    assert_eq!(mock.hits(), 2);
    for seen in mock.requests() {
        assert_eq!(seen.header("authorization"), Some("Bearer sk-test-1"));
    }
}

#[tokio::test]
async fn chunk_timing_is_preserved() {
    let gap = Duration::from_millis(200);
    let mock = MockUpstream::start(Behaviour::sse(5, gap));
    let gw = gateway(&bases(&[&mock]), None).await;
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p1", "1");
    let received = read_sse_events(response).await;
    let sent = mock.sent_events().into_iter();
    let sent: Vec<_> = sent.filter(|e| usage_only(&e.event).is_none()).collect();
    assert_eq!(texts(&received), delivered_for(&mock, 0));
    assert_eq!(received.len(), 7, "5 chunks, finish, [DONE]");
    // Each event reaches the client right after the mock flushed it: a buffering
    // gateway would hold it at least one 200ms gap.
    for (i, ((arrived, _), sent)) in received.iter().zip(&sent).enumerate() {
        let lag = arrived.saturating_duration_since(sent.at);
        assert!(
            lag < Duration::from_millis(150),
            "event {i} arrived {lag:?} late"
        );
    }
    let last_sent = sent.last().expect("events").at;
    let lead = last_sent.saturating_duration_since(received[0].0);
    assert!(
        lead >= Duration::from_millis(500),
        "first event only {lead:?} early"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event_and_no_retry() {
    let cut = MockUpstream::start(Behaviour::cut_after(2));
    let spare = MockUpstream::start(Behaviour::sse(2, Duration::ZERO));
    let gw = gateway(&bases(&[&cut, &spare]), None).await;
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p1", "1");
    let (events, error) = try_read_sse_events(response).await;
    assert!(error.is_none(), "the body must end cleanly: {error:?}");
    let texts = texts(&events);
    assert_eq!(texts.len(), 3, "{texts:#?}");
    assert_eq!(texts[..2], sent_for(&cut, 0)[..]);
    assert!(texts[2].starts_with("event: error\n"), "{}", texts[2]);
    let data = sse_data(&texts[2]).expect("the error event has data");
    let envelope: Value = serde_json::from_str(&data).expect("JSON error data");
    assert_eq!(assert_openai_error(&envelope)["code"], "upstream_failed");
    assert_eq!(
        (cut.hits(), spare.hits()),
        (1, 0),
        "no retry after bytes went out"
    );

    cut.set_behaviour(Behaviour::sse(2, Duration::ZERO));
    assert_full_stream(&gw).await;
}

#[tokio::test]
async fn a_stream_ending_before_any_event_fails_over() {
    let empty = MockUpstream::start(Behaviour::cut_after(0));
    let good = MockUpstream::start(Behaviour::sse(2, Duration::ZERO));
    let gw = gateway(&bases(&[&empty, &good]), None).await;
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p2", "2");
    let received = read_sse_events(response).await;
    assert_eq!(texts(&received), delivered_for(&good, 0));
    assert_eq!((empty.hits(), good.hits()), (1, 1));
}

#[tokio::test]
async fn streams_fail_over_before_the_first_byte() {
    let limited = MockUpstream::start(Behaviour::status(429).retry_after(5));
    let good = MockUpstream::start(Behaviour::sse(3, Duration::from_millis(10)));
    let gw = gateway(&bases(&[&limited, &good]), None).await;
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p2", "2");
    let received = read_sse_events(response).await;
    assert_eq!(texts(&received), delivered_for(&good, 0));
    assert_eq!((limited.hits(), good.hits()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_streams_all_complete() {
    const STREAMS: usize = 200;
    let mock = MockUpstream::start(Behaviour::sse(20, Duration::from_millis(10)));
    let gw = gateway(&bases(&[&mock]), None).await;
    let client = http_client();
    let url = gw.url(CHAT);
    let tasks = (0..STREAMS).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let body = chat_stream_body(MODEL);
            let response = client.post(&url).json(&body).send().await.expect("sent");
            assert_eq!(response.status(), 200);
            texts(&read_sse_events(response).await)
        })
    });
    let all = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(tasks))
        .await
        .expect("200 streams within 60s");
    let mut got: Vec<Vec<String>> = all.into_iter().map(|r| r.expect("task")).collect();
    for events in &got {
        assert_eq!(events.len(), 22, "20 chunks, finish, [DONE]");
        assert_eq!(events.last().map(String::as_str), Some("data: [DONE]"));
    }
    // Every client got exactly one of the streams the mock sent, none mixed up.
    let mut sent: Vec<Vec<String>> = (0..STREAMS).map(|r| delivered_for(&mock, r)).collect();
    got.sort();
    sent.sort();
    assert!(got == sent, "client streams differ from what the mock sent");
    assert_eq!(mock.hits(), STREAMS);
}

#[tokio::test]
async fn tls_upstreams_serve_whole_replies_and_streams() {
    let ca = TestCa::new();
    let mock = MockUpstream::start_tls(Behaviour::chat_ok().content("over tls"), &ca);
    assert!(mock.base_url().starts_with("https://"));
    let gw = gateway(&bases(&[&mock]), Some(&ca)).await;

    let response = gw.post_json(CHAT, &chat_body(MODEL)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-modelgate-provider"), Some("p1"));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["choices"][0]["message"]["content"], "over tls");

    mock.set_behaviour(Behaviour::sse(3, Duration::from_millis(10)));
    let response = gw.post_json(CHAT, &chat_stream_body(MODEL)).await;
    assert_stream_head(&response, "p1", "1");
    let received = read_sse_events(response).await;
    assert_eq!(texts(&received), delivered_for(&mock, 1));

    assert_eq!(mock.hits(), 2);
    for seen in mock.requests() {
        assert_eq!(seen.header("authorization"), Some("Bearer sk-test-1"));
    }
}

#[tokio::test]
async fn an_untrusted_tls_upstream_is_502_not_a_hang() {
    let (ca, stranger) = (TestCa::new(), TestCa::new());
    let mock = MockUpstream::start_tls(Behaviour::chat_ok(), &ca);
    let gw = gateway(&bases(&[&mock]), Some(&stranger)).await;
    for body in [chat_body(MODEL), chat_stream_body(MODEL)] {
        let request = gw.post_json(CHAT, &body);
        let response = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .expect("an answer, not a hang");
        assert_eq!(response.status(), 502);
        let envelope: Value = response.json().await.expect("an error envelope");
        assert_eq!(assert_openai_error(&envelope)["code"], "upstream_failed");
    }
    assert_eq!(
        mock.hits(),
        0,
        "no request may cross an unverified handshake"
    );
    assert!(mock.connections() >= 1, "the handshake was attempted");
    assert_eq!(gw.get("/health").await.status(), 200, "still serving");
}

#[tokio::test]
async fn a_client_leaving_before_the_first_byte_is_noticed() {
    let slow =
        MockUpstream::start(Behaviour::sse(2, Duration::ZERO).delay_head(Duration::from_secs(5)));
    let gw = gateway(&bases(&[&slow]), None).await;
    let request = http_client()
        .post(gw.url(CHAT))
        .json(&chat_stream_body(MODEL))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(request.is_err_and(|e| e.is_timeout()), "the client gave up");
    assert!(slow.wait_for_hits(1, Duration::from_secs(2)).await);
    // Noticed while the upstream still holds its head back (5s), not when it answers.
    let noticed = gw
        .wait_for_log(
            "client disconnected before the first byte",
            Duration::from_secs(3),
        )
        .await;
    assert!(noticed, "the gateway did not notice the client leave");

    slow.set_behaviour(Behaviour::sse(2, Duration::ZERO));
    assert_full_stream(&gw).await;
}

/// At the byte level: after a cut, the chunked body still ends properly (`0\r\n\r\n`,
/// so the client sees a clean end) and then the gateway closes the connection.
#[tokio::test]
async fn a_cut_stream_ends_its_chunked_body_and_the_connection_stays_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cut = MockUpstream::start(Behaviour::cut_after(1));
    let gw = gateway(&bases(&[&cut]), None).await;
    let body = chat_stream_body(MODEL).to_string();
    let request = format!(
        "POST {CHAT} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut tcp = tokio::net::TcpStream::connect(gw.addr())
        .await
        .expect("connect");
    // Two requests on one connection: the first response is cut, framed to its
    // end, and the connection then serves the second (a keep-alive client
    // reuses it as soon as the first body ends).
    for round in 1..=2 {
        tcp.write_all(request.as_bytes()).await.expect("send");
        let mut response = Vec::new();
        let until_end = async {
            let mut buf = [0u8; 4096];
            while !response.ends_with(b"\r\n0\r\n\r\n") {
                let n = tcp.read(&mut buf).await.expect("read");
                assert!(
                    n > 0,
                    "round {round}: connection closed before the final chunk"
                );
                response.extend_from_slice(&buf[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(5), until_end)
            .await
            .expect("the final chunk arrives");
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
        assert!(
            text.contains("event: error\ndata: {"),
            "round {round}: {text}"
        );
    }
    assert_eq!(cut.hits(), 2);
}
