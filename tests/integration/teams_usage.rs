//! Exact usage per key (issue 14): the usage-only chunk asked for upstream and kept
//! from a client that did not ask (byte comparison with what the mock sent), and
//! `/v1/usage` totals equal to what the upstreams reported, per key and group, each
//! key seeing only its own. Cost and the per-key metrics are in `cost`, durability
//! across a restart, a `kill -9` and a graceful upgrade in `durability`, and no key
//! plaintext anywhere a user or operator can look in `secrets`.

mod cost;
mod durability;
mod secrets;

use crate::support::{
    assert_openai_error, chat_body, chat_stream_body, provider_yaml, usage_only, usage_report,
    wait_for_usage, Behaviour, Gateway, MockUpstream,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const CHAT: &str = "/v1/chat/completions";
const ADMIN_KEY: &str = "adm-usage-test-0123456789";
const ALICE_KEY: &str = "gw-alice-usage-secret-0001";
const BOB_KEY: &str = "gw-bob-usage-secret-0002";

/// gateway.yaml: the admin key, file keys `alice` and `bob` (plus `extra_keys`, YAML
/// list entries), the store at `store` (default: beside gateway.yaml), then
/// `providers` (entries of the `providers:` list).
fn teams_yaml(store: Option<&Path>, extra_keys: &str, providers: &str) -> String {
    let store = store.map_or(String::new(), |p| {
        format!("store: \"sqlite:{}\"\n", p.display())
    });
    format!(
        "auth:\n  admin_key: \"{ADMIN_KEY}\"\n  keys:\n\
         \x20   - {{ name: alice, key: \"{ALICE_KEY}\" }}\n\
         \x20   - {{ name: bob, key: \"{BOB_KEY}\" }}\n{extra_keys}{store}providers:\n{providers}"
    )
}

/// The request, prompt, completion and cached token counts of a usage row, or of the
/// usage objects upstreams reported.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sums {
    requests: u64,
    prompt: u64,
    completion: u64,
    cached: u64,
}

impl Sums {
    /// One request that reported OpenAI's `usage` object.
    fn reported(usage: &Value) -> Sums {
        let n = |v: &Value| {
            v.as_u64()
                .unwrap_or_else(|| panic!("not a count in {usage}"))
        };
        Sums {
            requests: 1,
            prompt: n(&usage["prompt_tokens"]),
            completion: n(&usage["completion_tokens"]),
            cached: usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
        }
    }

    /// A `/v1/usage` row or total.
    fn of_row(row: &Value) -> Sums {
        let n = |f: &str| row[f].as_u64().unwrap_or_else(|| panic!("no {f} in {row}"));
        Sums {
            requests: n("requests"),
            prompt: n("prompt_tokens"),
            completion: n("completion_tokens"),
            cached: n("cached_tokens"),
        }
    }

    fn add(&mut self, other: Sums) {
        self.requests += other.requests;
        self.prompt += other.prompt;
        self.completion += other.completion;
        self.cached += other.cached;
    }
}

/// A report's rows as (group value, sums), in its order.
fn rows(report: &Value) -> Vec<(String, Sums)> {
    let group = report["group_by"].as_str().expect("group_by");
    let rows = report["rows"].as_array().expect("rows");
    rows.iter()
        .map(|row| {
            let value = row[group].as_str().unwrap_or_else(|| panic!("{row}"));
            (value.to_string(), Sums::of_row(row))
        })
        .collect()
}

/// The index and body of the last POST `mock` received.
fn last_post(mock: &MockUpstream) -> (usize, Value) {
    let requests = mock.requests();
    let i = (requests.iter().rposition(|r| r.method == "POST")).expect("a POST upstream");
    (i, requests[i].json())
}

