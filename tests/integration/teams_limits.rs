//! Team keys held to their limits (issue 14), against the real binary, each rule by
//! name: `rpm` and `tpm` with OpenAI's `x-ratelimit-*` headers, `per_ip.rpm` before
//! authentication, and budgets; the admin API (`admin_api`: create, list, change,
//! revoke on every worker, expiry, instance reset); `modelgate keys` and the config
//! mistakes `-t` reports (`command_line`). Every refusal is checked to cost no
//! upstream call (mock hit counts). Waits are polls with deadlines; nothing sleeps to
//! synchronise.

mod admin_api;
mod command_line;

use crate::support::*;
use reqwest::{Method, Response};
use serde_json::Value;

const CHAT: &str = "/v1/chat/completions";
const MESSAGES: &str = "/v1/messages";
/// The gateway key of the file's team key `alice`.
const ALICE: &str = "sk-team-alice-0123";

/// A gateway with the admin API on (`admin_listen`, [`ADMIN_KEY`]) in front of one
/// instance `p1` (the mock, serving `m1` and `m2`, priced by `price`: a YAML value,
/// "" for none). `auth` is more of the `auth:` block (indented two spaces): keys,
/// `per_ip`.
async fn rig(auth: &str, behaviour: Behaviour, price: &str) -> (Gateway, MockUpstream) {
    let up = MockUpstream::start(behaviour);
    let price = match price {
        "" => String::new(),
        p => format!(", price: {p}"),
    };
    let yaml = format!(
        "auth:\n  admin_key: \"{ADMIN_KEY}\"\n{auth}providers:\n\
         \x20 - {{ id: p1, type: openai-compatible, base_url: \"{}\", models: [m1, m2]{price} }}\n",
        up.base_url()
    );
    let gw = start_with_admin(Gateway::builder(&yaml)).await;
    (gw, up)
}

/// `auth.keys` with `alice` ([`ALICE`]) holding `settings` (`, rate_limit: {...}`).
fn alice(settings: &str) -> String {
    format!("  keys:\n    - {{ name: alice, key: \"{ALICE}\"{settings} }}\n")
}

async fn chat(gw: &Gateway, model: &str, key: &str) -> Response {
    gw.post_json_with_key(CHAT, &chat_body(model), key).await
}

/// Asserts `response` is `status` with an OpenAI envelope of `code`; returns `error`.
async fn refused(response: Response, status: u16, code: &str) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(actual, status, "{body}");
    let error = assert_openai_error(&body).clone();
    assert_eq!(error["code"], code, "{body}");
    error
}

/// `Retry-After` in seconds; panics if it is missing or not a number.
fn retry_after(response: &Response) -> u64 {
    let value = header(response, "retry-after").expect("Retry-After");
    value.parse().expect("Retry-After in seconds")
}

/// The `x-ratelimit-*-{kind}` headers: (limit, remaining, reset in seconds).
fn rate_headers(response: &Response, kind: &str) -> (String, String, f64) {
    let get = |name: &str| {
        let name = format!("x-ratelimit-{name}-{kind}");
        let value = header(response, &name);
        value.unwrap_or_else(|| panic!("no {name}")).to_string()
    };
    (get("limit"), get("remaining"), reset_secs(&get("reset")))
}

#[tokio::test]
async fn rpm_refuses_past_the_limit_with_openai_headers_and_no_upstream_call() {
    let auth = alice(", rate_limit: { rpm: 3 }");
    let (gw, up) = rig(&auth, Behaviour::chat_ok(), "").await;
    for remaining in ["2", "1", "0"] {
        let r = chat(&gw, "m1", ALICE).await;
        assert_eq!(r.status(), 200);
        let (limit, left, reset) = rate_headers(&r, "requests");
        assert_eq!((limit.as_str(), left.as_str()), ("3", remaining));
        assert!(reset > 0.0 && reset <= 60.0, "reset {reset}");
        assert!(
            header(&r, "x-ratelimit-limit-tokens").is_none(),
            "no tpm set"
        );
    }
    let r = chat(&gw, "m1", ALICE).await;
    // One request refills every 20 s; the bucket is full again in a minute.
    assert!((1..=20).contains(&retry_after(&r)), "{:?}", r.headers());
    let (limit, left, reset) = rate_headers(&r, "requests");
    assert_eq!((limit.as_str(), left.as_str()), ("3", "0"));
    assert!(reset > 40.0 && reset <= 60.0, "reset {reset}");
    let error = refused(r, 429, "rate_limit_exceeded").await;
    assert_eq!(error["type"], "requests");

    // The Anthropic route answers in the Anthropic envelope, with the same headers.
    let r = (gw.client().post(gw.url(MESSAGES)))
        .header("x-api-key", ALICE)
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic_body("m1", false))
        .send()
        .await
        .expect("POST /v1/messages");
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r) >= 1);
    assert_eq!(rate_headers(&r, "requests").0, "3");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(up.posts(), 3, "no upstream call for a refused request");
    let text = wait_requests_done(&gw).await;
    let rejected = [("key", "alice"), ("reason", "rpm")];
    let rejections = metric(&text, "modelgate_limit_rejections_total", &rejected);
    assert_eq!(rejections, Some(2.0), "{text}");
}

