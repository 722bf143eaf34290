//! The API routes the gateway proxies, as clients name them, and the
//! dialect each speaks.

use super::Dialect;

/// A proxied API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoute {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl ApiRoute {
    pub fn from_path(path: &str) -> Option<Self> {
        match path {
            "/v1/chat/completions" | "/chat/completions" => Some(Self::ChatCompletions),
            "/v1/completions" | "/completions" => Some(Self::Completions),
            "/v1/embeddings" | "/embeddings" => Some(Self::Embeddings),
            _ => None,
        }
    }

    /// The dialect a client of this route speaks (and is answered in,
    /// errors included).
    pub const fn dialect(self) -> Dialect {
        match self {
            Self::ChatCompletions | Self::Completions | Self::Embeddings => Dialect::OpenAi,
        }
    }

    /// The path below an OpenAI-style base URL.
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
        }
    }

    /// A short, bounded label (logs, metrics).
    pub const fn label(self) -> &'static str {
        match self {
            Self::ChatCompletions => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
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
    }
}
