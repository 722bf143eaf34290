//! No key in plaintext anywhere a user or an operator can look: `/v1/usage`,
//! `/admin/keys`, `/health`, `/metrics`, the gateway's logs and access log, and the
//! store's files; for a key from the file and a key created through the admin API
//! alike (and the admin key, the upstream key and a wrong key sent by a client).

use super::{chat_text, teams_yaml, ADMIN_KEY, ALICE_KEY};
use crate::support::{
    admin_call, chat_body, chat_stream_body, create_key_as, provider_yaml, settled_metrics,
    usage_report, wait_for_usage, Behaviour, Gateway, MockUpstream,
};
use serde_json::json;

const UPSTREAM_KEY: &str = "sk-upstream-usage-secret-0042";
const WRONG_KEY: &str = "mg-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn no_key_plaintext_in_usage_admin_keys_health_metrics_logs_or_the_store() {
    let mock = MockUpstream::start(Behaviour::ok());
    let providers = provider_yaml("p1", &mock.base_url(), Some("UP"), &["m1"]);
    let gw = Gateway::builder(&teams_yaml(None, "", &providers))
        .env("UP", UPSTREAM_KEY)
        .admin_listen()
        .start()
        .await;
    let carol = create_key_as(&gw, ADMIN_KEY, &json!({ "name": "carol" })).await;
    let carol = carol["key"]
        .as_str()
        .expect("the new key, once")
        .to_string();
    assert!(carol.starts_with("mg-") && carol.len() == 67, "{carol}");
    chat_text(&gw, &chat_body("m1"), Some(ALICE_KEY)).await;
    chat_text(&gw, &chat_stream_body("m1"), Some(ALICE_KEY)).await;
    chat_text(&gw, &chat_body("m1"), Some(&carol)).await;
    let refused = gw
        .post_json_with_key("/v1/chat/completions", &chat_body("m1"), WRONG_KEY)
        .await;
    assert_eq!(refused.status(), 401);
    let (status, _) = admin_call(&gw, WRONG_KEY, "GET", "/admin/keys", None).await;
    assert_eq!(status, 401);
    assert_eq!(mock.posts(), 3);

    let mut seen: Vec<(String, String)> = Vec::new();
    wait_for_usage(&gw, "", Some(ADMIN_KEY), 3).await;
    for group in ["key", "model", "instance", "day"] {
        for (who, key) in [
            ("admin", ADMIN_KEY),
            ("alice", ALICE_KEY),
            ("carol", &carol),
        ] {
            let (status, report) = usage_report(&gw, &format!("group_by={group}"), Some(key)).await;
            assert_eq!(status, 200, "{report}");
            seen.push((
                format!("/v1/usage?group_by={group} as {who}"),
                report.to_string(),
            ));
        }
    }
    let (_, list) = admin_call(&gw, ADMIN_KEY, "GET", "/admin/keys", None).await;
    let listed: Vec<&str> = (list["data"].as_array().expect("data").iter())
        .map(|k| {
            assert!(k.get("key").is_none(), "a secret in the listing: {k}");
            k["name"].as_str().expect("name")
        })
        .collect();
    assert_eq!(listed.len(), 3, "{list}");
    assert!(
        ["alice", "bob", "carol"].iter().all(|n| listed.contains(n)),
        "{list}"
    );
    seen.push(("GET /admin/keys".into(), list.to_string()));
    for name in ["alice", "carol"] {
        let (status, view) =
            admin_call(&gw, ADMIN_KEY, "GET", &format!("/admin/keys/{name}"), None).await;
        assert_eq!(status, 200, "{view}");
        seen.push((format!("GET /admin/keys/{name}"), view.to_string()));
    }
    let health = gw.get("/health").await.text().await.expect("health body");
    seen.push(("/health".into(), health));
    seen.push(("/metrics".into(), settled_metrics(&gw).await));
    seen.push(("logs and access log".into(), gw.logs()));
    assert!(
        gw.stdout().contains("\"key\":\"carol\""),
        "the access log names the key"
    );
    for entry in std::fs::read_dir(gw.dir()).expect("gateway dir") {
        let path = entry.expect("dir entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("modelgate.db"))
        {
            let bytes = std::fs::read(&path).expect("store file");
            seen.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    assert!(
        seen.iter()
            .any(|(place, _)| place.ends_with("modelgate.db")),
        "no store file"
    );

    for secret in [
        ALICE_KEY,
        carol.as_str(),
        ADMIN_KEY,
        UPSTREAM_KEY,
        WRONG_KEY,
    ] {
        for (place, text) in &seen {
            assert!(!text.contains(secret), "{secret} in {place}");
        }
    }
}
