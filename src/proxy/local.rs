//! Endpoints the gateway answers itself: `/health` (per-instance state, never
//! a secret) and `/v1/models` (every routable name, OpenAI's list format).

use super::State;
use crate::auth::Caller;
use bytes::Bytes;
use serde_json::json;

pub fn health(state: &State) -> (u16, Bytes) {
    let providers: Vec<serde_json::Value> = state
        .upstreams
        .iter()
        .map(|up| {
            let healthy = up.endpoint.is_healthy();
            json!({
                "id": up.id.as_ref(),
                "type": up.kind.name(),
                "state": if healthy { "healthy" } else { "unhealthy" },
                "models": up.models,
                "retry_in_s": serde_json::Value::Null,
            })
        })
        .collect();
    let healthy = providers.iter().filter(|p| p["state"] == "healthy").count();
    let status = match (healthy, providers.len()) {
        (_, 0) | (0, _) => "down",
        (h, n) if h == n => "ok",
        _ => "degraded",
    };
    let code = if status == "down" { 503 } else { 200 };
    let body = json!({ "status": status, "providers": providers });
    (code, Bytes::from(body.to_string()))
}

pub fn models(state: &State, caller: &Caller) -> Bytes {
    let data: Vec<serde_json::Value> = state
        .router
        .model_names()
        .iter()
        .filter(|m| state.auth.allows(caller, &m.id))
        .map(|m| json!({ "id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by }))
        .collect();
    Bytes::from(json!({ "object": "list", "data": data }).to_string())
}
