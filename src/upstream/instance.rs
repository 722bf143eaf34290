//! An instance ready for the request path: its auth headers and `Host` built
//! once at load (the key never gets formatted again), its endpoint pool, and
//! the peer settings for Pingora's connector.

use super::EndpointPool;
use crate::config::{model_price, Instance, ModelOptions, Price, Secret, Timeouts};
use crate::dialect::{ApiRoute, Dialect};
use crate::providers::{
    models_path, reasons_by_name, upstream_path, AuthStyle, BaseUrl, ProviderType, UrlStyle,
};
use http::header::{HeaderName, HeaderValue};
use pingora::upstreams::peer::HttpPeer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a pooled upstream connection may sit idle before it is closed.
pub const POOL_IDLE: Duration = Duration::from_secs(30);

pub struct Upstream {
    pub id: Arc<str>,
    pub kind: ProviderType,
    pub models: Vec<String>,
    pub dialect: Dialect,
    /// Serves `/v1/responses` itself (OpenAI, Azure).
    pub native_responses: bool,
    urls: UrlStyle,
    pub base: BaseUrl,
    pub api_version: Option<String>,
    pub endpoint: Arc<EndpointPool>,
    pub host_header: HeaderValue,
    /// The key's headers (and any the auth style pairs with it, such as
    /// `anthropic-version`). Sensitive: never logged, never shown by `Debug`.
    pub auth: Vec<(HeaderName, HeaderValue)>,
    connect_timeout: Duration,
    options: HashMap<String, ModelOptions>,
    price: Option<Price>,
}

#[derive(Debug, thiserror::Error)]
#[error("instance `{0}`: its key or host cannot be sent in an HTTP header")]
pub struct BadHeader(pub String);

impl Upstream {
    pub fn new(
        inst: &Instance,
        endpoint: Arc<EndpointPool>,
        timeouts: &Timeouts,
    ) -> Result<Self, BadHeader> {
        let bad = || BadHeader(inst.id.clone());
        let spec = inst.kind.spec();
        let auth = match &inst.api_key {
            None => Vec::new(),
            Some(key) => auth_headers(spec.auth, key).ok_or_else(bad)?,
        };
        Ok(Self {
            id: Arc::from(inst.id.as_str()),
            kind: inst.kind,
            models: inst.models.clone(),
            dialect: spec.dialect,
            native_responses: spec.responses,
            urls: spec.urls,
            base: inst.base_url.clone(),
            api_version: inst.api_version.clone(),
            endpoint,
            host_header: HeaderValue::from_str(&inst.base_url.host_header()).map_err(|_| bad())?,
            auth,
            connect_timeout: timeouts.connect,
            options: inst.options.clone(),
            price: inst.price,
        })
    }

    /// The path that serves `route` for `model` (`stream`: Gemini streams
    /// from another method).
    pub fn path(&self, route: ApiRoute, model: &str, stream: bool) -> String {
        upstream_path(
            self.urls,
            &self.base,
            route,
            model,
            stream,
            self.api_version.as_deref(),
        )
    }

    /// `model`'s output limit, if configured, and whether it takes a
    /// reasoning effort (configured, else guessed from its name).
    pub fn model_options(&self, model: &str) -> (Option<u64>, bool) {
        let options = self.options.get(model).copied().unwrap_or_default();
        let reasoning = options.reasoning.unwrap_or_else(|| reasons_by_name(model));
        (options.max_output_tokens, reasoning)
    }

    /// What `model` costs here (see [`Instance::price_of`]).
    pub fn price_of(&self, model: &str) -> Option<Price> {
        let own = self.options.get(model).and_then(|o| o.price);
        model_price(self.kind, own, self.price, model)
    }

    /// The path of the instance's model list, which the health check
    /// reads with the instance's key.
    pub fn models_path(&self) -> String {
        models_path(self.urls, &self.base, self.api_version.as_deref())
    }

    /// The peer for one attempt at `addr`.
    pub fn peer(&self, addr: SocketAddr) -> HttpPeer {
        let mut peer = HttpPeer::new(addr, self.base.tls, self.base.host.clone());
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer
    }
}

/// The headers that carry `key` in `style`, marked sensitive; `None` when
/// the key cannot be sent in a header.
fn auth_headers(style: AuthStyle, key: &Secret) -> Option<Vec<(HeaderName, HeaderValue)>> {
    let sensitive = |text: &str| {
        let mut value = HeaderValue::from_str(text).ok()?;
        value.set_sensitive(true);
        Some(value)
    };
    let key = key.expose();
    Some(match style {
        AuthStyle::Bearer => vec![(
            http::header::AUTHORIZATION,
            sensitive(&format!("Bearer {key}"))?,
        )],
        AuthStyle::ApiKeyHeader => vec![(HeaderName::from_static("api-key"), sensitive(key)?)],
        AuthStyle::AnthropicKey { version } => vec![
            (HeaderName::from_static("x-api-key"), sensitive(key)?),
            (
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(version),
            ),
        ],
        AuthStyle::GoogApiKey => vec![(HeaderName::from_static("x-goog-api-key"), sensitive(key)?)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(style: AuthStyle) -> Vec<(String, String, bool)> {
        let key = Secret::new("sk-test".to_string());
        (auth_headers(style, &key).unwrap().into_iter())
            .map(|(n, v)| {
                (
                    n.to_string(),
                    v.to_str().unwrap().to_string(),
                    v.is_sensitive(),
                )
            })
            .collect()
    }

    #[test]
    fn every_auth_style_builds_its_headers() {
        let s = |a: &str, b: &str, c| (a.to_string(), b.to_string(), c);
        assert_eq!(
            names(AuthStyle::Bearer),
            vec![s("authorization", "Bearer sk-test", true)]
        );
        assert_eq!(
            names(AuthStyle::ApiKeyHeader),
            vec![s("api-key", "sk-test", true)]
        );
        assert_eq!(
            names(AuthStyle::AnthropicKey {
                version: "2023-06-01"
            }),
            vec![
                s("x-api-key", "sk-test", true),
                s("anthropic-version", "2023-06-01", false)
            ]
        );
        assert_eq!(
            names(AuthStyle::GoogApiKey),
            vec![s("x-goog-api-key", "sk-test", true)]
        );
        let bad = Secret::new("line\nbreak");
        assert!(auth_headers(AuthStyle::Bearer, &bad).is_none());
    }
}
