//! The Anthropic endpoints: `POST /v1/messages` (any query, e.g.
//! `?beta=true`), `POST /v1/messages/count_tokens`, and `GET /v1/models` and
//! `/v1/models/{id}` when the request sends `anthropic-version`. Wires the
//! request side (`anthropic`) to the replies (`anthropic_reply`, `models`).

use bytes::Bytes;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use crate::anthropic::{self, Purpose};
use crate::anthropic_reply::{self, Turn};
use crate::body::MockBody;
use crate::error::ApiError;
use crate::models::{self, AnthropicModel};
use crate::response::{json_response, to_json};
use crate::service::{sse_response, State};

pub fn route(
    state: &State,
    method: &Method,
    path: &str,
    body: &Bytes,
) -> Result<Response<MockBody>, ApiError> {
    let rest = path.strip_prefix("/v1/").unwrap_or(path);
    let (allowed, allow) = match rest {
        "messages" | "messages/count_tokens" => (Method::POST, "POST"),
        "models" => (Method::GET, "GET"),
        _ if rest.starts_with("models/") => (Method::GET, "GET"),
        _ => return Err(ApiError::not_found(method, path)),
    };
    if method != allowed {
        return Err(ApiError::method_not_allowed(method, path, allow));
    }
    state.check_fail()?;
    match rest {
        "messages" => messages(state, body),
        "messages/count_tokens" => {
            let req = anthropic::parse(body, Purpose::CountTokens, false)?;
            let count = json!({"input_tokens": req.input_tokens});
            Ok(json_response(StatusCode::OK, to_json(&count)?))
        }
        "models" => Ok(json_response(
            StatusCode::OK,
            models::anthropic(&state.models.ids())?,
        )),
        // Any model exists: the mock answers every name.
        _ => {
            let id = rest.trim_start_matches("models/");
            Ok(json_response(
                StatusCode::OK,
                to_json(&AnthropicModel::new(id))?,
            ))
        }
    }
}

fn messages(state: &State, body: &Bytes) -> Result<Response<MockBody>, ApiError> {
    let req = anthropic::parse(body, Purpose::Create, state.tool_calls)?;
    state.models.note(&req.model);
    let id = state.next_id("msg_");
    let turn = Turn {
        id: &id,
        model: &req.model,
        input_tokens: req.input_tokens,
    };
    if req.stream {
        let frames = anthropic_reply::stream(&turn, &req.answer, state.chunks)?;
        return Ok(sse_response(frames, state.chunk_delay));
    }
    Ok(json_response(
        StatusCode::OK,
        anthropic_reply::message(&turn, &req.answer)?,
    ))
}
