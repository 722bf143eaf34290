//! The API routes the gateway proxies, as clients name them, the dialect
//! each speaks, and which route a provider of another dialect is called on
//! in its place.

use super::Dialect;

/// A proxied API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoute {
    ChatCompletions,
    Completions,
    Embeddings,
    /// Anthropic's Messages API (`/v1/messages`, also `?beta=true`).
    Messages,
    /// Anthropic's `/v1/messages/count_tokens`.
    CountTokens,
    /// OpenAI's Responses API (`/v1/responses`).
    Responses,
}

impl ApiRoute {
    pub fn from_path(path: &str) -> Option<Self> {
        match path {
            "/v1/chat/completions" | "/chat/completions" => Some(Self::ChatCompletions),
            "/v1/completions" | "/completions" => Some(Self::Completions),
            "/v1/embeddings" | "/embeddings" => Some(Self::Embeddings),
            "/v1/messages" | "/messages" => Some(Self::Messages),
            "/v1/messages/count_tokens" | "/messages/count_tokens" => Some(Self::CountTokens),
            "/v1/responses" | "/responses" => Some(Self::Responses),
            _ => None,
        }
    }

    /// The dialect a client of this route speaks (and is answered in,
    /// errors included).
    pub const fn dialect(self) -> Dialect {
        match self {
            Self::ChatCompletions | Self::Completions | Self::Embeddings => Dialect::OpenAi,
            Self::Messages | Self::CountTokens => Dialect::Anthropic,
            Self::Responses => Dialect::Responses,
        }
    }

    /// The route a provider speaking `upstream` is called on to serve this
    /// one: the same route in the same dialect; a conversation (chat,
    /// messages, responses) as the other dialect's conversation; `None` when
    /// that provider cannot serve it (completions and embeddings exist only
    /// in OpenAI's dialect, and only Anthropic counts tokens exactly). A
    /// provider that serves Responses natively is called on `Responses`
    /// instead (see `providers`).
    pub const fn upstream(self, upstream: Dialect) -> Option<ApiRoute> {
        match (self, upstream) {
            (Self::ChatCompletions | Self::Messages | Self::Responses, Dialect::OpenAi) => {
                Some(Self::ChatCompletions)
            }
            (Self::ChatCompletions | Self::Messages | Self::Responses, Dialect::Anthropic) => {
                Some(Self::Messages)
            }
            (Self::ChatCompletions | Self::Messages | Self::Responses, Dialect::Gemini) => {
                Some(Self::Messages)
            }
            (_, Dialect::Responses) => None,
            (Self::Completions | Self::Embeddings, Dialect::OpenAi) => Some(self),
            (Self::CountTokens, Dialect::Anthropic) => Some(self),
            (Self::Completions | Self::Embeddings | Self::CountTokens, _) => None,
        }
    }

    /// The path below a base URL that appends routes (OpenAI's family and
    /// Anthropic).
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
            Self::Messages => "/messages",
            Self::CountTokens => "/messages/count_tokens",
            Self::Responses => "/responses",
        }
    }

    /// A short, bounded label (logs, metrics).
    pub const fn label(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::Responses => "responses",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_accept_with_and_without_v1() {
        assert_eq!(
            ApiRoute::from_path("/v1/embeddings"),
            Some(ApiRoute::Embeddings)
        );
        assert_eq!(
            ApiRoute::from_path("/chat/completions"),
            Some(ApiRoute::ChatCompletions)
        );
        assert_eq!(ApiRoute::from_path("/v1/chat"), None);
        assert_eq!(ApiRoute::Completions.dialect(), Dialect::OpenAi);
        assert_eq!(
            ApiRoute::from_path("/v1/messages"),
            Some(ApiRoute::Messages)
        );
        assert_eq!(ApiRoute::Messages.dialect(), Dialect::Anthropic);
    }

    #[test]
    fn conversations_cross_dialects_and_the_rest_stays_home() {
        use Dialect::*;
        let chat = ApiRoute::ChatCompletions;
        let messages = ApiRoute::Messages;
        assert_eq!(messages.upstream(OpenAi), Some(chat));
        assert_eq!(chat.upstream(Anthropic), Some(messages));
        assert_eq!(chat.upstream(OpenAi), Some(chat));
        assert_eq!(messages.upstream(Gemini), Some(messages));
        assert_eq!(ApiRoute::Embeddings.upstream(Gemini), None);
        assert_eq!(ApiRoute::Completions.upstream(Anthropic), None);
        assert_eq!(ApiRoute::CountTokens.upstream(OpenAi), None);
        assert_eq!(
            ApiRoute::CountTokens.upstream(Anthropic),
            Some(ApiRoute::CountTokens)
        );
    }
}
