//! The raw sections → [`Config`], collecting every problem. Rules that are
//! not type errors live here: unique ids, exactly one key form, base URLs,
//! aliases that point somewhere, unset variables outside `api_key`.

use super::diagnostics::Problems;
use super::load::Sections;
use super::raw::{RawAuth, RawModel, RawProvider, RawRouting};
use super::{Alias, CircuitBreakerConf, Config, GatewayKey, HealthCheckConf, Instance, Loaded};
use super::{Routing, Target, Timeouts};
use crate::providers::{BaseUrl, ProviderType, WireFormat};
use crate::secret::Secret;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::net::SocketAddr;

/// A `${VAR}` that was unset (and had no default), and where.
#[derive(Debug, Clone)]
pub(super) struct Unset {
    pub path: String,
    pub var: String,
}

/// `providers[3].api_key` or `providers[3].api_keys[1]`: an unset key there
/// skips the instance; anywhere else it is an error.
fn is_provider_key_path(path: &str) -> bool {
    path.starts_with("providers[") && (path.ends_with(".api_key") || path.contains(".api_keys["))
}

pub(super) fn validate(s: Sections, unset: &[Unset], p: &mut Problems) -> Loaded {
    let mut warnings = Vec::new();
    for u in unset.iter().filter(|u| !is_provider_key_path(&u.path)) {
        p.at(
            &u.path,
            format!(
                "environment variable `{}` is not set (write `${{{}:-default}}` for a default)",
                u.var, u.var
            ),
        );
    }
    let listen = listeners(s.listen.map(|l| l.into_vec()), p);
    let admin_listen = s
        .admin_listen
        .and_then(|a| socket_addr(&a, "admin_listen", p));
    let auth = auth(s.auth, p);
    if auth.is_empty() {
        warnings.push(
            "auth: no gateway keys configured; the gateway is open to anyone who can reach it"
                .into(),
        );
    }
    let routing = routing(s.routing, p);
    let (instances, entries) = match s.providers {
        Some(list) => providers(list, unset, p, &mut warnings),
        None => {
            p.at("providers", "required: list at least one provider instance");
            (Vec::new(), Vec::new())
        }
    };
    let aliases = aliases(s.models, &entries, &instances, p);
    let config = Config {
        listen,
        admin_listen,
        auth,
        routing,
        instances,
        aliases,
    };
    Loaded { config, warnings }
}

fn socket_addr(s: &str, path: &str, p: &mut Problems) -> Option<SocketAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            p.at(
                path,
                format!("`{s}` is not an address like `0.0.0.0:8080` or `[::1]:8080`"),
            );
            None
        }
    }
}

fn listeners(raw: Option<Vec<String>>, p: &mut Problems) -> Vec<SocketAddr> {
    let raw = raw.unwrap_or_else(|| vec!["0.0.0.0:8080".into()]);
    if raw.is_empty() {
        p.at("listen", "must name at least one address");
    }
    let many = raw.len() > 1;
    raw.iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let path = if many {
                format!("listen[{i}]")
            } else {
                "listen".into()
            };
            socket_addr(a, &path, p)
        })
        .collect()
}

fn auth(raw: Option<RawAuth>, p: &mut Problems) -> Vec<GatewayKey> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, k) in raw
        .map(|a| a.keys)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let path = format!("auth.keys[{i}]");
        if k.name.trim().is_empty() {
            p.at(format!("{path}.name"), "must not be empty");
        } else if !names.insert(k.name.clone()) {
            p.at(
                format!("{path}.name"),
                format!("duplicate key name `{}`", k.name),
            );
        }
        let sha256 = match (k.key, k.key_sha256) {
            (Some(key), None) if !key.is_empty() => Some(Sha256::digest(key.as_bytes()).into()),
            (Some(_), None) => {
                p.at(format!("{path}.key"), "is empty");
                None
            }
            (None, Some(hex_digest)) => parse_sha256(&hex_digest, &format!("{path}.key_sha256"), p),
            (Some(_), Some(_)) => {
                p.at(&path, "give either `key` or `key_sha256`, not both");
                None
            }
            (None, None) => {
                p.at(&path, "needs `key` or `key_sha256`");
                None
            }
        };
        let models = k.models.unwrap_or_else(|| vec!["*".into()]);
        if models.iter().any(|m| m.is_empty()) {
            p.at(format!("{path}.models"), "model patterns must not be empty");
        }
        if let Some(sha256) = sha256 {
            out.push(GatewayKey {
                name: k.name,
                sha256,
                models,
            });
        }
    }
    out
}

fn parse_sha256(s: &str, path: &str, p: &mut Problems) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    match hex::decode_to_slice(s.trim(), &mut out) {
        Ok(()) => Some(out),
        Err(_) => {
            p.at(path, "must be 64 hex characters (the SHA-256 of the key)");
            None
        }
    }
}

