//! Provider types as data. Owns what differs between providers on the wire
//! — default base URL, how the key is sent, which dialect they speak, how an
//! API route maps onto the upstream path — and nothing about routing. The OpenAI-compatible family is
//! one table (`ProviderType::spec`); matches on the type are exhaustive, so a
//! new type cannot be added without deciding each of these.

mod base_url;
mod prices;
mod stream_options;

pub use base_url::{redacted, BaseUrl, BaseUrlError};
pub use prices::{shipped_price, Price, PRICES_AS_OF};

use crate::dialect::{ApiRoute, Dialect};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

/// Every provider type a `providers:` entry can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderType {
    Openai,
    Groq,
    Cerebras,
    Openrouter,
    Together,
    Fireworks,
    Mistral,
    Deepseek,
    Xai,
    Sambanova,
    Perplexity,
    OpenaiCompatible,
    Azure,
    Anthropic,
    AnthropicCompatible,
    Gemini,
}

/// How an instance's key travels upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`
    Bearer,
    /// `api-key: <key>` (Azure OpenAI)
    ApiKeyHeader,
    /// `x-api-key: <key>` plus `anthropic-version: <version>` (Anthropic)
    AnthropicKey { version: &'static str },
    /// `x-goog-api-key: <key>` (Gemini)
    GoogApiKey,
}

/// How an API route becomes an upstream path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// The route's path appended to the base URL's path.
    Append,
    /// Azure's deployment URLs with an `api-version` query.
    AzureDeployment,
    /// Gemini's `models/{model}:generateContent` (and
    /// `:streamGenerateContent?alt=sse` for a stream).
    GeminiModel,
}

/// The static facts about a provider type.
#[derive(Debug, Clone, Copy)]
pub struct ProviderSpec {
    /// `None`: the user must give `base_url`.
    pub default_base_url: Option<&'static str>,
    pub auth: AuthStyle,
    /// The wire format the provider speaks.
    pub dialect: Dialect,
    pub urls: UrlStyle,
    /// Serves OpenAI's Responses API itself (`/v1/responses` passes
    /// through instead of being translated to chat).
    pub responses: bool,
}

/// The `anthropic-version` header every Anthropic request carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

const fn openai_like(url: &'static str) -> ProviderSpec {
    ProviderSpec {
        default_base_url: Some(url),
        auth: AuthStyle::Bearer,
        dialect: Dialect::OpenAi,
        urls: UrlStyle::Append,
        responses: false,
    }
}

impl ProviderType {
    /// The table: base URLs from each provider's public API documentation.
    pub const fn spec(self) -> ProviderSpec {
        match self {
            Self::Openai => ProviderSpec {
                responses: true,
                ..openai_like("https://api.openai.com/v1")
            },
            Self::Groq => openai_like("https://api.groq.com/openai/v1"),
            Self::Cerebras => openai_like("https://api.cerebras.ai/v1"),
            Self::Openrouter => openai_like("https://openrouter.ai/api/v1"),
            Self::Together => openai_like("https://api.together.xyz/v1"),
            Self::Fireworks => openai_like("https://api.fireworks.ai/inference/v1"),
            Self::Mistral => openai_like("https://api.mistral.ai/v1"),
            Self::Deepseek => openai_like("https://api.deepseek.com/v1"),
            Self::Xai => openai_like("https://api.x.ai/v1"),
            Self::Sambanova => openai_like("https://api.sambanova.ai/v1"),
            Self::Perplexity => openai_like("https://api.perplexity.ai"),
            Self::OpenaiCompatible => ProviderSpec {
                default_base_url: None,
                auth: AuthStyle::Bearer,
                dialect: Dialect::OpenAi,
                urls: UrlStyle::Append,
                responses: false,
            },
            Self::Azure => ProviderSpec {
                default_base_url: None,
                auth: AuthStyle::ApiKeyHeader,
                dialect: Dialect::OpenAi,
                urls: UrlStyle::AzureDeployment,
                responses: true,
            },
            Self::Anthropic => ProviderSpec {
                default_base_url: Some("https://api.anthropic.com/v1"),
                auth: AuthStyle::AnthropicKey {
                    version: ANTHROPIC_VERSION,
                },
                dialect: Dialect::Anthropic,
                urls: UrlStyle::Append,
                responses: false,
            },
            Self::AnthropicCompatible => ProviderSpec {
                default_base_url: None,
                auth: AuthStyle::AnthropicKey {
                    version: ANTHROPIC_VERSION,
                },
                dialect: Dialect::Anthropic,
                urls: UrlStyle::Append,
                responses: false,
            },
            Self::Gemini => ProviderSpec {
                default_base_url: Some("https://generativelanguage.googleapis.com/v1beta"),
                auth: AuthStyle::GoogApiKey,
                dialect: Dialect::Gemini,
                urls: UrlStyle::GeminiModel,
                responses: false,
            },
        }
    }

