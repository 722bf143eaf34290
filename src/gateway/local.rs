//! Endpoints the gateway answers itself: `/health` (per-instance state, never
//! a secret) and `/v1/models` (every routable name, in OpenAI's list format
//! or Anthropic's).

use super::State;
use crate::routing::clock::ceil_secs;
use crate::routing::{InstanceState, ModelName};
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

/// The shape of a model list: OpenAI's, or Anthropic's for a client that
/// sends `anthropic-version` (Claude Code's model discovery reads only that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    OpenAi,
    Anthropic,
}

impl ListShape {
    pub fn of(headers: &http::HeaderMap) -> Self {
        if headers.contains_key("anthropic-version") {
            Self::Anthropic
        } else {
            Self::OpenAi
        }
    }

    /// The dialect its errors are answered in.
    pub fn dialect(self) -> crate::dialect::Dialect {
        match self {
            Self::OpenAi => crate::dialect::Dialect::OpenAi,
            Self::Anthropic => crate::dialect::Dialect::Anthropic,
        }
    }

    fn entry(self, m: &ModelName) -> serde_json::Value {
        match self {
            Self::OpenAi => {
                json!({ "id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by })
            }
            // No creation date is known: the epoch says so.
            Self::Anthropic => json!({
                "type": "model",
                "id": m.id,
                "display_name": m.id,
                "created_at": "1970-01-01T00:00:00Z",
            }),
        }
    }
}

/// One entry of the list, if `id` is a routable name this key may use
/// (a name it may not use is as unknown to it as one that does not exist).
pub fn model(state: &State, caller: &Caller, id: &str, shape: ListShape) -> Option<Bytes> {
    let m = (state.router.model_names().iter()).find(|m| m.id == id)?;
    caller
        .allows(&m.id)
        .then(|| Bytes::from(shape.entry(m).to_string()))
}

pub fn models(state: &State, caller: &Caller, shape: ListShape) -> Bytes {
    let data: Vec<serde_json::Value> = (state.router.model_names().iter())
        .filter(|m| caller.allows(&m.id))
        .map(|m| shape.entry(m))
        .collect();
    let body = match shape {
        ListShape::OpenAi => json!({ "object": "list", "data": data }),
        ListShape::Anthropic => json!({
            "data": data,
            "has_more": false,
            "first_id": data.first().map(|m| m["id"].clone()),
            "last_id": data.last().map(|m| m["id"].clone()),
        }),
    };
    Bytes::from(body.to_string())
}
