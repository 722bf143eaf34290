//! The models the mock lists, in each provider's list shape: OpenAI's
//! `{"object":"list","data":[…]}`, Anthropic's `{"data":[…],"has_more",
//! "first_id","last_id"}` and Gemini's `{"models":[{"name":"models/…"}]}`.
//!
//! Any model name is accepted, so the list is the three mock ids plus the
//! models Anthropic and Gemini requests have asked for (a client that lists
//! models after using one finds it, as Claude Code's model discovery does).
//! OpenAI requests are not recorded: that keeps a lock off the chat path the
//! benchmarks measure, and the OpenAI list exactly what it always was.

use std::sync::RwLock;

use bytes::Bytes;
use serde::Serialize;

use crate::error::ApiError;
use crate::response::to_json;

/// The ids every list starts with.
pub const MODELS: [&str; 3] = ["mock-small", "mock-large", "mock-embed"];

/// At most this many requested models are remembered (a benchmark with
/// random names must not grow the list without end).
const MAX_SEEN: usize = 64;

/// `created` of every OpenAI model entry (a fixed date: the lists are
/// deterministic).
const CREATED: u64 = 1_700_000_000;
const CREATED_AT: &str = "2023-11-14T22:13:20Z";

/// The models listed: the mock ids and those requests asked for.
#[derive(Default)]
pub struct Catalog {
    seen: RwLock<Vec<String>>,
}

impl Catalog {
    /// Remembers `model` if it is new (a read lock when it is not).
    pub fn note(&self, model: &str) {
        if MODELS.contains(&model) || model.is_empty() {
            return;
        }
        let known = |seen: &Vec<String>| seen.iter().any(|m| m == model);
        if self.seen.read().map_or(true, |seen| known(&seen)) {
            return;
        }
        if let Ok(mut seen) = self.seen.write() {
            if !known(&seen) && seen.len() < MAX_SEEN {
                seen.push(model.to_owned());
            }
        }
    }

    /// The mock ids, then the requested models in the order they came.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = MODELS.iter().map(|m| (*m).to_owned()).collect();
        if let Ok(seen) = self.seen.read() {
            ids.extend(seen.iter().cloned());
        }
        ids
    }
}

#[derive(Serialize)]
struct OpenAiList<'a> {
    object: &'static str,
    data: Vec<OpenAiModel<'a>>,
}

#[derive(Serialize)]
struct OpenAiModel<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

pub fn openai(ids: &[String]) -> Result<Bytes, ApiError> {
    to_json(&OpenAiList {
        object: "list",
        data: ids
            .iter()
            .map(|id| OpenAiModel {
                id,
                object: "model",
                created: CREATED,
                owned_by: "mock-provider",
            })
            .collect(),
    })
}

/// Anthropic's `ModelInfo`.
#[derive(Serialize)]
pub struct AnthropicModel<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: &'a str,
    created_at: &'static str,
}

impl<'a> AnthropicModel<'a> {
    pub fn new(id: &'a str) -> Self {
        AnthropicModel {
            kind: "model",
            id,
            display_name: id,
            created_at: CREATED_AT,
        }
    }
}

#[derive(Serialize)]
struct AnthropicList<'a> {
    data: Vec<AnthropicModel<'a>>,
    has_more: bool,
    first_id: Option<&'a str>,
    last_id: Option<&'a str>,
}

pub fn anthropic(ids: &[String]) -> Result<Bytes, ApiError> {
    to_json(&AnthropicList {
        data: ids.iter().map(|id| AnthropicModel::new(id)).collect(),
        has_more: false,
        first_id: ids.first().map(String::as_str),
        last_id: ids.last().map(String::as_str),
    })
}

/// Gemini's `Model`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeminiModel<'a> {
    name: String,
    base_model_id: &'a str,
    version: &'static str,
    display_name: &'a str,
    description: &'static str,
    input_token_limit: u64,
    output_token_limit: u64,
    supported_generation_methods: [&'static str; 3],
}

impl<'a> GeminiModel<'a> {
    pub fn new(id: &'a str) -> Self {
        GeminiModel {
            name: format!("models/{id}"),
            base_model_id: id,
            version: "001",
            display_name: id,
            description: "A mock-provider model: deterministic replies, no real model.",
            input_token_limit: 1_048_576,
            output_token_limit: 65_536,
            supported_generation_methods: [
                "generateContent",
                "streamGenerateContent",
                "countTokens",
            ],
        }
    }
}

#[derive(Serialize)]
struct GeminiList<'a> {
    models: Vec<GeminiModel<'a>>,
}

pub fn gemini(ids: &[String]) -> Result<Bytes, ApiError> {
    to_json(&GeminiList {
        models: ids.iter().map(|id| GeminiModel::new(id)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(bytes: Bytes) -> Value {
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn the_openai_list_is_the_mock_ids_until_others_are_asked_for() {
        let catalog = Catalog::default();
        let v = parse(openai(&catalog.ids()).expect("json"));
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"][0]["id"], "mock-small");
        assert_eq!(v["data"].as_array().map(Vec::len), Some(3));
        catalog.note("claude-x");
        catalog.note("claude-x");
        catalog.note("mock-large");
        assert_eq!(catalog.ids()[3..], ["claude-x".to_owned()]);
    }

    #[test]
    fn the_catalog_stops_growing_at_its_cap() {
        let catalog = Catalog::default();
        for n in 0..MAX_SEEN + 10 {
            catalog.note(&format!("m{n}"));
        }
        assert_eq!(catalog.ids().len(), MODELS.len() + MAX_SEEN);
    }

    #[test]
    fn anthropic_and_gemini_shapes() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            parse(anthropic(&ids).expect("json")),
            json!({"data": [
                {"type": "model", "id": "a", "display_name": "a", "created_at": CREATED_AT},
                {"type": "model", "id": "b", "display_name": "b", "created_at": CREATED_AT}],
                "has_more": false, "first_id": "a", "last_id": "b"})
        );
        let v = parse(gemini(&ids).expect("json"));
        assert_eq!(v["models"][1]["name"], "models/b");
        assert_eq!(v["models"][1]["baseModelId"], "b");
        assert_eq!(
            v["models"][0]["supportedGenerationMethods"][0],
            "generateContent"
        );
    }
}