/// The SSE events `mock` sent for request `index`, once its `[DONE]` is recorded (the
/// mock records an event just after writing it).
async fn sent_stream(mock: &MockUpstream, index: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events: Vec<String> = (mock.sent_events().into_iter())
            .filter(|e| e.request == index)
            .map(|e| e.event)
            .collect();
        if events.last().map(String::as_str) == Some("data: [DONE]") {
            return events;
        }
        assert!(Instant::now() < deadline, "stream not finished: {events:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Events as they are on the wire: each followed by its blank line.
fn sse_bytes<'a>(events: impl IntoIterator<Item = &'a String>) -> String {
    events.into_iter().map(|e| format!("{e}\n\n")).collect()
}

/// POSTs `body` to the chat route (with `key`, if any); asserts a 200 and returns
/// the whole body as text.
async fn chat_text(gw: &Gateway, body: &Value, key: Option<&str>) -> String {
    let response = match key {
        Some(key) => gw.post_json_with_key(CHAT, body, key).await,
        None => gw.post_json(CHAT, body).await,
    };
    assert_eq!(response.status(), 200, "{body}");
    response.text().await.expect("response body")
}

#[tokio::test]
async fn the_usage_only_chunk_is_asked_for_upstream_and_kept_from_a_client_that_did_not_ask() {
    let stream = || Behaviour::sse(3, Duration::ZERO).usage(21, 3, 4);
    let (compat, mistral) = (MockUpstream::start(stream()), MockUpstream::start(stream()));
    let yaml = format!(
        "providers:\n{}  - id: mis\n    type: mistral\n    base_url: {}\n    \
         api_key: sk-mistral-test\n    models: [mistral-small]\n",
        provider_yaml("compat", &compat.base_url(), None, &["s1"]),
        mistral.base_url()
    );
    let gw = Gateway::start(&yaml).await;

    // Not asked: asked for upstream, and that one event taken out of the client's bytes.
    let body = chat_stream_body("s1");
    let got = chat_text(&gw, &body, None).await;
    let (i, mut upstream) = last_post(&compat);
    assert_eq!(upstream["stream_options"], json!({ "include_usage": true }));
    upstream.as_object_mut().unwrap().remove("stream_options");
    assert_eq!(upstream, body, "nothing else changed upstream");
    let events = sent_stream(&compat, i).await;
    let usage_events = events.iter().filter(|e| usage_only(e).is_some()).count();
    assert_eq!(usage_events, 1, "the mock sent its usage chunk: {events:?}");
    let expected = sse_bytes(events.iter().filter(|e| usage_only(e).is_none()));
    assert_eq!(got, expected, "every other byte unchanged");

    // Asked: the request and the stream go through as they are.
    let mut asked = chat_stream_body("s1");
    asked["stream_options"] = json!({ "include_usage": true });
    let got = chat_text(&gw, &asked, None).await;
    let (i, upstream) = last_post(&compat);
    assert_eq!(upstream, asked);
    assert_eq!(got, sse_bytes(&sent_stream(&compat, i).await));

    // A provider type that does not take `stream_options` is not sent it, and what it
    // sends unasked is the client's.
    let body = chat_stream_body("mistral-small");
    let got = chat_text(&gw, &body, None).await;
    let (i, upstream) = last_post(&mistral);
    assert_eq!(upstream, body, "no stream_options for mistral");
    assert_eq!(got, sse_bytes(&sent_stream(&mistral, i).await));
    assert_eq!((compat.posts(), mistral.posts()), (2, 1));

    // Both streams through `compat` are counted exactly, asked or not.
    let report = wait_for_usage(&gw, "group_by=instance", None, 3).await;
    let compat_row = rows(&report).into_iter().find(|(id, _)| id == "compat");
    let want = Sums {
        requests: 2,
        prompt: 42,
        completion: 6,
        cached: 8,
    };
    assert_eq!(compat_row, Some(("compat".to_string(), want)), "{report}");
}

/// One request's facts, for grouping the expected usage like `/v1/usage` does.
#[derive(Clone, Copy)]
struct Sent {
    key: &'static str,
    model: &'static str,
    instance: &'static str,
    reported: Sums,
}

impl Sent {
    /// Its value for `group_by=group` (all sent today, UTC).
    fn group(&self, group: &str) -> String {
        match group {
            "key" => self.key.to_string(),
            "model" => self.model.to_string(),
            "instance" => self.instance.to_string(),
            "day" => (jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC))
                .date()
                .to_string(),
            _ => panic!("no group_by={group}"),
        }
    }
}

/// The sums of `sent` grouped like `group_by=group`, in the group values' order.
fn grouped(sent: &[Sent], group: &str) -> Vec<(String, Sums)> {
    let mut groups: BTreeMap<String, Sums> = BTreeMap::new();
    for s in sent {
        groups.entry(s.group(group)).or_default().add(s.reported);
    }
    groups.into_iter().collect()
}

