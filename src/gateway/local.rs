//! Endpoints the gateway answers itself: `/health` (per-instance state, never
//! a secret) and `/v1/models` (every routable name, OpenAI's list format).

use super::State;
use crate::routing::clock::ceil_secs;
use crate::routing::InstanceState;
use crate::teams::Caller;
use bytes::Bytes;
use serde_json::json;

/// Each instance's state (see `GET /health` in the docs), plus the models it has
/// cooling down. `ok`: every instance healthy; `down` (503): every instance
/// is open, unhealthy or disabled (rate limits pass; broken keys do not);
/// else `degraded`.
pub fn health(state: &State) -> (u16, Bytes) {
    let mut serving = 0;
    let mut all_healthy = true;
    let providers: Vec<serde_json::Value> = state
        .reports()
        .map(|(up, r)| {
            all_healthy &= r.state == InstanceState::Healthy && r.cooling.is_empty();
            if matches!(
                r.state,
                InstanceState::Healthy | InstanceState::HalfOpen | InstanceState::CoolingDown
            ) {
                serving += 1;
            }
            let cooling: serde_json::Map<String, serde_json::Value> = (r.cooling.iter())
                .map(|(m, d)| (m.clone(), json!(ceil_secs(*d))))
                .collect();
            json!({
                "id": up.id.as_ref(),
                "type": up.kind.name(),
                "state": r.state.name(),
                "models": up.models,
                "retry_in_s": r.retry_in.map(ceil_secs),
                "cooling_down": cooling,
                "in_flight": r.in_flight,
            })
        })
        .collect();
    let status = match (serving, providers.len()) {
        (_, 0) | (0, _) => "down",
        _ if all_healthy => "ok",
        _ => "degraded",
    };
    let code = if status == "down" { 503 } else { 200 };
    let body = json!({ "status": status, "providers": providers });
    (code, Bytes::from(body.to_string()))
}

/// One entry of the list, if `id` is a routable name this key may use
/// (a name it may not use is as unknown to it as one that does not exist).
pub fn model(state: &State, caller: &Caller, id: &str) -> Option<Bytes> {
    let m = (state.router.model_names().iter()).find(|m| m.id == id)?;
    state.auth.allows(caller, &m.id).then(|| {
        let entry = json!({ "id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by });
        Bytes::from(entry.to_string())
    })
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