fn routing(raw: RawRouting, p: &mut Problems) -> Routing {
    let d = Routing::default();
    let max_attempts = raw.max_attempts.unwrap_or(d.max_attempts);
    if max_attempts == 0 {
        p.at("routing.max_attempts", "must be at least 1");
    }
    let b = raw.circuit_breaker;
    let h = raw.health_check;
    let t = raw.timeouts;
    let routing = Routing {
        strategy: raw.strategy.unwrap_or(d.strategy),
        max_attempts,
        cooldown: raw.cooldown.map_or(d.cooldown, |x| x.0),
        circuit_breaker: CircuitBreakerConf {
            failures: b
                .as_ref()
                .and_then(|b| b.failures)
                .unwrap_or(d.circuit_breaker.failures),
            open_for: b
                .as_ref()
                .and_then(|b| b.open_for)
                .map_or(d.circuit_breaker.open_for, |x| x.0),
            half_open_probes: b
                .as_ref()
                .and_then(|b| b.half_open_probes)
                .unwrap_or(d.circuit_breaker.half_open_probes),
        },
        health_check: HealthCheckConf {
            interval: h
                .as_ref()
                .and_then(|h| h.interval)
                .map_or(d.health_check.interval, |x| x.0),
            timeout: h
                .as_ref()
                .and_then(|h| h.timeout)
                .map_or(d.health_check.timeout, |x| x.0),
        },
        timeouts: Timeouts {
            connect: t
                .as_ref()
                .and_then(|t| t.connect)
                .map_or(d.timeouts.connect, |x| x.0),
            first_byte: t
                .as_ref()
                .and_then(|t| t.first_byte)
                .map_or(d.timeouts.first_byte, |x| x.0),
            idle: t
                .as_ref()
                .and_then(|t| t.idle)
                .map_or(d.timeouts.idle, |x| x.0),
        },
        max_body: raw.max_body.map_or(d.max_body, |x| x.0),
    };
    for (path, dur) in [
        ("routing.timeouts.connect", routing.timeouts.connect),
        ("routing.timeouts.first_byte", routing.timeouts.first_byte),
        ("routing.timeouts.idle", routing.timeouts.idle),
        (
            "routing.health_check.interval",
            routing.health_check.interval,
        ),
        ("routing.health_check.timeout", routing.health_check.timeout),
    ] {
        if dur.is_zero() {
            p.at(path, "must be longer than zero");
        }
    }
    if routing.max_body == 0 {
        p.at("routing.max_body", "must be larger than zero");
    }
    routing
}

/// One `providers:` entry as seen by alias validation (kept even when skipped).
pub(super) struct Entry {
    id: String,
    kind: ProviderType,
    models: Vec<String>,
}

