//! Keys and usage outlive the process: a clean stop (SIGTERM) loses nothing, a
//! `kill -9` loses at most the last moment (the writer commits well within 1.5 s), and
//! a graceful upgrade under load counts every request exactly once, the old and the
//! new process sharing the store during the hand-over.

use super::{chat_text, rows, teams_yaml, Sums, ADMIN_KEY, ALICE_KEY};
use crate::support::{
    admin_call, chat_body, chat_stream_body, create_key_as, http_client, provider_yaml,
    try_read_sse_events, usage_report, wait_for_usage, Behaviour, Gateway, MockUpstream, Successor,
};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stopped gateway may take to exit (Pingora's grace period is 1 s in the
/// test config, plus 1 s to shut down).
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// Per request, every mock here reports 12 prompt tokens (2 cached) and 5 completion.
fn usage_mock() -> MockUpstream {
    MockUpstream::start(Behaviour::ok().usage(12, 5, 2))
}

fn times(n: u64) -> Sums {
    Sums {
        requests: n,
        prompt: 12 * n,
        completion: 5 * n,
        cached: 2 * n,
    }
}

#[tokio::test]
async fn keys_and_usage_survive_a_clean_restart() {
    let mock = usage_mock();
    let store = tempfile::tempdir().expect("store dir");
    let providers = provider_yaml("p1", &mock.base_url(), None, &["m1"]);
    let yaml = teams_yaml(Some(&store.path().join("teams.db")), "", &providers);
    let mut first = Gateway::builder(&yaml).admin_listen().start().await;
    let new_key = json!({ "name": "carol", "models": ["m1"], "rate_limit": { "rpm": 100 } });
    let carol = create_key_as(&first, ADMIN_KEY, &new_key).await;
    let carol = carol["key"].as_str().expect("the key").to_string();
    chat_text(&first, &chat_body("m1"), Some(&carol)).await;
    chat_text(&first, &chat_stream_body("m1"), Some(&carol)).await;
    chat_text(&first, &chat_body("m1"), Some(ALICE_KEY)).await;

    first.signal("TERM");
    let status = first.wait_exit(EXIT_TIMEOUT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "a clean stop: {status:?}"
    );

    let second = Gateway::builder(&yaml).admin_listen().start().await;
    chat_text(&second, &chat_body("m1"), Some(&carol)).await;
    let (status, view) = admin_call(&second, ADMIN_KEY, "GET", "/admin/keys/carol", None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (&view["source"], &view["models"]),
        (&json!("store"), &json!(["m1"]))
    );
    assert_eq!(view["rate_limit"]["rpm"], 100);
    let report = wait_for_usage(&second, "", Some(ADMIN_KEY), 4).await;
    let want = vec![
        ("alice".to_string(), times(1)),
        ("carol".to_string(), times(3)),
    ];
    assert_eq!(rows(&report), want, "{report}");
    assert_eq!(mock.posts(), 4);
}

#[tokio::test]
async fn twenty_requests_then_kill_9_after_1_5_s_are_all_in_usage_after_a_restart() {
    let mock = usage_mock();
    let store = tempfile::tempdir().expect("store dir");
    let providers = provider_yaml("p1", &mock.base_url(), None, &["m1"]);
    let yaml = teams_yaml(Some(&store.path().join("teams.db")), "", &providers);
    let first = Gateway::start(&yaml).await;
    let requests = (0..20).map(|i| {
        let body = if i % 2 == 0 {
            chat_body("m1")
        } else {
            chat_stream_body("m1")
        };
        let first = &first;
        async move { chat_text(first, &body, Some(ALICE_KEY)).await }
    });
    futures::future::join_all(requests).await;
    assert_eq!(mock.posts(), 20);

    // The rule under test: what was answered 1.5 s ago is on disk, whatever happens next.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut first = first;
    first.signal("KILL");
    let status = first.wait_exit(EXIT_TIMEOUT).await;
    assert!(status.is_some_and(|s| !s.success()), "killed: {status:?}");

    let second = Gateway::start(&yaml).await;
    let (status, report) = usage_report(&second, "", Some(ALICE_KEY)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        rows(&report),
        vec![("alice".to_string(), times(20))],
        "{report}"
    );
}

/// What the client loops of the upgrade test saw.
#[derive(Default)]
struct Tally {
    answered: u64,
    failures: Vec<String>,
}

/// One chat request as alice, whole or streamed: `Err(why)` unless it was answered in
/// full.
async fn one_request(
    client: &reqwest::Client,
    addr: SocketAddr,
    stream: bool,
) -> Result<(), String> {
    let body = if stream {
        chat_stream_body("m1")
    } else {
        chat_body("m1")
    };
    let sent = (client.post(format!("http://{addr}/v1/chat/completions")))
        .bearer_auth(ALICE_KEY)
        .json(&body)
        .send()
        .await;
    let response = sent.map_err(|e| format!("request error (stream: {stream}): {e:?}"))?;
    if response.status() != 200 {
        return Err(format!("status {} (stream: {stream})", response.status()));
    }
    if stream {
        let (events, error) = try_read_sse_events(response).await;
        let done = events.last().map(|(_, e)| e.as_str()) == Some("data: [DONE]");
        return match (done, error) {
            (true, None) => Ok(()),
            (_, error) => Err(format!(
                "incomplete stream: {} events, {error:?}",
                events.len()
            )),
        };
    }
    match response.json::<serde_json::Value>().await {
        Ok(v) if v["object"] == "chat.completion" => Ok(()),
        other => Err(format!("bad body: {other:?}")),
    }
}

/// Client loops (three whole, two streamed) sending to `addr` until `stop`.
fn load(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    [false, false, false, true, true]
        .into_iter()
        .map(|stream| {
            let (stop, tally) = (stop.clone(), tally.clone());
            tokio::spawn(async move {
                let client = http_client();
                while !stop.load(Ordering::Relaxed) {
                    let outcome = one_request(&client, addr, stream).await;
                    let mut t = tally.lock().unwrap();
                    match outcome {
                        Ok(()) => t.answered += 1,
                        Err(e) => t.failures.push(e),
                    }
                }
            })
        })
        .collect()
}

/// Polls until the load has had `n` answers in all.
async fn wait_answered(tally: &Mutex<Tally>, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally.lock().unwrap().answered < n {
        assert!(
            Instant::now() < deadline,
            "the load stalled before {n} answers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Access-log lines of chat requests in `stdout`.
fn chat_lines(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter(|l| l.contains("\"route\":\"chat\""))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_exact_across_a_graceful_upgrade_under_load() {
    // Whole answers for `m1`; streams of about 0.1 s for `s1`, so some are in flight
    // as the old process hands over and drains.
    let json = usage_mock();
    let sse = MockUpstream::start(Behaviour::sse(5, Duration::from_millis(20)).usage(12, 5, 2));
    // The default store, beside gateway.yaml: the successor runs in the same dir.
    let providers = provider_yaml("p1", &json.base_url(), None, &["m1"])
        + &provider_yaml("p2", &sse.base_url(), None, &["s1"]);
    let mut old = Gateway::start(&teams_yaml(None, "", &providers)).await;
    let (stop, tally) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(Mutex::new(Tally::default())),
    );
    let tasks = load(old.addr(), stop.clone(), tally.clone());
    wait_answered(&tally, 20).await;

    let mut new = Successor::start(&old, &[]);
    old.signal("QUIT");
    let status = old.wait_exit(EXIT_TIMEOUT).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "the old process left cleanly: {status:?}"
    );
    let handed_over = tally.lock().unwrap().answered;
    wait_answered(&tally, handed_over + 20).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(new.exited(), None, "the successor serves on");
    let answered = {
        let t = tally.lock().unwrap();
        let failures = &t.failures;
        assert!(
            failures.is_empty(),
            "{} failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        t.answered
    };

    // `old`'s address is the successor's now (the socket was handed over).
    let report = wait_for_usage(&old, "", Some(ALICE_KEY), answered).await;
    assert_eq!(
        rows(&report),
        vec![("alice".to_string(), times(answered))],
        "{report}"
    );
    let upstream_calls = (json.posts() + sse.posts()) as u64;
    assert_eq!(upstream_calls, answered, "one upstream call per answer");
    let deadline = Instant::now() + Duration::from_secs(5);
    let (by_old, by_new) = loop {
        let (by_old, by_new) = (chat_lines(&old.stdout()), chat_lines(&new.stdout()));
        if by_old + by_new >= answered || Instant::now() >= deadline {
            break (by_old, by_new);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(by_old + by_new, answered, "one access-log line per answer");
    assert!(
        by_old > 0 && by_new > 0,
        "both processes served: {by_old} old, {by_new} new"
    );
}
