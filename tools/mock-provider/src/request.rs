//! Request side of the OpenAI wire format: parses and validates the JSON
//! bodies of chat completions, completions and embeddings the way a real
//! provider would (400 with the error envelope otherwise), and estimates
//! prompt token counts (about four bytes per token).

use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;

/// Embedding width when the request has no `dimensions`.
pub const DEFAULT_DIMENSIONS: usize = 8;
const MAX_DIMENSIONS: u64 = 4096;

/// The fields the mock looks at; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Raw {
    model: Option<Value>,
    stream: Option<Value>,
    stream_options: Option<Value>,
    messages: Option<Value>,
    prompt: Option<Value>,
    input: Option<Value>,
    encoding_format: Option<Value>,
    dimensions: Option<Value>,
}

/// A chat or text completion request.
#[derive(Debug, PartialEq, Eq)]
pub struct GenerateRequest {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub prompt_tokens: u64,
}

/// An embeddings request: one seed per input item.
#[derive(Debug, PartialEq, Eq)]
pub struct EmbedRequest {
    pub model: String,
    pub seeds: Vec<u64>,
    pub prompt_tokens: u64,
    pub base64: bool,
    pub dimensions: usize,
}

fn parse_raw(body: &[u8]) -> Result<Raw, ApiError> {
    // serde would also accept a JSON array for a struct; a provider would not.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::not_json());
    }
    serde_json::from_slice(body).map_err(|_| ApiError::not_json())
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn invalid_type(param: &'static str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
        Some(param),
        Some("invalid_type"),
    )
}

fn missing(param: &'static str) -> ApiError {
    ApiError::invalid(
        format!("Missing required parameter: '{param}'."),
        Some(param),
        Some("missing_required_parameter"),
    )
}

fn model(raw: &mut Raw) -> Result<String, ApiError> {
    match raw.model.take() {
        Some(Value::String(model)) => Ok(model),
        Some(other) => Err(invalid_type("model", "a string", &other)),
        None => Err(ApiError::invalid(
            "you must provide a model parameter",
            None,
            None,
        )),
    }
}

/// `stream` and `stream_options.include_usage`.
fn streaming(raw: &Raw) -> Result<(bool, bool), ApiError> {
    let stream = match &raw.stream {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid_type("stream", "a boolean", other)),
    };
    let include_usage = match &raw.stream_options {
        None => false,
        Some(_) if !stream => {
            return Err(ApiError::invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                Some("stream_options"),
                None,
            ))
        }
        Some(Value::Object(options)) => options.get("include_usage") == Some(&Value::Bool(true)),
        Some(other) => return Err(invalid_type("stream_options", "an object", other)),
    };
    Ok((stream, include_usage))
}

/// Rough token count of a text: four bytes per token, at least one.
pub fn text_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}

/// Tokens of one message's `content`: a string, or an array of parts.
fn content_tokens(content: Option<&Value>) -> u64 {
    match content {
        Some(Value::String(text)) => text_tokens(text),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .map(text_tokens)
            .sum(),
        _ => 0,
    }
}

pub fn parse_chat(body: &[u8]) -> Result<GenerateRequest, ApiError> {
    let mut raw = parse_raw(body)?;
    let model = model(&mut raw)?;
    let messages = match &raw.messages {
        None => return Err(missing("messages")),
        Some(Value::Array(messages)) => messages,
        Some(other) => return Err(invalid_type("messages", "an array of objects", other)),
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, \
             but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        ));
    }
    if let Some(bad) = messages.iter().find(|m| !m.is_object()) {
        return Err(invalid_type("messages", "an array of objects", bad));
    }
    let (stream, include_usage) = streaming(&raw)?;
    // Four tokens of framing per message plus three to prime the reply.
    let prompt_tokens = 3 + messages
        .iter()
        .map(|m| 4 + content_tokens(m.get("content")))
        .sum::<u64>();
    Ok(GenerateRequest {
        model,
        stream,
        include_usage,
        prompt_tokens,
    })
}

/// A `prompt` or `input`: a string, strings, a token array, or token arrays.
/// Returns (token count, seed) per item; `None` if the shape is wrong.
fn text_items(value: &Value) -> Option<Vec<(u64, u64)>> {
    let tokens_of = |items: &[Value]| -> Option<(u64, u64)> {
        let mut seed = FNV_OFFSET;
        for item in items {
            seed = fnv1a(seed, &item.as_u64()?.to_le_bytes());
        }
        Some((items.len() as u64, seed))
    };
    match value {
        Value::String(text) if !text.is_empty() => Some(vec![(
            text_tokens(text),
            fnv1a(FNV_OFFSET, text.as_bytes()),
        )]),
        Value::Array(items) if !items.is_empty() => match &items[0] {
            Value::Number(_) => Some(vec![tokens_of(items)?]),
            _ => items
                .iter()
                .map(|item| match item {
                    Value::String(text) if !text.is_empty() => {
                        Some((text_tokens(text), fnv1a(FNV_OFFSET, text.as_bytes())))
                    }
                    Value::Array(tokens) if !tokens.is_empty() => tokens_of(tokens),
                    _ => None,
                })
                .collect(),
        },
        _ => None,
    }
}