fn providers(
    list: Vec<Option<RawProvider>>,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> (Vec<Instance>, Vec<Entry>) {
    let mut ids = HashSet::new();
    let mut instances = Vec::new();
    let mut entries = Vec::new();
    for (i, raw) in list.into_iter().enumerate() {
        let Some(raw) = raw else { continue };
        let path = format!("providers[{i}]");
        if raw.id.is_empty() || raw.id.contains('/') || raw.id.contains('#') {
            p.at(
                format!("{path}.id"),
                "must be a non-empty name without `/` or `#`",
            );
        } else if !ids.insert(raw.id.clone()) {
            p.at(
                format!("{path}.id"),
                format!("duplicate provider id `{}`", raw.id),
            );
        }
        entries.push(Entry {
            id: raw.id.clone(),
            kind: raw.kind,
            models: raw.models.clone(),
        });
        instances.extend(provider(raw, &path, unset, p, warnings));
    }
    (instances, entries)
}

fn provider(
    raw: RawProvider,
    path: &str,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Vec<Instance> {
    let spec = raw.kind.spec();
    let base_url = match raw.base_url.as_deref().or(spec.default_base_url) {
        Some(url) => match BaseUrl::parse(url) {
            Ok(b) => Some(b),
            Err(e) => {
                p.at(format!("{path}.base_url"), format!("`{url}` {e}"));
                None
            }
        },
        None => {
            p.at(
                format!("{path}.base_url"),
                format!("required for type `{}`", raw.kind.name()),
            );
            None
        }
    };
    if raw.models.is_empty() || raw.models.iter().any(|m| m.trim().is_empty()) {
        p.at(
            format!("{path}.models"),
            "list at least one model name (no empty names)",
        );
    }
    if raw.api_version.is_some() && raw.kind != ProviderType::Azure {
        p.at(
            format!("{path}.api_version"),
            "only applies to type `azure`",
        );
    }
    let keys: Vec<(String, Option<String>)> = match (raw.api_key, raw.api_keys) {
        (Some(_), Some(_)) => {
            p.at(path, "give either `api_key` or `api_keys`, not both");
            return Vec::new();
        }
        (Some(k), None) => vec![(format!("{path}.api_key"), Some(k))],
        (None, Some(ks)) if ks.is_empty() => {
            p.at(format!("{path}.api_keys"), "list at least one key");
            return Vec::new();
        }
        (None, Some(ks)) => ks
            .into_iter()
            .enumerate()
            .map(|(j, k)| (format!("{path}.api_keys[{j}]"), Some(k)))
            .collect(),
        (None, None) if raw.kind == ProviderType::OpenaiCompatible => vec![(String::new(), None)],
        (None, None) => {
            p.at(
                path,
                format!("type `{}` needs `api_key` or `api_keys`", raw.kind.name()),
            );
            return Vec::new();
        }
    };
    if spec.wire == WireFormat::Translated {
        warnings.push(format!(
            "provider `{}` skipped: type `{}` needs a wire-format translator this build does not have yet",
            raw.id,
            raw.kind.name()
        ));
        return Vec::new();
    }
    let Some(base_url) = base_url else {
        return Vec::new();
    };
    let many = keys.len() > 1;
    let mut out = Vec::new();
    for (n, (key_path, key)) in keys.into_iter().enumerate() {
        let id = if many {
            format!("{}#{}", raw.id, n + 1)
        } else {
            raw.id.clone()
        };
        if let Some(k) = &key {
            if !k.bytes().all(|b| b.is_ascii_graphic()) {
                p.at(
                    &key_path,
                    "the key has spaces or characters an HTTP header cannot carry",
                );
                continue;
            }
            if k.is_empty() {
                let why = unset
                    .iter()
                    .find(|u| u.path == key_path)
                    .map_or("its key is empty".to_string(), |u| {
                        format!("`{}` is not set", u.var)
                    });
                warnings.push(format!("instance `{id}` skipped: {why}"));
                continue;
            }
        }
        out.push(Instance {
            id,
            entry: raw.id.clone(),
            kind: raw.kind,
            base_url: base_url.clone(),
            api_key: key.map(Secret::new),
            api_version: raw.api_version.clone(),
            models: raw.models.clone(),
        });
    }
    out
}

fn aliases(
    list: Vec<Option<RawModel>>,
    entries: &[Entry],
    instances: &[Instance],
    p: &mut Problems,
) -> Vec<Alias> {
    let mut names = HashSet::new();
    let raw: Vec<(usize, RawModel)> = list
        .into_iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .collect();
    let alias_names: HashSet<&str> = raw.iter().map(|(_, m)| m.name.as_str()).collect();
    let mut out = Vec::new();
    for (i, m) in &raw {
        let path = format!("models[{i}]");
        if m.name.trim().is_empty() || m.name == "auto" {
            p.at(
                format!("{path}.name"),
                "must be a non-empty name other than `auto`",
            );
        } else if !names.insert(m.name.clone()) {
            p.at(
                format!("{path}.name"),
                format!("duplicate model name `{}`", m.name),
            );
        }
        if m.targets.is_empty() {
            p.at(format!("{path}.targets"), "list at least one target");
        }
        let targets = m
            .targets
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                target(t, &format!("{path}.targets[{j}]"), entries, &alias_names, p)
            })
            .collect();
        out.push(Alias {
            name: m.name.clone(),
            strategy: m.strategy,
            targets,
        });
    }
    let _ = instances;
    out
}

fn target(
    t: &super::raw::RawTarget,
    path: &str,
    entries: &[Entry],
    aliases: &HashSet<&str>,
    p: &mut Problems,
) -> Option<Target> {
    let weight = t.weight.unwrap_or(1);
    if weight == 0 {
        p.at(format!("{path}.weight"), "must be at least 1");
    }
    let matching: Vec<&Entry> = match &t.provider {
        Some(prov) => {
            let found: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.id == *prov || e.kind.name() == prov.as_str())
                .collect();
            if found.is_empty() {
                p.at(
                    format!("{path}.provider"),
                    format!("no provider with id or type `{prov}`"),
                );
                return None;
            }
            found
        }
        None => entries.iter().collect(),
    };
    match (&t.provider, &t.model) {
        (None, None) => {
            p.at(path, "needs `model`, `provider` or both");
            None
        }
        (None, Some(model)) if aliases.contains(model.as_str()) => {
            p.at(
                format!("{path}.model"),
                format!("`{model}` is an alias; targets name real models"),
            );
            None
        }
        (None, Some(model)) => {
            let direct = matching.iter().any(|e| e.models.iter().any(|m| m == model));
            let prefixed = model.split_once('/').is_some_and(|(pre, _)| {
                entries.iter().any(|e| e.id == pre || e.kind.name() == pre)
            });
            if !direct && !prefixed {
                p.at(
                    format!("{path}.model"),
                    format!("no provider lists model `{model}`"),
                );
                return None;
            }
            Some(Target {
                provider: None,
                model: Some(model.clone()),
                weight,
            })
        }
        (Some(prov), model) => Some(Target {
            provider: Some(prov.clone()),
            model: model.clone(),
            weight,
        }),
    }
}
