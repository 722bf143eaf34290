//! Response side of Gemini's API: the `GenerateContentResponse` (a text part,
//! or a `functionCall` part carrying a `thoughtSignature` as Gemini 2.5/3
//! thinking models send) and the payloads of its stream: the text over
//! `--chunks N` - 2 responses (the words the OpenAI stream carries between
//! its role and stop chunks), `finishReason` and the final `usageMetadata` on
//! the last; a function call arrives whole in one.

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::embedding::base64;
use crate::error::ApiError;
use crate::response::{reply_text, reply_tokens, to_json};
use crate::sse::{reply_pieces, word_pieces};
use crate::tools::{Answer, ToolCall};

/// What a reply to one request shares.
pub struct Turn<'a> {
    pub response_id: &'a str,
    pub model: &'a str,
    pub prompt_tokens: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContentResponse<'a> {
    candidates: [Candidate<'a>; 1],
    usage_metadata: UsageMetadata,
    model_version: &'a str,
    response_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<&'static str>,
    index: u32,
}

#[derive(Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
    role: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Part<'a> {
    Text {
        text: &'a str,
    },
    Call {
        #[serde(rename = "functionCall")]
        function_call: FunctionCall<'a>,
        #[serde(rename = "thoughtSignature")]
        thought_signature: &'a str,
    },
}

