//! Self-test of the mock upstream's Responses dialect (`.../responses`, what a native
//! `type: openai` provider is asked), driven directly with reqwest, no gateway involved.
//! Expected payloads follow OpenAI's documented Response object and stream events,
//! written out here rather than taken from the support code.

use crate::support::{
    anthropic_event, http_client, read_sse_events, try_read_sse_events, Behaviour, MockUpstream,
    MOCK_PROMPT_TOKENS,
};
use serde_json::{json, Value};
use std::time::Duration;

const RESPONSES: &str = "/v1/responses";

fn body(stream: bool) -> Value {
    json!({ "model": "gpt-x", "input": "Say hello.", "stream": stream })
}

async fn post(mock: &MockUpstream, body: &Value) -> reqwest::Response {
    (http_client()
        .post(mock.url(RESPONSES))
        .json(body)
        .send()
        .await)
        .expect("mock answers")
}

/// Each event's `event:` name and data (framed as Anthropic frames its events: the name,
/// then one `data:` line whose `type` repeats it), numbered from 0.
async fn events(response: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let received = read_sse_events(response).await;
    let events: Vec<_> = received.iter().map(|(_, e)| anthropic_event(e)).collect();
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str(), "{data}");
        assert_eq!(data["sequence_number"], i, "numbered from 0: {data}");
    }
    events
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn responses_whole_reply_is_a_completed_response_with_one_message() {
    let mock = MockUpstream::start(Behaviour::ok().content("hi there").usage(30, 7, 12));
    let response = post(&mock, &body(false)).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("json");
    assert!(reply["id"].as_str().expect("id").starts_with("resp_"));
    assert_eq!(reply["object"], "response");
    assert_eq!(reply["status"], "completed");
    assert_eq!(reply["model"], "gpt-x");
    let message = &reply["output"][0];
    assert!(message["id"].as_str().expect("id").starts_with("msg_"));
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["status"], "completed");
    let text = json!([{ "type": "output_text", "text": "hi there", "annotations": [],
                        "logprobs": [] }]);
    assert_eq!(message["content"], text);
    let usage = json!({ "input_tokens": 30, "input_tokens_details": { "cached_tokens": 12 },
                        "output_tokens": 7, "output_tokens_details": { "reasoning_tokens": 0 },
                        "total_tokens": 37 });
    assert_eq!(reply["usage"], usage);

    // Without a model: OpenAI's 400; a status behaviour: OpenAI's envelope.
    let response = post(&mock, &json!({ "input": "hi" })).await;
    assert_eq!(response.status(), 400);
    mock.set_behaviour(Behaviour::status(400).error_message("bad input"));
    let response = post(&mock, &body(false)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["message"], "bad input");
    assert_eq!(error["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn responses_stream_has_every_event_in_order_numbered_and_paced() {
    let mock = MockUpstream::start(Behaviour::sse(3, Duration::from_millis(50)));
    let events = events(post(&mock, &body(true)).await).await;
    let delta = "response.output_text.delta";
    let order = [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        delta,
        delta,
        delta,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ];
    assert_eq!(names(&events), order);
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    let item = &events[2].1["item"];
    assert_eq!(item["content"], json!([]));
    let item_id = item["id"].clone();
    for (_, data) in &events[2..10] {
        assert_eq!(data["output_index"], 0, "{data}");
    }
    for (_, data) in &events[3..9] {
        assert_eq!(data["item_id"], item_id, "{data}");
        assert_eq!(data["content_index"], 0, "{data}");
    }
    let text: String = (events.iter().filter(|(n, _)| n == delta))
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_string())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert_eq!(events[7].1["text"], text);
    assert_eq!(events[9].1["item"]["content"][0]["text"], text);
    let completed = &events[10].1["response"];
    assert_eq!(completed["id"], created["id"], "one response id throughout");
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["id"], item_id);
    assert_eq!(completed["usage"]["input_tokens"], MOCK_PROMPT_TOKENS);
    assert_eq!(completed["usage"]["output_tokens"], 3);
    // Paced: the send instants are 50 ms apart.
    let sent = mock.sent_events();
    assert_eq!(sent.len(), order.len());
    let span = sent[sent.len() - 1].at - sent[0].at;
    assert!(span >= Duration::from_millis(50 * 10), "{span:?}");
}

#[tokio::test]
async fn responses_tool_call_is_a_function_call_item_whole_and_streamed() {
    let args = json!({ "city": "Paris" });
    let mock = MockUpstream::start(Behaviour::tool_call("get_weather", args.clone()));
    let reply: Value = (post(&mock, &body(false)).await.json().await).expect("json");
    let call = &reply["output"][0];
    assert_eq!(call["type"], "function_call");
    assert!(call["id"].as_str().expect("id").starts_with("fc_"));
    assert!(call["call_id"]
        .as_str()
        .expect("call_id")
        .starts_with("call_"));
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], args.to_string());
    assert_eq!(call["status"], "completed");

    let events = events(post(&mock, &body(true)).await).await;
    let added = &events[2].1["item"];
    assert_eq!(added["arguments"], "");
    let fragments: Vec<&str> = (events.iter())
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta"))
        .collect();
    assert!(fragments.len() > 1, "{fragments:?}");
    assert_eq!(fragments.concat(), args.to_string());
    let done = events
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .expect("arguments done");
    assert_eq!(done.1["arguments"], args.to_string());
    assert_eq!(done.1["name"], "get_weather");
    let names = names(&events);
    assert_eq!(
        names[names.len() - 2..],
        ["response.output_item.done", "response.completed"]
    );
    let completed = &events[events.len() - 1].1["response"]["output"][0];
    assert_eq!(completed["call_id"], added["call_id"]);
}

#[tokio::test]
async fn responses_cut_after_k_deltas_ends_without_completed() {
    let mock = MockUpstream::start(Behaviour::cut_after(2));
    let response = post(&mock, &body(true)).await;
    let (received, _) = try_read_sse_events(response).await;
    let names: Vec<String> = received.iter().map(|(_, e)| anthropic_event(e).0).collect();
    let deltas = names.iter().filter(|n| *n == "response.output_text.delta");
    assert_eq!(deltas.count(), 2, "{names:?}");
    assert_eq!(
        names.last().map(String::as_str),
        Some("response.output_text.delta")
    );
}