    /// The name as written in `gateway.yaml` (and accepted as a model prefix).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Groq => "groq",
            Self::Cerebras => "cerebras",
            Self::Openrouter => "openrouter",
            Self::Together => "together",
            Self::Fireworks => "fireworks",
            Self::Mistral => "mistral",
            Self::Deepseek => "deepseek",
            Self::Xai => "xai",
            Self::Sambanova => "sambanova",
            Self::Perplexity => "perplexity",
            Self::OpenaiCompatible => "openai-compatible",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::AnthropicCompatible => "anthropic-compatible",
            Self::Gemini => "gemini",
        }
    }

    pub const ALL: [ProviderType; 16] = [
        Self::Openai,
        Self::Groq,
        Self::Cerebras,
        Self::Openrouter,
        Self::Together,
        Self::Fireworks,
        Self::Mistral,
        Self::Deepseek,
        Self::Xai,
        Self::Sambanova,
        Self::Perplexity,
        Self::OpenaiCompatible,
        Self::Azure,
        Self::Anthropic,
        Self::AnthropicCompatible,
        Self::Gemini,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The upstream request path (with query) for `route` on an instance.
///
/// Azure addresses a deployment (the model name) and pins the API version in
/// the query; Gemini names the model in the path and streams from another
/// method; everyone else appends the route to the base URL's path.
pub fn upstream_path(
    urls: UrlStyle,
    base: &BaseUrl,
    route: ApiRoute,
    model: &str,
    stream: bool,
    api_version: Option<&str>,
) -> String {
    match urls {
        UrlStyle::Append => format!("{}{}", base.path_prefix, route.suffix()),
        // Azure serves Responses on its v1 API, the deployment in the body.
        UrlStyle::AzureDeployment if route == ApiRoute::Responses => {
            format!("{}/openai/v1/responses", base.path_prefix)
        }
        UrlStyle::AzureDeployment => format!(
            "{}/openai/deployments/{}{}?api-version={}",
            base.path_prefix,
            percent_encode_segment(model),
            route.suffix(),
            api_version.unwrap_or(AZURE_DEFAULT_API_VERSION)
        ),
        UrlStyle::GeminiModel => {
            // The API's own names are `models/…`; a configured name may
            // carry that prefix or not.
            let model = model.strip_prefix("models/").unwrap_or(model);
            let method = if stream {
                ":streamGenerateContent?alt=sse"
            } else {
                ":generateContent"
            };
            format!(
                "{}/models/{}{method}",
                base.path_prefix,
                percent_encode_segment(model)
            )
        }
    }
}

/// The path of the provider's model list, free with any valid key: OpenAI's
/// family, Anthropic (`/v1/models`) and Gemini (`/v1beta/models`) all append
/// `/models` to their base URL; Azure lists at `/openai/models`.
pub fn models_path(urls: UrlStyle, base: &BaseUrl, api_version: Option<&str>) -> String {
    match urls {
        UrlStyle::Append | UrlStyle::GeminiModel => format!("{}/models", base.path_prefix),
        UrlStyle::AzureDeployment => format!(
            "{}/openai/models?api-version={}",
            base.path_prefix,
            api_version.unwrap_or(AZURE_DEFAULT_API_VERSION)
        ),
    }
}

/// Whether a model takes a reasoning effort (OpenAI's `reasoning_effort`,
/// Anthropic's `thinking`, Gemini's `thinkingConfig`), judged by its name
/// when the config does not say (`reasoning:` on the model). Sending it to
/// a model that does not reason is a 400 at OpenAI, so an unknown name is
/// taken not to.
pub fn reasons_by_name(model: &str) -> bool {
    let m = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    const PREFIXES: &[&str] = &[
        "o1",
        "o3",
        "o4",
        "gpt-5",
        "gpt-oss",
        "deepseek-reasoner",
        "deepseek-r1",
        "qwq",
        "qwen3",
        "magistral",
        "grok-3-mini",
        "grok-4",
        "gemini-2.5",
        "gemini-3",
        "claude-3-7",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-haiku-4",
    ];
    PREFIXES.iter().any(|p| m.starts_with(p))
}

/// The GA Azure OpenAI data-plane version used when `api_version` is unset.
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

/// Every byte but RFC 3986's unreserved characters is escaped.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_for_every_type() {
        for t in ProviderType::ALL {
            assert_eq!(ProviderType::from_name(t.name()), Some(t));
        }
        assert_eq!(ProviderType::from_name("grok"), None);
    }

    #[test]
    fn only_openai_format_providers_are_asked_for_stream_usage() {
        for t in ProviderType::ALL {
            if t.accepts_stream_options() {
                assert_eq!(t.spec().dialect, Dialect::OpenAi, "{}", t.name());
            }
        }
        assert!(ProviderType::Openai.accepts_stream_options());
        assert!(!ProviderType::Mistral.accepts_stream_options());
    }

    #[test]
    fn openai_family_appends_route_to_base_path() {
        let base = BaseUrl::parse("https://api.groq.com/openai/v1").expect("valid");
        let p = upstream_path(
            UrlStyle::Append,
            &base,
            ApiRoute::ChatCompletions,
            "m",
            false,
            None,
        );
        assert_eq!(p, "/openai/v1/chat/completions");
    }

    #[test]
    fn azure_uses_deployment_and_api_version() {
        let base = BaseUrl::parse("https://res.openai.azure.com").expect("valid");
        let p = upstream_path(
            UrlStyle::AzureDeployment,
            &base,
            ApiRoute::Embeddings,
            "my dep",
            false,
            Some("2024-06-01"),
        );
        assert_eq!(
            p,
            "/openai/deployments/my%20dep/embeddings?api-version=2024-06-01"
        );
    }

    #[test]
    fn gemini_names_the_model_and_the_method() {
        let base =
            BaseUrl::parse("https://generativelanguage.googleapis.com/v1beta").expect("valid");
        let path = |model, stream| {
            let urls = ProviderType::Gemini.spec().urls;
            upstream_path(urls, &base, ApiRoute::Messages, model, stream, None)
        };
        assert_eq!(
            path("gemini-2.5-flash", false),
            "/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            path("models/gemini-2.5-flash", true),
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn anthropic_types_append_the_messages_routes() {
        let base = BaseUrl::parse("https://api.anthropic.com/v1").expect("valid");
        for t in [ProviderType::Anthropic, ProviderType::AnthropicCompatible] {
            let spec = t.spec();
            let p = upstream_path(spec.urls, &base, ApiRoute::CountTokens, "m", false, None);
            assert_eq!(p, "/v1/messages/count_tokens");
            assert_eq!(spec.dialect, Dialect::Anthropic);
        }
    }
}