pub fn parse_completion(body: &[u8]) -> Result<GenerateRequest, ApiError> {
    let mut raw = parse_raw(body)?;
    let model = model(&mut raw)?;
    let prompt = raw.prompt.as_ref().ok_or_else(|| missing("prompt"))?;
    let items = text_items(prompt).ok_or_else(|| {
        ApiError::invalid(
            "Invalid 'prompt': expected a non-empty string, array of strings, \
             array of tokens, or array of token arrays.",
            Some("prompt"),
            Some("invalid_value"),
        )
    })?;
    let (stream, include_usage) = streaming(&raw)?;
    Ok(GenerateRequest {
        model,
        stream,
        include_usage,
        prompt_tokens: items.iter().map(|(tokens, _)| tokens).sum(),
    })
}

pub fn parse_embedding(body: &[u8]) -> Result<EmbedRequest, ApiError> {
    let mut raw = parse_raw(body)?;
    let model = model(&mut raw)?;
    let input = raw.input.as_ref().ok_or_else(|| missing("input"))?;
    let items = text_items(input).ok_or_else(|| {
        ApiError::invalid(
            "'$.input' is invalid. Please check the API reference: \
             https://platform.openai.com/docs/api-reference.",
            Some("input"),
            None,
        )
    })?;
    let base64 = match &raw.encoding_format {
        None => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                Some("encoding_format"),
                Some("invalid_value"),
            ))
        }
    };
    let dimensions = match &raw.dimensions {
        None => DEFAULT_DIMENSIONS,
        Some(value) => match value.as_u64() {
            Some(n @ 1..=MAX_DIMENSIONS) => n as usize,
            _ => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid 'dimensions': expected an integer from 1 to {MAX_DIMENSIONS}."
                    ),
                    Some("dimensions"),
                    Some("invalid_value"),
                ))
            }
        },
    };
    Ok(EmbedRequest {
        model,
        prompt_tokens: items.iter().map(|(tokens, _)| tokens).sum(),
        seeds: items.into_iter().map(|(_, seed)| seed).collect(),
        base64,
        dimensions,
    })
}

pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a stable seed for an input's embedding (or a tool call's id), the
/// same on every run.
pub fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_reads_model_stream_and_usage_option() {
        let body = br#"{"model":"m","stream":true,"stream_options":{"include_usage":true},
                        "messages":[{"role":"user","content":"12345678"}],"temperature":0.2}"#;
        let req = parse_chat(body).expect("valid");
        assert_eq!(req.model, "m");
        assert!(req.stream && req.include_usage);
        assert_eq!(req.prompt_tokens, 3 + 4 + 2);
    }

    #[test]
    fn chat_rejects_what_a_provider_rejects() {
        let cases: [(&[u8], Option<&str>); 6] = [
            (b"not json", None),
            (b"[1,2]", None),
            (br#"{"messages":[{"role":"user","content":"x"}]}"#, None),
            (br#"{"model":7,"messages":[]}"#, Some("model")),
            (br#"{"model":"m"}"#, Some("messages")),
            (
                br#"{"model":"m","messages":[{"role":"user"}],"stream_options":{}}"#,
                Some("stream_options"),
            ),
        ];
        for (body, param) in cases {
            let err = parse_chat(body).expect_err("must be rejected");
            assert_eq!(err.status, hyper::StatusCode::BAD_REQUEST);
            assert_eq!(err.kind, "invalid_request_error");
            assert_eq!(err.param, param, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn embedding_input_shapes_give_one_item_each() {
        let count = |input: &str| {
            let body = format!(r#"{{"model":"e","input":{input}}}"#);
            parse_embedding(body.as_bytes()).map(|r| r.seeds.len())
        };
        assert_eq!(count(r#""one""#), Ok(1));
        assert_eq!(count(r#"["a","b","c"]"#), Ok(3));
        assert_eq!(count("[1,2,3]"), Ok(1));
        assert_eq!(count("[[1,2],[3]]"), Ok(2));
        assert!(count(r#""""#).is_err());
        assert!(count("[]").is_err());
        assert!(count(r#"[{"x":1}]"#).is_err());
    }

    #[test]
    fn embedding_seeds_are_stable_per_text() {
        let a = parse_embedding(br#"{"model":"e","input":["x","y","x"]}"#).expect("valid");
        assert_eq!(a.seeds[0], a.seeds[2]);
        assert_ne!(a.seeds[0], a.seeds[1]);
        assert_eq!(a.dimensions, DEFAULT_DIMENSIONS);
        let b = parse_embedding(
            br#"{"model":"e","input":"x","encoding_format":"base64","dimensions":3}"#,
        )
        .expect("valid");
        assert!(b.base64);
        assert_eq!((b.dimensions, b.seeds[0]), (3, a.seeds[0]));
    }

    #[test]
    fn completion_requires_a_prompt() {
        assert_eq!(
            parse_completion(br#"{"model":"m"}"#).map_err(|e| e.param),
            Err(Some("prompt"))
        );
        let req = parse_completion(br#"{"model":"m","prompt":["abcd","efgh"]}"#).expect("valid");
        assert_eq!(req.prompt_tokens, 2);
    }
}