#[tokio::test]
async fn tpm_admits_while_tokens_are_left_and_charges_the_real_usage() {
    let auth = alice(", rate_limit: { tpm: 20 }");
    // Each reply reports 30 + 10 tokens: twice the key's minute in one request.
    let (gw, up) = rig(&auth, Behaviour::chat_ok().usage(30, 10, 0), "").await;
    let r = chat(&gw, "m1", ALICE).await;
    assert_eq!(
        r.status(),
        200,
        "a full bucket admits, whatever the request costs"
    );
    let (limit, left, _) = rate_headers(&r, "tokens");
    assert_eq!(
        (limit.as_str(), left.as_str()),
        ("20", "20"),
        "charged at the end"
    );
    assert!(
        header(&r, "x-ratelimit-limit-requests").is_none(),
        "no rpm set"
    );
    wait_requests_done(&gw).await;

    let r = chat(&gw, "m1", ALICE).await;
    // 40 tokens at 3 s each put the bucket 120 s deep: 60 s into debt, plus 3 s
    // for one token to fit, less the moments between the two requests. A charge of
    // the prompt or the completion alone would leave a wait of 33 s or none.
    let wait = retry_after(&r);
    assert!((55..=63).contains(&wait), "Retry-After {wait}");
    let (limit, left, reset) = rate_headers(&r, "tokens");
    assert_eq!((limit.as_str(), left.as_str()), ("20", "0"));
    assert!(reset > 112.0 && reset <= 120.0, "reset {reset}");
    let error = refused(r, 429, "rate_limit_exceeded").await;
    assert_eq!(error["type"], "tokens");
    assert_eq!(up.posts(), 1, "no upstream call for a refused request");
}

#[tokio::test]
async fn per_ip_rpm_refuses_an_address_before_its_key_is_looked_at() {
    let auth = format!("  per_ip: {{ rpm: 3 }}\n{}", alice(""));
    let (gw, up) = rig(&auth, Behaviour::chat_ok(), "").await;
    assert_eq!(chat(&gw, "m1", ALICE).await.status(), 200);
    refused(
        gw.post_json(CHAT, &chat_body("m1")).await,
        401,
        "missing_api_key",
    )
    .await;
    refused(chat(&gw, "m1", "sk-wrong").await, 401, "invalid_api_key").await;
    // 127.0.0.1 has used its 3 (refused ones count): whoever asks now gets the 429,
    // not a 401, and a good key is no way around it.
    for key in [None, Some("sk-wrong"), Some(ALICE)] {
        let url = gw.url(CHAT);
        let r = post_json(gw.client(), &url, &chat_body("m1"), key).await;
        assert!((1..=20).contains(&retry_after(&r)), "{key:?}");
        assert_eq!(header(&r, "connection"), Some("close"), "{key:?}");
        let error = refused(r, 429, "rate_limit_exceeded").await;
        assert_eq!(error["type"], "rate_limit_error");
    }
    let r = (gw.client().get(gw.url("/v1/models")))
        .bearer_auth(ALICE)
        .send()
        .await
        .expect("GET /v1/models");
    assert_eq!(r.status(), 429, "every path but /health");
    for _ in 0..5 {
        assert_eq!(
            gw.get("/health").await.status(),
            200,
            "/health is never limited"
        );
    }
    assert_eq!(up.posts(), 1, "no upstream call for a refused request");
}

/// Seconds from now until the next UTC midnight (`daily`) or the next first of the
/// month (`monthly`).
fn secs_until_next(period: &str) -> i64 {
    use jiff::{tz::TimeZone, ToSpan};
    let now = jiff::Timestamp::now();
    let today = now.to_zoned(TimeZone::UTC).date();
    let next = match period {
        "daily" => today.checked_add(1.day()),
        _ => today.first_of_month().checked_add(1.month()),
    };
    let next = next.expect("a date").to_zoned(TimeZone::UTC).expect("UTC");
    next.timestamp().as_second() - now.as_second()
}

#[tokio::test]
async fn a_reached_budget_refuses_with_insufficient_quota_until_the_period_rolls_over() {
    let auth = "  keys:\n\
        \x20   - { name: alice, key: \"sk-alice-budget\", budget: { usd: 0.01, period: monthly } }\n\
        \x20   - { name: bob, key: \"sk-bob-budget\", budget: { usd: 0, period: daily } }\n\
        \x20   - { name: carol, key: \"sk-carol-budget\", budget: { usd: 0, period: total } }\n";
    // 10 + 5 tokens at $1000 per million: $0.015 a request, over alice's $0.01.
    let price = "{ input: 1000, output: 1000 }";
    let (gw, up) = rig(auth, Behaviour::chat_ok().usage(10, 5, 0), price).await;
    assert_eq!(chat(&gw, "m1", "sk-alice-budget").await.status(), 200);
    wait_requests_done(&gw).await;
    let (_, view) = admin(&gw, Method::GET, "/admin/keys/alice", None).await;
    let spent = view["budget"]["spent_usd"].as_f64().expect("spent_usd");
    assert!((spent - 0.015).abs() < 1e-9, "{view}");

    let r = chat(&gw, "m1", "sk-alice-budget").await;
    let wait = retry_after(&r) as i64;
    let expected = secs_until_next("monthly");
    assert!((wait - expected).abs() <= 5, "{wait} s, not {expected} s");
    let error = refused(r, 429, "insufficient_quota").await;
    assert_eq!(error["type"], "insufficient_quota");

    // A budget of 0 refuses the first request.
    let r = chat(&gw, "m1", "sk-bob-budget").await;
    let wait = retry_after(&r) as i64;
    let expected = secs_until_next("daily");
    assert!((wait - expected).abs() <= 5, "{wait} s, not {expected} s");
    refused(r, 429, "insufficient_quota").await;
    // A `total` budget never rolls over: nothing to wait for.
    let r = chat(&gw, "m1", "sk-carol-budget").await;
    assert!(header(&r, "retry-after").is_none(), "{:?}", r.headers());
    refused(r, 429, "insufficient_quota").await;
    assert_eq!(up.posts(), 1, "no upstream call for a refused request");
}
