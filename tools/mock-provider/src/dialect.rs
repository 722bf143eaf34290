//! Which provider a request speaks, told from its path (and, for the one path
//! two providers share, a header): OpenAI, Anthropic Messages or Gemini. The
//! dialect picks the handler and the error envelope; it is decided before the
//! body is read so that every error, even a bad key, answers in it.

use hyper::header::HeaderMap;

/// A provider's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`
    /// (also without `/v1`), and every path no other dialect claims.
    OpenAi,
    /// `/v1/messages…`, and `/v1/models…` when `anthropic-version` is sent
    /// (Anthropic's SDKs always send it; OpenAI's never do).
    Anthropic,
    /// `/v1beta/…` and `/v1/…` (google-genai 3 calls the GA `v1` API by
    /// default): `models/{model}:generateContent` and friends, told from
    /// OpenAI's `/v1/models` by the `:` of the action or by Google's headers.
    Gemini,
}

/// The header every Anthropic client sends, e.g. `anthropic-version: 2023-06-01`.
pub const ANTHROPIC_VERSION: &str = "anthropic-version";

/// Headers only Google's clients send: the key, and the SDK's name.
const GOOGLE_HEADERS: [&str; 2] = ["x-goog-api-key", "x-goog-api-client"];

impl Dialect {
    /// The dialect of a request. The OpenAI paths are tried first and cost two
    /// prefix checks: the benchmarks run through here.
    pub fn of(path: &str, headers: &HeaderMap) -> Dialect {
        if let Some(rest) = path.strip_prefix("/v1/") {
            if rest == "messages" || rest.starts_with("messages/") {
                return Dialect::Anthropic;
            }
            if rest == "models" || rest.starts_with("models/") {
                if headers.contains_key(ANTHROPIC_VERSION) {
                    return Dialect::Anthropic;
                }
                if rest.contains(':') || GOOGLE_HEADERS.iter().any(|h| headers.contains_key(*h)) {
                    return Dialect::Gemini;
                }
            }
            return Dialect::OpenAi;
        }
        if path.starts_with("/v1beta/") {
            return Dialect::Gemini;
        }
        Dialect::OpenAi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn paths_and_the_version_header_pick_the_dialect() {
        let plain = HeaderMap::new();
        let mut anthropic = HeaderMap::new();
        anthropic.insert(ANTHROPIC_VERSION, HeaderValue::from_static("2023-06-01"));
        let mut google = HeaderMap::new();
        google.insert("x-goog-api-key", HeaderValue::from_static("k"));
        let cases = [
            ("/v1/chat/completions", &plain, Dialect::OpenAi),
            ("/chat/completions", &plain, Dialect::OpenAi),
            ("/v1/models", &plain, Dialect::OpenAi),
            ("/v1/models", &anthropic, Dialect::Anthropic),
            ("/v1/models/claude-x", &anthropic, Dialect::Anthropic),
            ("/v1/messages", &plain, Dialect::Anthropic),
            ("/v1/messages/count_tokens", &plain, Dialect::Anthropic),
            ("/v1/messagesx", &plain, Dialect::OpenAi),
            ("/v1beta/models/g:generateContent", &plain, Dialect::Gemini),
            ("/v1beta/models", &anthropic, Dialect::Gemini),
            (
                "/v1/models/g:streamGenerateContent",
                &plain,
                Dialect::Gemini,
            ),
            ("/v1/models", &google, Dialect::Gemini),
            ("/v1/models/g", &google, Dialect::Gemini),
            ("/nope", &plain, Dialect::OpenAi),
        ];
        for (path, headers, dialect) in cases {
            assert_eq!(Dialect::of(path, headers), dialect, "{path}");
        }
    }
}
