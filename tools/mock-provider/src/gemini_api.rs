//! The Gemini endpoints under `/v1beta/models` and `/v1/models` (the same
//! API, beta and GA): `GET` the list or one model, and `POST
//! {model}:generateContent`, `:streamGenerateContent` (SSE with `?alt=sse`,
//! data lines only, no `[DONE]`; a JSON array without it, as Google does) and
//! `:countTokens`. Wires the request side (`gemini`) to the replies
//! (`gemini_reply`, `models`).

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use crate::body::MockBody;
use crate::error::ApiError;
use crate::frames::{crlf_event, Frames};
use crate::gemini;
use crate::gemini_reply::{self, Turn};
use crate::models::{self, GeminiModel};
use crate::response::{json_response, to_json};
use crate::service::{sse_response, State};

/// A model action, the part of the path after `:`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Generate,
    Stream,
    CountTokens,
}

pub fn route(
    state: &State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Result<Response<MockBody>, ApiError> {
    let rest = (path.strip_prefix("/v1beta/"))
        .or_else(|| path.strip_prefix("/v1/"))
        .unwrap_or(path);
    let not_found = || ApiError::not_found(method, path);
    let named = rest.strip_prefix("models/");
    let action = match named.and_then(|name| name.rsplit_once(':')) {
        Some((model, action)) => {
            let action = match action {
                "generateContent" => Action::Generate,
                "streamGenerateContent" => Action::Stream,
                "countTokens" => Action::CountTokens,
                _ => return Err(not_found()),
            };
            Some((model, action))
        }
        None if rest == "models" || named.is_some_and(|m| !m.is_empty()) => None,
        None => return Err(not_found()),
    };
    let (allowed, allow) = match action {
        Some(_) => (Method::POST, "POST"),
        None => (Method::GET, "GET"),
    };
    if method != allowed {
        return Err(ApiError::method_not_allowed(method, path, allow));
    }
    state.check_fail()?;
    let Some((model, action)) = action else {
        let json = match named {
            Some(model) => to_json(&GeminiModel::new(model))?,
            None => models::gemini(&state.models.ids())?,
        };
        return Ok(json_response(StatusCode::OK, json));
    };
    if action == Action::CountTokens {
        let req = gemini::parse(body, model, false)?;
        let count = json!({"totalTokens": req.prompt_tokens});
        return Ok(json_response(StatusCode::OK, to_json(&count)?));
    }
    let req = gemini::parse(body, model, state.tool_calls)?;
    state.models.note(model);
    let id = state.next_id("");
    let turn = Turn {
        response_id: &id,
        model,
        prompt_tokens: req.prompt_tokens,
    };
    if action == Action::Generate {
        let json = gemini_reply::generate(&turn, &req.answer)?;
        return Ok(json_response(StatusCode::OK, json));
    }
    let payloads = gemini_reply::stream(&turn, &req.answer, state.chunks)?;
    let sse = query.is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
    if sse {
        let mut frames = Frames::default();
        for payload in &payloads {
            frames.push_paced(crlf_event(payload));
        }
        return Ok(sse_response(frames, state.chunk_delay));
    }
    Ok(json_array(&payloads))
}

/// `[payload,\r\npayload]`: the stream without `alt=sse`, sent whole.
fn json_array(payloads: &[Bytes]) -> Response<MockBody> {
    let mut out = BytesMut::new();
    out.put_u8(b'[');
    for (n, payload) in payloads.iter().enumerate() {
        if n > 0 {
            out.put_slice(b",\r\n");
        }
        out.put_slice(payload);
    }
    out.put_u8(b']');
    let mut response = json_response(StatusCode::OK, out.freeze());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}
