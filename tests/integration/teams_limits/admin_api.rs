//! The admin API on `admin_listen`: the admin key, the API off without one, keys
//! created, listed, changed and revoked (a revocation seen by the next request of
//! every kept-alive connection of a 2-thread server), expiry, and an instance's
//! cooldown reset.

use super::{alice, chat, rate_headers, refused, rig, ALICE, CHAT};
use crate::support::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Asserts an admin call answered `status` with error code `code`.
fn assert_admin_error((status, reply): (u16, Value), expected: u16, code: &str) {
    assert_eq!(status, expected, "{reply}");
    assert_eq!(reply["error"]["code"], code, "{reply}");
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_key() {
    let (gw, _up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    for key in [None, Some("wrong-admin-key-0123456789"), Some(ALICE)] {
        let (status, body) = admin_as(&gw, key, Method::GET, "/admin/keys", None).await;
        assert_eq!(status, 401, "{key:?}");
        assert_eq!(assert_openai_error(&body)["code"], "invalid_api_key");
        let reset = "/admin/instances/p1/reset";
        let (status, _) = admin_as(&gw, key, Method::POST, reset, None).await;
        assert_eq!(status, 401, "{key:?}");
    }
}

#[tokio::test]
async fn without_an_admin_key_the_admin_api_is_off() {
    let up = MockUpstream::start(Behaviour::chat_ok());
    let yaml = format!(
        "auth:\n{}providers:\n  - {{ id: p1, type: openai-compatible, base_url: \"{}\", models: [m1] }}\n",
        alice(""),
        up.base_url()
    );
    let gw = start_with_admin(Gateway::builder(&yaml)).await;
    let create = json!({ "name": "dev" });
    let (status, _) = admin(&gw, Method::POST, "/admin/keys", Some(&create)).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&gw, Method::GET, "/admin/keys", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&gw, Method::POST, "/admin/instances/p1/reset", None).await;
    assert_eq!(status, 404);
    assert!(metrics_text(&gw).await.contains("modelgate_requests_total"));
}

#[tokio::test]
async fn created_keys_work_at_once_and_change_with_patch() {
    let (gw, up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    let body = json!({ "name": "dev-team", "models": ["m1"], "rate_limit": { "rpm": 100 } });
    let (status, created) = admin(&gw, Method::POST, "/admin/keys", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("the key, once").to_string();
    let hex = key.strip_prefix("mg-").expect("mg- prefix");
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    assert_eq!(created["source"], "store");
    assert_eq!(created["models"], json!(["m1"]));
    assert_eq!(created["rate_limit"], json!({ "rpm": 100, "tpm": null }));
    assert_eq!(created["budget"], Value::Null);
    assert!(created["created_at"].is_string(), "{created}");

    let r = chat(&gw, "m1", &key).await;
    assert_eq!(r.status(), 200, "works on the next request");
    assert_eq!(rate_headers(&r, "requests").0, "100");
    refused(chat(&gw, "m2", &key).await, 403, "model_not_allowed").await;

    let (status, listed) = admin(&gw, Method::GET, "/admin/keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["object"], "list");
    let sources: Vec<(&str, &str)> = (listed["data"].as_array().expect("data").iter())
        .map(|k| (k["name"].as_str().unwrap(), k["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("alice", "file"), ("dev-team", "store")]);
    let (status, one) = admin(&gw, Method::GET, "/admin/keys/dev-team", None).await;
    assert_eq!((status, &one["models"]), (200, &json!(["m1"])));
    for view in [&listed, &one] {
        let text = view.to_string();
        assert!(
            !text.contains(&key) && !text.contains(ALICE),
            "a secret: {text}"
        );
        assert!(!text.contains("\"key\""), "{text}");
    }

    let patch = json!({ "models": ["m2"], "rate_limit": { "rpm": 5 } });
    let (status, changed) = admin(&gw, Method::PATCH, "/admin/keys/dev-team", Some(&patch)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["rate_limit"], json!({ "rpm": 5, "tpm": null }));
    let r = chat(&gw, "m2", &key).await;
    assert_eq!(r.status(), 200);
    let (limit, left, _) = rate_headers(&r, "requests");
    assert_eq!((limit.as_str(), left.as_str()), ("5", "4"), "a fresh limit");
    refused(chat(&gw, "m1", &key).await, 403, "model_not_allowed").await;
    let clear = json!({ "rate_limit": null });
    let (status, _) = admin(&gw, Method::PATCH, "/admin/keys/dev-team", Some(&clear)).await;
    assert_eq!(status, 200);
    let r = chat(&gw, "m2", &key).await;
    assert_eq!(r.status(), 200);
    assert!(
        header(&r, "x-ratelimit-limit-requests").is_none(),
        "cleared"
    );
    assert_eq!(up.posts(), 3, "refused requests never went upstream");
    assert!(!gw.logs().contains(&key), "the key was logged");
}

#[tokio::test]
async fn the_admin_api_refuses_duplicates_file_keys_and_bad_bodies() {
    let (gw, _up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    create_key(&gw, &json!({ "name": "dev" })).await;
    let keys = "/admin/keys";
    for name in ["dev", "alice"] {
        let body = json!({ "name": name });
        assert_admin_error(
            admin(&gw, Method::POST, keys, Some(&body)).await,
            409,
            "name_taken",
        );
    }
    let patch = json!({ "rate_limit": { "rpm": 1 } });
    assert_admin_error(
        admin(&gw, Method::PATCH, "/admin/keys/alice", Some(&patch)).await,
        409,
        "defined_in_file",
    );
    assert_admin_error(
        admin(&gw, Method::DELETE, "/admin/keys/alice", None).await,
        409,
        "defined_in_file",
    );
    assert_admin_error(
        admin(&gw, Method::GET, "/admin/keys/nobody", None).await,
        404,
        "key_not_found",
    );

    let bad = [
        json!({ "name": "has spaces" }),
        json!({ "name": "" }),
        json!({ "name": "x", "colour": "red" }),
        json!({ "name": "x", "rate_limit": { "rpm": 0 } }),
        json!({ "name": "x", "budget": { "usd": 1, "period": "yearly" } }),
        json!({ "name": "x", "budget": { "usd": -1, "period": "daily" } }),
        json!({ "name": "x", "expires_at": "tomorrow" }),
        json!({ "models": ["m1"] }),
        json!(["x"]),
    ];
    for body in &bad {
        let (status, reply) = admin(&gw, Method::POST, keys, Some(body)).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], "invalid_request", "{body}");
    }
    let r = (gw.client().post(gw.admin_url(keys)))
        .bearer_auth(ADMIN_KEY)
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    let patch = json!({ "expires_at": "soon" });
    let (status, _) = admin(&gw, Method::PATCH, "/admin/keys/dev", Some(&patch)).await;
    assert_eq!(status, 400);
    let (_, listed) = admin(&gw, Method::GET, keys, None).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2), "{listed}");
}

/// Sends a chat request on each connection, all at once; the answers, in order.
async fn chat_on_each(connections: &mut [KeptConnection], key: &str) -> Vec<(u16, Value)> {
    let body = chat_body("m1");
    let sends = connections.iter_mut().map(|c| c.post(CHAT, &body, key));
    futures::future::join_all(sends).await
}

#[tokio::test]
async fn a_revoked_key_fails_on_the_next_request_of_every_connection() {
    // The test gateway runs 2 worker threads (Pingora's `threads: 2`): 8 kept-alive
    // connections, first used all at once, are served by both, and each must see
    // the revocation on its very next request.
    let (gw, up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    let key = create_key(&gw, &json!({ "name": "ci-bot" })).await;
    let mut connections = Vec::new();
    for _ in 0..8 {
        connections.push(KeptConnection::open(gw.addr()).await);
    }
    for (status, reply) in chat_on_each(&mut connections, &key).await {
        assert_eq!(status, 200, "{reply}");
    }
    let (status, reply) = admin(&gw, Method::DELETE, "/admin/keys/ci-bot", None).await;
    assert_eq!(
        (status, reply),
        (200, json!({ "name": "ci-bot", "revoked": true }))
    );
    for (status, reply) in chat_on_each(&mut connections, &key).await {
        assert_eq!(status, 401, "{reply}");
        assert_eq!(reply["error"]["code"], "invalid_api_key");
    }
    assert_eq!(up.posts(), 8, "no upstream call with a revoked key");
    let (status, _) = admin(&gw, Method::GET, "/admin/keys/ci-bot", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&gw, Method::DELETE, "/admin/keys/ci-bot", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_key_past_its_expires_at_is_refused_as_expired() {
    let (gw, up) = rig(&alice(""), Behaviour::chat_ok(), "").await;
    // Whole seconds, so the view shows the same text back.
    let in_3_s = jiff::Timestamp::now().as_second() + 3;
    let expires = jiff::Timestamp::from_second(in_3_s).expect("a time");
    let body = json!({ "name": "temp", "expires_at": expires.to_string() });
    let (status, created) = admin(&gw, Method::POST, "/admin/keys", Some(&body)).await;
    assert_eq!(
        (status, &created["expires_at"]),
        (201, &json!(expires.to_string()))
    );
    let key = created["key"].as_str().expect("key").to_string();
    assert_eq!(chat(&gw, "m1", &key).await.status(), 200);

    // Polled on /v1/models, which checks the key without calling upstream.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = (gw.client().get(gw.url("/v1/models")))
            .bearer_auth(&key)
            .send()
            .await
            .expect("GET /v1/models");
        if r.status() == 401 {
            assert!(
                jiff::Timestamp::now() >= expires,
                "refused before expires_at"
            );
            break;
        }
        assert_eq!(r.status(), 200);
        assert!(Instant::now() < deadline, "the key never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refused(chat(&gw, "m1", &key).await, 401, "expired_api_key").await;
    assert_eq!(up.posts(), 1, "no upstream call with an expired key");
}

/// `/health`'s entry for instance `id`.
async fn health_of(gw: &Gateway, id: &str) -> Value {
    let health: Value = gw.get("/health").await.json().await.expect("JSON");
    let providers = health["providers"].as_array().expect("providers");
    let entry = providers.iter().find(|p| p["id"] == id);
    entry
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {health}"))
}

#[tokio::test]
async fn an_instance_reset_ends_its_cooldown_at_once() {
    // p1 answers one 429 asking for 10 minutes, then serves; p2 always serves.
    let limited = Behaviour::status(429).retry_after(600);
    let p1 = MockUpstream::start(Behaviour::sequence(vec![limited, Behaviour::chat_ok()]));
    let p2 = MockUpstream::start(Behaviour::chat_ok());
    let yaml = format!(
        "auth:\n  admin_key: \"{ADMIN_KEY}\"\nrouting:\n  strategy: priority\n{}",
        instances_yaml("", &bases(&[&p1, &p2]), &["m1"])
    );
    let gw = start_with_admin(Gateway::builder(&yaml).instance_keys(2)).await;
    let served_by = |r: &Response| header(r, "x-modelgate-provider").map(str::to_string);
    for _ in 0..2 {
        let r = gw.post_json(CHAT, &chat_body("m1")).await;
        assert_eq!(
            (r.status().as_u16(), served_by(&r)),
            (200, Some("p2".into()))
        );
    }
    let entry = health_of(&gw, "p1").await;
    assert_eq!(entry["state"], "cooling_down", "{entry}");
    assert!(
        entry["cooling_down"]["m1"].as_u64().unwrap() > 590,
        "{entry}"
    );
    assert_eq!(p1.posts(), 1, "p1 is not called while it cools down");

    let path = "/admin/instances/p1/reset";
    let (status, reply) = admin(&gw, Method::POST, path, None).await;
    assert_eq!((status, reply), (200, json!({ "id": "p1", "reset": true })));
    let entry = health_of(&gw, "p1").await;
    assert_eq!(entry["state"], "healthy", "{entry}");
    assert_eq!(entry["cooling_down"], json!({}), "{entry}");
    let r = gw.post_json(CHAT, &chat_body("m1")).await;
    assert_eq!(
        (r.status().as_u16(), served_by(&r)),
        (200, Some("p1".into()))
    );
    assert_eq!(p1.posts(), 2);

    assert_admin_error(
        admin(&gw, Method::POST, "/admin/instances/p9/reset", None).await,
        404,
        "instance_not_found",
    );
    let (status, _) = admin(&gw, Method::GET, path, None).await;
    assert_eq!(status, 405);
}
