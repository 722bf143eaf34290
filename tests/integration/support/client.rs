//! The client side of tests: request bodies, a proxy-free reqwest client, JSON posts,
//! and an SSE reader that timestamps each event as it arrives (to prove streaming is not
//! buffered). Shared by tests against the gateway and the mock's self-test.

use futures::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A reqwest client that never goes through `HTTP_PROXY` & co (tests talk to 127.0.0.1)
/// and gives up on a stuck request after a minute instead of hanging the suite.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build reqwest client")
}

/// The value of response header `name`; `None` if it is missing or not visible ASCII.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A minimal chat completion request for `model`.
pub fn chat_body(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{ "role": "user", "content": "Say hello." }],
    })
}

/// [`chat_body`] with `"stream": true`.
pub fn chat_stream_body(model: &str) -> Value {
    let mut body = chat_body(model);
    body["stream"] = json!(true);
    body
}

/// A minimal Anthropic Messages request for `model` (with the `max_tokens` the provider
/// requires), streamed or not.
pub fn anthropic_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{ "role": "user", "content": "Say hello." }],
    })
}

/// A minimal Gemini `generateContent` request (the model is in the path).
pub fn gemini_body() -> Value {
    json!({ "contents": [{ "role": "user", "parts": [{ "text": "Say hello." }] }] })
}

/// POSTs `body` as JSON, with `Authorization: Bearer <key>` when given. Panics only if
/// no response arrives at all.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut request = client.post(url).json(body);
    if let Some(key) = bearer {
        request = request.bearer_auth(key);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Reads an SSE body to its end: each event (its lines, without the blank line that
/// ends it, e.g. `data: {...}` or `event: error\ndata: {...}`) with the instant the
/// bytes completing it arrived. Panics if the body fails mid-way.
pub async fn read_sse_events(response: reqwest::Response) -> Vec<(Instant, String)> {
    let (events, error) = try_read_sse_events(response).await;
    if let Some(error) = error {
        panic!(
            "SSE body failed after {} events ({error}): {events:#?}",
            events.len()
        );
    }
    events
}

/// [`read_sse_events`] that also returns the error that ended the body, if any (a cut
/// stream). A trailing event without its blank line is included.
pub async fn try_read_sse_events(
    response: reqwest::Response,
) -> (Vec<(Instant, String)>, Option<reqwest::Error>) {
    let mut stream = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                let now = Instant::now();
                pending.extend_from_slice(&bytes);
                while let Some(event) = take_event(&mut pending) {
                    events.push((now, event));
                }
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let rest = String::from_utf8_lossy(&pending);
    if !rest.trim().is_empty() {
        events.push((Instant::now(), rest.trim_end().to_string()));
    }
    (events, error)
}

/// Removes the first complete event (up to a blank line, LF or CRLF) from `buf`.
fn take_event(buf: &mut Vec<u8>) -> Option<String> {
    loop {
        let lf = find(buf, b"\n\n").map(|i| (i, 2));
        let crlf = find(buf, b"\r\n\r\n").map(|i| (i, 4));
        let (end, sep) = match (lf, crlf) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        let event = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + sep);
        if !event.trim().is_empty() {
            return Some(event);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The payload of an event's `data:` lines (joined by `\n`), if it has any.
pub fn sse_data(event: &str) -> Option<String> {
    let lines: Vec<&str> = event
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The `usage` of an OpenAI usage-only chunk (`data: {...,"choices":[],"usage":{...}}`),
/// if `event` is one: the event the gateway asks a provider for on behalf of a client
/// that did not, and takes out of that client's stream again.
pub fn usage_only(event: &str) -> Option<Value> {
    let data: Value = serde_json::from_str(&sse_data(event)?).ok()?;
    let no_choices = data["choices"].as_array().is_some_and(Vec::is_empty);
    (no_choices && data["usage"].is_object()).then(|| data["usage"].clone())
}

/// Asserts `event` is a well-formed Anthropic event, its `event:` line then one `data:`
/// line whose JSON `type` repeats the name, and returns both.
pub fn anthropic_event(event: &str) -> (String, Value) {
    let mut lines = event.lines();
    let name = lines.next().and_then(|l| l.strip_prefix("event: "));
    let name = name.unwrap_or_else(|| panic!("no `event:` line first: {event:?}"));
    let data = lines.next().and_then(|l| l.strip_prefix("data: "));
    let data = data.unwrap_or_else(|| panic!("no `data:` line after `event:`: {event:?}"));
    assert!(lines.next().is_none(), "extra lines: {event:?}");
    let data: Value = serde_json::from_str(data)
        .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {event}"));
    assert_eq!(data["type"], name, "{event}");
    (name.to_string(), data)
}

/// Asserts `event` is a Gemini stream frame, one `data:` line and no `event:`, holding a
/// JSON object (there is no `[DONE]`), and returns the object.
pub fn gemini_frame(event: &str) -> Value {
    let data = event.strip_prefix("data: ");
    let data = data.unwrap_or_else(|| panic!("not a data-only frame: {event:?}"));
    assert!(!data.contains('\n'), "one line per frame: {event:?}");
    let frame: Value =
        serde_json::from_str(data).unwrap_or_else(|e| panic!("frame is not JSON ({e}): {event}"));
    assert!(frame.is_object(), "{event}");
    frame
}

/// Asserts `body` is an OpenAI error envelope and returns its `error` object.
pub fn assert_openai_error(body: &Value) -> &Value {
    let error = body
        .get("error")
        .unwrap_or_else(|| panic!("not an OpenAI error envelope: {body}"));
    assert!(
        error["message"].is_string(),
        "error.message missing: {body}"
    );
    assert!(error["type"].is_string(), "error.type missing: {body}");
    for key in ["param", "code"] {
        assert!(error.get(key).is_some(), "error.{key} missing: {body}");
    }
    error
}
