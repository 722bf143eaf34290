//! Which wire format a request speaks, and the one table from a dialect to its module.
//! The path decides: `.../messages` is Anthropic, `...:generateContent` and
//! `...:streamGenerateContent` are Gemini, `.../responses` is OpenAI's Responses API, a
//! `GET .../models` is Anthropic with an `anthropic-version` header and Gemini at
//! `/v1beta/models`; everything else is OpenAI (chat completions and the rest).
//! So one `Behaviour` serves an instance of any provider type. No I/O: `reply.rs` writes.

use super::answer::{Answer, Event};
use super::mock::RecordedRequest;
use super::{anthropic, gemini, openai, responses};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
    /// OpenAI's Responses API, as OpenAI and Azure serve it natively.
    Responses,
}

/// What a conversation request asks for.
pub(super) struct Asked {
    pub model: String,
    /// The request wants the event stream (OpenAI, Responses and Anthropic: `"stream": true`;
    /// Gemini: the `:streamGenerateContent` path).
    pub stream: bool,
}

fn path_of(request: &RecordedRequest) -> &str {
    request.path.split('?').next().unwrap_or_default()
}

impl Dialect {
    pub fn of(request: &RecordedRequest) -> Dialect {
        let path = path_of(request);
        let model_list = request.method == "GET" && path.ends_with("/models");
        if path.ends_with("/responses") {
            Dialect::Responses
        } else if path.ends_with("/messages")
            || (model_list && request.header("anthropic-version").is_some())
        {
            Dialect::Anthropic
        } else if path.contains(":generateContent")
            || path.contains(":streamGenerateContent")
            || (model_list && path.ends_with("/v1beta/models"))
        {
            Dialect::Gemini
        } else {
            Dialect::OpenAi
        }
    }

    /// Validates a conversation request like the provider; `Err` is the 400 message.
    pub fn parse(self, request: &RecordedRequest) -> Result<Asked, String> {
        match self {
            Dialect::OpenAi => openai::parse_request(&request.body).map(|parsed| Asked {
                stream: parsed.json.get("stream").and_then(Value::as_bool) == Some(true),
                model: parsed.model,
            }),
            Dialect::Anthropic => anthropic::parse_request(&request.body).map(|parsed| Asked {
                model: parsed.model,
                stream: parsed.stream,
            }),
            Dialect::Responses => responses::parse_request(&request.body).map(|parsed| Asked {
                model: parsed.model,
                stream: parsed.stream,
            }),
            Dialect::Gemini => {
                let parsed = gemini::parse_request(&request.path, &request.body)?;
                Ok(Asked {
                    model: parsed.model,
                    stream: path_of(request).contains(":streamGenerateContent"),
                })
            }
        }
    }

    /// The error envelope for `status`; `retry_delay` only shows in Gemini's `RetryInfo`.
    pub fn error(self, status: u16, message: &str, retry_delay: Option<u64>) -> Value {
        match self {
            Dialect::OpenAi => openai::error_envelope(status, message),
            Dialect::Anthropic => anthropic::error_envelope(status, message),
            Dialect::Gemini => gemini::error_envelope(status, message, retry_delay),
            Dialect::Responses => responses::error_envelope(status, message),
        }
    }

    /// The whole (non-streamed) reply.
    pub fn whole(self, answer: &Answer) -> Value {
        match self {
            Dialect::OpenAi => openai::chat_completion(answer),
            Dialect::Anthropic => anthropic::message(answer),
            Dialect::Gemini => gemini::generate_content(answer),
            Dialect::Responses => responses::response(answer),
        }
    }

    /// The streamed reply, event by event.
    pub fn events(self, answer: &Answer) -> Vec<Event> {
        match self {
            Dialect::OpenAi => openai::stream(answer),
            Dialect::Anthropic => anthropic::stream(answer),
            Dialect::Gemini => gemini::stream(answer),
            Dialect::Responses => responses::stream(answer),
        }
    }

    pub fn model_list(self, ids: &[String]) -> Value {
        match self {
            // `Dialect::of` never picks Responses for a model list; OpenAI's it would be.
            Dialect::OpenAi | Dialect::Responses => openai::model_list(ids),
            Dialect::Anthropic => anthropic::model_list(ids),
            Dialect::Gemini => gemini::model_list(ids),
        }
    }

    /// The `Content-Type` of JSON bodies, as each provider spells it.
    pub fn json_type(self) -> &'static str {
        match self {
            Dialect::OpenAi | Dialect::Anthropic | Dialect::Responses => "application/json",
            Dialect::Gemini => "application/json; charset=UTF-8",
        }
    }

    /// The `Content-Type` of streams, as each provider spells it.
    pub fn stream_type(self) -> &'static str {
        match self {
            Dialect::OpenAi | Dialect::Gemini | Dialect::Responses => "text/event-stream",
            Dialect::Anthropic => "text/event-stream; charset=utf-8",
        }
    }
}
