//! `gateway.yaml` → a validated [`Config`]: plain data, compared with `==`,
//! holding no Pingora types. Two stages: `raw` mirrors the
//! file with `deny_unknown_fields`; `validate` turns it into the truth and
//! collects *every* problem with its key path and line, so one run of
//! `modelgate -t` shows them all. Secrets stay in [`Secret`]; no message
//! built here ever contains a key or the config text.

mod diagnostics;
mod interpolate;
mod load;
mod pingora_yaml;
mod raw;
mod secret;
mod strategy;
mod units;
mod validate;
mod validate_auth;
mod validate_providers;

pub use diagnostics::{ConfigError, ConfigErrors};
pub use interpolate::{interpolate, InterpolateError, Interpolated};
pub use load::{load_file, load_str};
pub use pingora_yaml::{check_daemon_paths, load_server_conf, ServerConfError};
pub use secret::Secret;
pub use strategy::Strategy;
pub use units::{parse_duration, parse_size};

pub use crate::providers::Price;
use crate::providers::{BaseUrl, ProviderType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A loaded config plus the warnings worth logging at start (skipped
/// instances, an open gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: Vec<Listen>,
    pub admin_listen: Option<SocketAddr>,
    pub access_log: AccessLog,
    pub cors: Cors,
    pub connections: Connections,
    /// Empty: an open gateway (unless the store holds team keys).
    pub auth: Vec<GatewayKey>,
    /// Enables the admin API (and admin reads of `/v1/usage`).
    pub admin_key: Option<Secret>,
    /// Requests per minute per client address, checked before auth.
    pub per_ip: Option<PerIp>,
    /// Where usage records and run-time team keys are kept.
    pub store: Store,
    pub routing: Routing,
    /// Every usable instance, in config order (`api_keys` expanded).
    pub instances: Vec<Instance>,
    pub aliases: Vec<Alias>,
}

/// An API listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    /// Serve HTTPS with these PEM files (read at start, so a reload picks up
    /// renewed certificates).
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Where the one-JSON-line-per-request access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    Stdout,
    Stderr,
    /// Appended to this file.
    File(std::path::PathBuf),
    Off,
}

/// Which browser origins may call the API (empty: CORS is off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// Exact origins (`https://chat.example.com`), or `*` for any.
    pub allow_origins: Vec<String>,
}

/// Limits on client connections, against slow and idle clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// A request head must arrive whole within this.
    pub request_head: Duration,
    /// A request body must arrive whole within this.
    pub body: Duration,
    /// An idle keep-alive connection is closed after this.
    pub keepalive_idle: Duration,
    /// Open connections per client address.
    pub max_per_ip: u32,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            request_head: Duration::from_secs(10),
            body: Duration::from_secs(60),
            keepalive_idle: Duration::from_secs(60),
            max_per_ip: 1024,
        }
    }
}

/// A client key of the gateway: only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayKey {
    pub name: String,
    pub sha256: [u8; 32],
    /// Globs over requested model names; `["*"]` by default.
    pub models: Vec<String>,
    pub rate_limit: RateLimit,
    pub budget: Option<Budget>,
}

/// A key's rate limits (each unset: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute.
    pub tpm: Option<u64>,
}

/// A key's spending limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// US dollars per period (finite, >= 0).
    pub usd: f64,
    pub period: BudgetPeriod,
}

/// A budget's period: UTC calendar day / ISO week (from Monday) / month,
/// or the key's whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BudgetPeriod {
    Daily,
    Weekly,
    Monthly,
    Total,
}

impl BudgetPeriod {
    pub const ALL: [Self; 4] = [Self::Daily, Self::Weekly, Self::Monthly, Self::Total];

    /// The period `name()` names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Total => "total",
        }
    }
}

/// The limit per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerIp {
    pub rpm: u32,
}

/// The embedded database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// A SQLite file (`store: sqlite:<path>`; default `modelgate.db`
    /// beside `gateway.yaml`).
    Sqlite(std::path::PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub strategy: Strategy,
    pub max_attempts: u32,
    pub cooldown: Duration,
    /// How long a key the provider rejected (401/403/402) stays out.
    pub bad_key_cooldown: Duration,
    pub circuit_breaker: CircuitBreakerConf,
    pub health_check: HealthCheckConf,
    pub timeouts: Timeouts,
    pub max_body: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConf {
    pub failures: u32,
    pub open_for: Duration,
    pub half_open_probes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheckConf {
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    pub connect: Duration,
    /// Request sent → response head received.
    pub first_byte: Duration,
    /// Longest gap between two body reads.
    pub idle: Duration,
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            strategy: Strategy::Priority,
            max_attempts: 4,
            cooldown: Duration::from_secs(60),
            bad_key_cooldown: Duration::from_secs(3600),
            circuit_breaker: CircuitBreakerConf {
                failures: 5,
                open_for: Duration::from_secs(30),
                half_open_probes: 1,
            },
            health_check: HealthCheckConf {
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(5),
            },
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                first_byte: Duration::from_secs(120),
                idle: Duration::from_secs(120),
            },
            max_body: 32 * 1024 * 1024,
        }
    }
}

/// One provider account = one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Unique; `<entry>#<n>` when an entry lists several `api_keys`.
    pub id: String,
    /// The `id` of the `providers:` entry this came from.
    pub entry: String,
    pub kind: ProviderType,
    pub base_url: BaseUrl,
    /// `None` only for keyless endpoints (a local Ollama, vLLM, ...).
    pub api_key: Option<Secret>,
    pub api_version: Option<String>,
    pub models: Vec<String>,
    /// Options given for some of `models`, by name.
    pub options: HashMap<String, ModelOptions>,
    /// The entry's `price` (`free`, or its own numbers): every model of
    /// the instance without a price of its own.
    pub price: Option<Price>,
}

impl Instance {
    /// What one model costs on this instance: its own `price`, else the
    /// instance's, else the shipped table's for this provider type;
    /// `None`: unpriced (tokens are recorded, cost is `null`).
    pub fn price_of(&self, model: &str) -> Option<Price> {
        let own = self.options.get(model).and_then(|o| o.price);
        model_price(self.kind, own, self.price, model)
    }
}

/// A model's price: its own, else its instance's, else the shipped
/// table's for the provider type.
pub fn model_price(
    kind: ProviderType,
    own: Option<Price>,
    instance: Option<Price>,
    model: &str,
) -> Option<Price> {
    own.or(instance)
        .or_else(|| crate::providers::shipped_price(kind, model))
}

/// What an instance's entry says about one of its models.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelOptions {
    /// The most output tokens the model gives: a translated request's
    /// `max_tokens` is clamped to it, and an Anthropic upstream gets it
    /// when the client named none.
    pub max_output_tokens: Option<u64>,
    /// Whether the model takes a reasoning effort; unset: guessed from the
    /// name (see `upstream::Upstream::model_options`).
    pub reasoning: Option<bool>,
    /// This model's own price on this instance.
    pub price: Option<Price>,
}

/// An entry under `models:`: an alias, a group or a fallback chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub strategy: Option<Strategy>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// A `providers:` entry id or a provider type; `None`: any instance
    /// serving `model`.
    pub provider: Option<String>,
    /// `None`: the provider's first model.
    pub model: Option<String>,
    pub weight: u32,
}

#[cfg(test)]
mod tests;
