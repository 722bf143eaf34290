//! CORS for browser clients: a preflight from an allowed origin gets 204 and the
//! `Access-Control-*` headers; every response to that origin (routed, streamed, an
//! error, a local endpoint) carries `Access-Control-Allow-Origin`; other origins get
//! nothing that lets a browser read the reply; and a provider's own CORS headers never
//! pass through.

use crate::support::*;

const ORIGIN: &str = "https://chat.example.com";
const GW_KEY: &str = "gw-key-cors-1234";

async fn gateway(allow: &str, upstream: Behaviour) -> (Gateway, MockUpstream) {
    let up = MockUpstream::start(upstream);
    let yaml = format!(
        "cors: {{ allow_origins: [{allow}] }}\n\
         auth:\n  keys:\n    - {{ name: web, key: \"${{GW_KEY}}\" }}\n\
         providers:\n{}",
        provider_yaml("p1", &up.base_url(), Some("UP_KEY"), &["m1"]),
    );
    let gw = Gateway::builder(&yaml)
        .env("GW_KEY", GW_KEY)
        .env("UP_KEY", "sk-up-cors")
        .start()
        .await;
    (gw, up)
}

fn preflight(gw: &Gateway, origin: &str) -> reqwest::RequestBuilder {
    gw.client()
        .request(reqwest::Method::OPTIONS, gw.url("/v1/chat/completions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-stainless-os",
        )
}

fn chat(gw: &Gateway, origin: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
    (gw.client().post(gw.url("/v1/chat/completions")))
        .header("origin", origin)
        .bearer_auth(GW_KEY)
        .json(body)
}

#[tokio::test]
async fn an_allowed_origin_gets_a_204_preflight_and_the_header_on_every_response() {
    // The provider sends its own (wider) CORS policy: it must not leak through.
    let upstream = Behaviour::ok()
        .header("access-control-allow-origin", "*")
        .header("access-control-allow-credentials", "true");
    let (gw, up) = gateway(&format!("\"{ORIGIN}\""), upstream).await;

    let resp = preflight(&gw, ORIGIN).send().await.expect("preflight");
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(header(&resp, "vary"), Some("Origin"));
    let methods = header(&resp, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    assert_eq!(
        header(&resp, "access-control-allow-headers"),
        Some("authorization, content-type, x-stainless-os")
    );
    assert!(header(&resp, "access-control-max-age").is_some());
    assert!(resp.bytes().await.expect("body").is_empty());
    assert_eq!(up.hits(), 0, "a preflight goes nowhere");

    // A routed answer, a streamed one, the gateway's own error, a local endpoint.
    let routed = chat(&gw, ORIGIN, &chat_body("m1"))
        .send()
        .await
        .expect("chat");
    assert_eq!(routed.status(), 200);
    let streamed = chat(&gw, ORIGIN, &chat_stream_body("m1"))
        .send()
        .await
        .expect("stream");
    assert_eq!(streamed.status(), 200);
    let refused = chat(&gw, ORIGIN, &chat_body("nope"))
        .send()
        .await
        .expect("404");
    assert_eq!(refused.status(), 404);
    let models = (gw.client().get(gw.url("/v1/models")))
        .header("origin", ORIGIN)
        .bearer_auth(GW_KEY)
        .send()
        .await
        .expect("models");
    for resp in [&routed, &streamed, &refused, &models] {
        assert_eq!(
            header(resp, "access-control-allow-origin"),
            Some(ORIGIN),
            "{resp:?}"
        );
        let exposed = header(resp, "access-control-expose-headers").unwrap_or_default();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        assert_eq!(
            header(resp, "access-control-allow-credentials"),
            None,
            "{resp:?}"
        );
    }

    // Another origin: no header a browser would honour, and its preflight is refused.
    let other = chat(&gw, "https://evil.example", &chat_body("m1"))
        .send()
        .await
        .expect("chat");
    assert_eq!(
        other.status(),
        200,
        "the key decides access; CORS only guards browsers"
    );
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    let refused = preflight(&gw, "https://evil.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(assert_openai_error(&body)["code"], "origin_not_allowed");
    // Without an Origin the response is as it always was.
    let plain = (gw.client().post(gw.url("/v1/chat/completions")))
        .bearer_auth(GW_KEY)
        .json(&chat_body("m1"))
        .send()
        .await
        .expect("chat");
    assert_eq!(plain.status(), 200);
    assert_eq!(header(&plain, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_star_allows_any_origin_and_cors_off_answers_options_with_405() {
    let (gw, _up) = gateway("\"*\"", Behaviour::ok()).await;
    let resp = preflight(&gw, "http://localhost:3000")
        .send()
        .await
        .expect("preflight");
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&resp, "vary"), None, "`*` does not vary");
    let routed = chat(&gw, "http://localhost:3000", &chat_body("m1"))
        .send()
        .await
        .expect("chat");
    assert_eq!(header(&routed, "access-control-allow-origin"), Some("*"));

    let up = MockUpstream::start(Behaviour::ok().header("access-control-allow-origin", "*"));
    let yaml = instances_yaml("", &bases(&[&up]), &["m1"]);
    let off = Gateway::builder(&yaml).instance_keys(1).start().await;
    let resp = preflight(&off, ORIGIN).send().await.expect("preflight");
    assert_eq!(resp.status(), 405);
    assert_eq!(header(&resp, "access-control-allow-origin"), None);
    let routed = (off.client().post(off.url("/v1/chat/completions")))
        .header("origin", ORIGIN)
        .json(&chat_body("m1"))
        .send()
        .await
        .expect("chat");
    assert_eq!(routed.status(), 200);
    assert_eq!(
        header(&routed, "access-control-allow-origin"),
        None,
        "the provider's policy never passes through"
    );
}
