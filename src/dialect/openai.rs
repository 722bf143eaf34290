//! An OpenAI-dialect request body: what the gateway needs from it (`model`,
//! `stream`) and the alias rewrite. The body is parsed once, borrowing from the bytes (no
//! copy of the prompt, no tree of values); the `model` value's byte span is
//! kept so an alias rewrite splices the new name in and leaves every other
//! byte of the body exactly as the client sent it.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::ops::Range;

/// The longest `model` value a request may carry.
pub const MAX_MODEL_LEN: usize = 256;

/// Why a request body cannot be routed (the gateway answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON, or not a JSON object; the reason, as serde_json words it.
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the request body has no `model`")]
    MissingModel,
    /// Longer than `MAX_MODEL_LEN` bytes or with a control character: no
    /// model is named like that, and such a value must not reach a log
    /// line, a label or an upstream.
    #[error("`model` is longer than {MAX_MODEL_LEN} bytes or has control characters")]
    BadModel,
    #[error("`{field}` must be {expected}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
}

/// The parts of a request body the gateway reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBody {
    pub bytes: Bytes,
    pub model: String,
    pub stream: bool,
    /// `stream_options.include_usage`: the client wants a stream's usage
    /// event (read here, in the one parse, for translated streams).
    pub stream_usage: bool,
    /// The byte range of the `model` value (with its quotes).
    model_span: Range<usize>,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    stream_options: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

impl RequestBody {
    pub fn parse(bytes: Bytes) -> Result<Self, BodyError> {
        // serde would also read a struct from a JSON array; a request is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            let what = if bytes.trim_ascii().is_empty() {
                "the body is empty"
            } else {
                "expected a JSON object"
            };
            return Err(BodyError::NotJson(what.into()));
        }
        let fields: Fields<'_> = serde_json::from_slice(&bytes).map_err(|e| {
            if e.is_data() {
                BodyError::NotJson("expected a JSON object".into())
            } else {
                BodyError::NotJson(e.to_string())
            }
        })?;
        let raw = fields.model.ok_or(BodyError::MissingModel)?;
        let model: Cow<'_, str> =
            serde_json::from_str(raw.get()).map_err(|_| BodyError::InvalidField {
                field: "model",
                expected: "a string",
            })?;
        if model.is_empty() {
            return Err(BodyError::MissingModel);
        }
        if model.len() > MAX_MODEL_LEN || model.chars().any(char::is_control) {
            return Err(BodyError::BadModel);
        }
        let stream = match fields.stream.map(|r| r.get()) {
            None | Some("null") | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(BodyError::InvalidField {
                    field: "stream",
                    expected: "a boolean",
                })
            }
        };
        let start = raw.get().as_ptr() as usize - bytes.as_ptr() as usize;
        let model_span = start..start + raw.get().len();
        let model = model.into_owned();
        let stream_usage = (fields.stream_options)
            .and_then(|raw| serde_json::from_str::<StreamOptions>(raw.get()).ok())
            .is_some_and(|o| o.include_usage);
        Ok(Self {
            bytes,
            model,
            stream,
            stream_usage,
            model_span,
        })
    }

    /// The body to send when the upstream model is `model`: the same bytes
    /// when it is the requested name, else the name spliced in.
    pub fn for_model(&self, model: &str) -> Bytes {
        if model == self.model {
            return self.bytes.clone();
        }
        let quoted = serde_json::Value::String(model.to_string()).to_string();
        let mut out = BytesMut::with_capacity(self.bytes.len() + quoted.len());
        out.extend_from_slice(&self.bytes[..self.model_span.start]);
        out.extend_from_slice(quoted.as_bytes());
        out.extend_from_slice(&self.bytes[self.model_span.end..]);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RequestBody, BodyError> {
        RequestBody::parse(Bytes::from(s.to_string()))
    }

    #[test]
    fn reads_model_and_stream() {
        let b =
            parse(r#"{"messages":[{"role":"user","content":"hi"}],"model":"fast","stream":true}"#)
                .expect("valid");
        assert_eq!((b.model.as_str(), b.stream), ("fast", true));
        let b = parse(r#"{"model":"a\/b\u0041","stream":null}"#).expect("escapes");
        assert_eq!((b.model.as_str(), b.stream), ("a/bA", false));
        let b = parse(r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#)
            .expect("stream options");
        assert!(b.stream_usage);
        assert!(
            !parse(r#"{"model":"m","stream_options":null}"#)
                .expect("null")
                .stream_usage
        );
    }

    #[test]
    fn rewrite_changes_only_the_model_value() {
        let src = r#"{ "model" : "fast", "messages": [{"content": "model: fast"}], "n": 1 }"#;
        let b = parse(src).expect("valid");
        let out = b.for_model("llama-3.1-8b-instant");
        let expect = src.replacen(r#""fast""#, r#""llama-3.1-8b-instant""#, 1);
        assert_eq!(std::str::from_utf8(&out).expect("utf8"), expect);
        assert_eq!(b.for_model("fast"), b.bytes, "same model: same bytes");
        let quoted = b.for_model("we\"ird");
        let v: serde_json::Value = serde_json::from_slice(&quoted).expect("still JSON");
        assert_eq!(v["model"], "we\"ird");
    }

    #[test]
    fn rejects_bad_bodies_with_the_right_error() {
        assert!(matches!(parse("not json"), Err(BodyError::NotJson(_))));
        assert!(matches!(parse("[1,2]"), Err(BodyError::NotJson(_))));
        assert!(matches!(
            parse(r#"{"model": "a""#),
            Err(BodyError::NotJson(_))
        ));
        assert_eq!(parse(r#"{"messages": []}"#), Err(BodyError::MissingModel));
        assert_eq!(parse(r#"{"model": ""}"#), Err(BodyError::MissingModel));
        assert_eq!(parse(r#"{"model": "a\u0001b"}"#), Err(BodyError::BadModel));
        let long = format!(r#"{{"model": "{}"}}"#, "m".repeat(MAX_MODEL_LEN + 1));
        assert_eq!(parse(&long), Err(BodyError::BadModel));
        let longest = format!(r#"{{"model": "{}"}}"#, "m".repeat(MAX_MODEL_LEN));
        assert!(parse(&longest).is_ok());
        assert_eq!(
            parse(r#"{"model": 42}"#),
            Err(BodyError::InvalidField {
                field: "model",
                expected: "a string"
            })
        );
        assert_eq!(
            parse(r#"{"model": "m", "stream": "yes"}"#),
            Err(BodyError::InvalidField {
                field: "stream",
                expected: "a boolean"
            })
        );
    }
}