/// Sends one chat request as `key` (streamed or not) and returns the usage the
/// upstream reported: the body's `usage`, or for a stream, the usage-only chunk the
/// mock sent (which the client, not having asked, must not see).
async fn reported_usage(
    gw: &Gateway,
    key: &str,
    model: &str,
    stream: bool,
    mock: &MockUpstream,
) -> Sums {
    if !stream {
        let text = chat_text(gw, &chat_body(model), Some(key)).await;
        let body: Value = serde_json::from_str(&text).expect("a chat.completion");
        return Sums::reported(&body["usage"]);
    }
    let text = chat_text(gw, &chat_stream_body(model), Some(key)).await;
    assert!(
        !text.contains("\"usage\""),
        "usage leaked to the client: {text}"
    );
    let (i, _) = last_post(mock);
    let events = sent_stream(mock, i).await;
    let usage = events.iter().find_map(|e| usage_only(e));
    Sums::reported(&usage.unwrap_or_else(|| panic!("no usage chunk sent: {events:?}")))
}

#[tokio::test]
async fn usage_totals_equal_the_upstreams_usage_per_key_model_instance_and_day() {
    let p1 = MockUpstream::start(Behaviour::ok().usage(100, 20, 30));
    let p2 = MockUpstream::start(Behaviour::ok().usage(40, 7, 5));
    let providers = provider_yaml("p1", &p1.base_url(), None, &["m1"])
        + &provider_yaml("p2", &p2.base_url(), None, &["s1"]);
    let gw = Gateway::builder(&teams_yaml(None, "", &providers))
        .admin_listen()
        .start()
        .await;
    let plan = [
        ("alice", ALICE_KEY, "m1", false),
        ("alice", ALICE_KEY, "m1", false),
        ("alice", ALICE_KEY, "s1", true),
        ("bob", BOB_KEY, "m1", true),
        ("bob", BOB_KEY, "s1", false),
        ("bob", BOB_KEY, "s1", false),
    ];
    let mut sent = Vec::new();
    for (name, key, model, stream) in plan {
        let (mock, instance) = if model == "m1" {
            (&p1, "p1")
        } else {
            (&p2, "p2")
        };
        let reported = reported_usage(&gw, key, model, stream, mock).await;
        sent.push(Sent {
            key: name,
            model,
            instance,
            reported,
        });
    }
    assert_eq!((p1.posts(), p2.posts()), (3, 3));

    // The admin key sees everyone, grouped each way; nothing is priced here.
    let report = wait_for_usage(&gw, "", Some(ADMIN_KEY), 6).await;
    assert_eq!(
        (&report["object"], &report["group_by"]),
        (&json!("usage"), &json!("key"))
    );
    assert_eq!(rows(&report), grouped(&sent, "key"));
    let mut total = Sums::default();
    sent.iter().for_each(|s| total.add(s.reported));
    assert_eq!(Sums::of_row(&report["total"]), total);
    assert_eq!(report["total"]["cost_usd"], 0.0);
    for group in ["model", "instance", "day"] {
        let (status, report) =
            usage_report(&gw, &format!("group_by={group}"), Some(ADMIN_KEY)).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(rows(&report), grouped(&sent, group), "group_by={group}");
        assert_eq!(Sums::of_row(&report["total"]), total, "group_by={group}");
    }

    // A team key sees only its own rows: bob cannot see alice, nor alice bob.
    for (name, key) in [("alice", ALICE_KEY), ("bob", BOB_KEY)] {
        let own: Vec<Sent> = sent.iter().filter(|s| s.key == name).copied().collect();
        let (_, report) = usage_report(&gw, "", Some(key)).await;
        assert_eq!(rows(&report), grouped(&own, "key"), "{name}: {report}");
        let (_, report) = usage_report(&gw, "group_by=model", Some(key)).await;
        assert_eq!(rows(&report), grouped(&own, "model"), "{name}: {report}");
        assert_eq!(Sums::of_row(&report["total"]), grouped(&own, "key")[0].1);
    }

    // Bounds select by time: a day long past has nothing.
    let (status, report) =
        usage_report(&gw, "from=2000-01-01&to=2000-01-02", Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (Sums::of_row(&report["total"]), rows(&report)),
        (Sums::default(), vec![])
    );

    for bad in [
        "group_by=user",
        "from=yesterday",
        "from=2026-11-05&to=2026-11-01",
    ] {
        let (status, body) = usage_report(&gw, bad, Some(ADMIN_KEY)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(assert_openai_error(&body)["code"], "invalid_query", "{bad}");
    }
    for (key, code) in [
        (None, "missing_api_key"),
        (Some("gw-not-a-key"), "invalid_api_key"),
    ] {
        let (status, body) = usage_report(&gw, "", key).await;
        assert_eq!(status, 401, "{key:?}: {body}");
        assert_eq!(assert_openai_error(&body)["code"], code);
    }
}
