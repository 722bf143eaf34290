//! The file as written: a serde mirror of `gateway.yaml`, every struct with
//! `deny_unknown_fields` so a typo is an error, never silently ignored.
//! Nothing here is trusted yet; `validate` turns it into [`super::Config`].

use super::units::{HumanDuration, HumanSize};
use super::Strategy;
use crate::providers::ProviderType;
use serde::Deserialize;

/// The top-level keys, in the order they are read.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "admin_listen",
    "access_log",
    "cors",
    "connections",
    "auth",
    "store",
    "routing",
    "providers",
    "models",
];

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(RawListen),
    Many(Vec<RawListen>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<RawListen> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// A `listen` entry: `"ip:port"`, or `{addr, tls: {cert, key}}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawListen {
    Addr(String),
    Entry(RawListenEntry),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListenEntry {
    pub addr: String,
    pub tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Optional: with `admin_key` alone, team keys come from the store.
    #[serde(default)]
    pub keys: Vec<RawGatewayKey>,
    pub admin_key: Option<String>,
    pub per_ip: Option<RawPerIp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGatewayKey {
    pub name: String,
    pub key: Option<String>,
    pub key_sha256: Option<String>,
    pub models: Option<Vec<String>>,
    pub rate_limit: Option<RawRateLimit>,
    pub budget: Option<RawBudget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub usd: f64,
    /// Read as text and checked in validation: a bad word is then one
    /// problem among the others of `auth`, not the end of reading it.
    pub period: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerIp {
    pub rpm: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCors {
    pub allow_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnections {
    pub request_head: Option<HumanDuration>,
    pub body: Option<HumanDuration>,
    pub keepalive_idle: Option<HumanDuration>,
    pub max_per_ip: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub strategy: Option<Strategy>,
    pub max_attempts: Option<u32>,
    pub cooldown: Option<HumanDuration>,
    pub bad_key_cooldown: Option<HumanDuration>,
    pub circuit_breaker: Option<RawBreaker>,
    pub health_check: Option<RawHealthCheck>,
    pub timeouts: Option<RawTimeouts>,
    pub max_body: Option<HumanSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failures: Option<u32>,
    pub open_for: Option<HumanDuration>,
    pub half_open_probes: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect: Option<HumanDuration>,
    pub first_byte: Option<HumanDuration>,
    pub idle: Option<HumanDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ProviderType,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub api_keys: Option<Vec<String>>,
    pub api_version: Option<String>,
    pub price: Option<RawPrice>,
    pub models: Vec<RawProviderModel>,
}

/// `price: free`, or `{ input, output, cached_input? }` in USD per million
/// tokens.
#[derive(Debug, Clone)]
pub enum RawPrice {
    /// A word; only `free` is one (checked in validation, so that a typo is
    /// reported with its own message rather than as a type error).
    Named(String),
    Numbers(RawPriceNumbers),
}

/// By hand for the same reason as [`RawProviderModel`]: an unknown key
/// inside the numbers is reported as itself.
impl<'de> Deserialize<'de> for RawPrice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawPrice;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`free`, or { input, output, cached_input }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawPrice::Named(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RawPriceNumbers::deserialize(d).map(RawPrice::Numbers)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceNumbers {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
}

/// A model an instance serves: its name, or its name with options.
#[derive(Debug, Clone)]
pub enum RawProviderModel {
    Name(String),
    Detailed(RawModelOptions),
}

/// By hand rather than `untagged`: an untagged enum buffers the value and
/// loses both the YAML's scalar types and the precise error (an unknown
/// option would be reported as "did not match any variant").
impl<'de> Deserialize<'de> for RawProviderModel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawProviderModel;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a model name, or { name, max_output_tokens, reasoning, price }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawProviderModel::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                RawModelOptions::deserialize(d).map(RawProviderModel::Detailed)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelOptions {
    pub name: String,
    pub max_output_tokens: Option<u64>,
    pub reasoning: Option<bool>,
    pub price: Option<RawPrice>,
}

impl RawProviderModel {
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Detailed(d) => &d.name,
        }
    }
}

impl RawProvider {
    /// The names of the models it lists, in order.
    pub fn model_names(&self) -> Vec<String> {
        self.models.iter().map(|m| m.name().to_string()).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: String,
    pub strategy: Option<Strategy>,
    pub targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub weight: Option<u32>,
}

/// The sections of the file, each as far as it could be read.
#[derive(Default)]
pub struct Sections {
    pub listen: Option<OneOrMany>,
    pub admin_listen: Option<String>,
    pub access_log: Option<String>,
    pub cors: RawCors,
    pub connections: RawConnections,
    pub auth: Option<RawAuth>,
    pub store: Option<String>,
    pub routing: RawRouting,
    pub providers: Option<Vec<Option<RawProvider>>>,
    pub models: Vec<Option<RawModel>>,
}

/// A `${VAR}` that was unset (and had no default), and where.
#[derive(Debug, Clone)]
pub struct Unset {
    pub path: String,
    pub var: String,
}