/// No `id`: the Gemini API (unlike Vertex) usually sends none.
#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    args: &'a RawValue,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: u64,
    /// Absent from the stream's responses before the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates_token_count: Option<u64>,
    total_token_count: u64,
    prompt_tokens_details: [ModalityCount; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModalityCount {
    modality: &'static str,
    token_count: u64,
}

impl UsageMetadata {
    fn new(prompt: u64, candidates: Option<u64>) -> Self {
        UsageMetadata {
            prompt_token_count: prompt,
            candidates_token_count: candidates,
            total_token_count: prompt + candidates.unwrap_or(0),
            prompt_tokens_details: [ModalityCount {
                modality: "TEXT",
                token_count: prompt,
            }],
        }
    }
}

/// An opaque signature, stable per call, that a client must send back with
/// the call (base64, as Google's are: a gateway carrying it in an id must
/// re-encode `+`, `/` and `=`).
pub fn thought_signature(call: &ToolCall) -> String {
    // Three leading bytes that encode as "++//", then the call's id.
    let mut bytes = vec![0xfb, 0xef, 0xff];
    bytes.extend_from_slice(b"mock-provider:");
    bytes.extend_from_slice(call.id.as_bytes());
    base64(&bytes)
}

fn response(turn: &Turn, part: Part, finish: Option<u64>) -> Result<Bytes, ApiError> {
    to_json(&ContentResponse {
        candidates: [Candidate {
            content: Content {
                parts: [part],
                role: "model",
            },
            finish_reason: finish.map(|_| "STOP"),
            index: 0,
        }],
        usage_metadata: UsageMetadata::new(turn.prompt_tokens, finish),
        model_version: turn.model,
        response_id: turn.response_id,
    })
}

/// A call's part: the args object keeps the arguments' key order.
fn with_call<T>(call: &ToolCall, f: impl FnOnce(Part) -> T) -> Result<T, ApiError> {
    let args = RawValue::from_string(call.arguments.clone())
        .map_err(|e| ApiError::internal(format!("mock-provider built bad args: {e}")))?;
    let signature = thought_signature(call);
    Ok(f(Part::Call {
        function_call: FunctionCall {
            name: &call.name,
            args: &args,
        },
        thought_signature: &signature,
    }))
}

/// The non-streamed response. Gemini says `STOP` for a function call too.
pub fn generate(turn: &Turn, answer: &Answer) -> Result<Bytes, ApiError> {
    match answer {
        Answer::Usual => {
            let text = reply_text(turn.model);
            response(turn, Part::Text { text: &text }, Some(reply_tokens(&text)))
        }
        Answer::Text(text) => response(turn, Part::Text { text }, Some(reply_tokens(text))),
        Answer::Call(call) => with_call(call, |part| response(turn, part, Some(call.tokens())))?,
    }
}

/// The JSON payloads of the streamed response, in order.
pub fn stream(turn: &Turn, answer: &Answer, chunks: usize) -> Result<Vec<Bytes>, ApiError> {
    let most = chunks.max(3) - 2;
    let (pieces, tokens) = match answer {
        Answer::Usual => {
            let pieces = reply_pieces(turn.model, most);
            let tokens = pieces.len() as u64;
            (pieces, tokens)
        }
        Answer::Text(text) => (word_pieces(text, most), reply_tokens(text)),
        Answer::Call(call) => {
            let whole = with_call(call, |part| response(turn, part, Some(call.tokens())))??;
            return Ok(vec![whole]);
        }
    };
    let last = pieces.len() - 1;
    pieces
        .iter()
        .enumerate()
        .map(|(n, text)| response(turn, Part::Text { text }, (n == last).then_some(tokens)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const TURN: Turn = Turn {
        response_id: "r1",
        model: "gemini-x",
        prompt_tokens: 4,
    };

    fn call() -> ToolCall {
        ToolCall {
            id: "0123".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"example"}"#.into(),
        }
    }

    fn parse(bytes: &Bytes) -> Value {
        serde_json::from_slice(bytes).expect("json")
    }

    #[test]
    fn a_response_has_geminis_shape() {
        let v = parse(&generate(&TURN, &Answer::Usual).expect("json"));
        let candidate = &v["candidates"][0];
        assert_eq!(candidate["content"]["role"], "model");
        assert_eq!(
            candidate["content"]["parts"][0]["text"],
            reply_text("gemini-x")
        );
        assert_eq!(candidate["finishReason"], "STOP");
        assert_eq!(candidate["index"], 0);
        assert_eq!(v["usageMetadata"]["promptTokenCount"], 4);
        assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 18);
        assert_eq!(v["usageMetadata"]["totalTokenCount"], 22);
        assert_eq!(
            (&v["modelVersion"], &v["responseId"]),
            (&json!("gemini-x"), &json!("r1"))
        );
    }

    #[test]
    fn a_function_call_carries_a_thought_signature() {
        let v = parse(&generate(&TURN, &Answer::Call(call())).expect("json"));
        let part = &v["candidates"][0]["content"]["parts"][0];
        assert_eq!(
            part["functionCall"],
            json!({"name": "get_weather", "args": {"city": "example"}})
        );
        let signature = part["thoughtSignature"].as_str().expect("signature");
        assert_eq!(signature, thought_signature(&call()));
        assert!(signature.starts_with("++//"), "{signature}");
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        let frames = stream(&TURN, &Answer::Call(call()), 20).expect("json");
        assert_eq!(frames.len(), 1);
        assert_eq!(parse(&frames[0]), v);
    }

    #[test]
    fn the_stream_spells_the_text_and_ends_with_stop_and_usage() {
        let frames = stream(&TURN, &Answer::Usual, 20).expect("json");
        assert_eq!(frames.len(), 18);
        let values: Vec<Value> = frames.iter().map(parse).collect();
        let text: String = values
            .iter()
            .map(|v| {
                v["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .expect("text")
            })
            .collect();
        assert_eq!(text, reply_text("gemini-x"));
        assert!(values[..17]
            .iter()
            .all(|v| v["candidates"][0].get("finishReason").is_none()));
        assert!(values[..17]
            .iter()
            .all(|v| v["usageMetadata"].get("candidatesTokenCount").is_none()));
        assert_eq!(values[17]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(values[17]["usageMetadata"]["candidatesTokenCount"], 18);
        let short = stream(&TURN, &Answer::Text("Got it.".into()), 20).expect("json");
        assert_eq!(short.len(), 2);
    }
}
