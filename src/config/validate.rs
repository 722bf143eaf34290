//! The raw sections → [`Config`], collecting every problem. Rules that are
//! not type errors live here: unique ids, exactly one key form, base URLs,
//! aliases that point somewhere, unset variables outside `api_key` and
//! `admin_key`, where the store is.

use super::diagnostics::Problems;
use super::raw::{RawConnections, RawCors, RawListen, RawRouting, Sections, Unset};
use super::units::HumanDuration;
use super::validate_auth::{auth, Auth, ADMIN_KEY_PATH};
use super::validate_providers::{aliases, providers};
use super::{AccessLog, CircuitBreakerConf, Config, Connections, Cors};
use super::{HealthCheckConf, Listen, Loaded, TlsFiles};
use super::{Routing, Store, Timeouts};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The store when `store:` is not given, beside `gateway.yaml`.
const DEFAULT_STORE_FILE: &str = "modelgate.db";

/// `providers[3].api_key`, `providers[3].api_keys[1]` or `auth.admin_key`:
/// an unset variable there skips the instance or turns the admin API off,
/// with a warning; anywhere else it is an error.
fn may_be_unset(path: &str) -> bool {
    path == ADMIN_KEY_PATH
        || path.starts_with("providers[")
            && (path.ends_with(".api_key") || path.contains(".api_keys["))
}

/// `dir`: the directory a relative store path is taken from (`None`: the
/// working directory).
pub(super) fn validate(
    s: Sections,
    unset: &[Unset],
    dir: Option<&Path>,
    p: &mut Problems,
) -> Loaded {
    let mut warnings = Vec::new();
    for u in unset.iter().filter(|u| !may_be_unset(&u.path)) {
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
    let access_log = match s.access_log.as_deref() {
        None | Some("stdout") => AccessLog::Stdout,
        Some("stderr") => AccessLog::Stderr,
        Some("off") => AccessLog::Off,
        Some(path) if path.starts_with('/') => AccessLog::File(path.into()),
        Some(other) => {
            p.at(
                "access_log",
                format!("`{other}` is not `stdout`, `stderr`, `off` or an absolute file path"),
            );
            AccessLog::Off
        }
    };
    let cors = cors(s.cors, p);
    let connections = connections(s.connections, p);
    let auth = auth(s.auth, unset, p, &mut warnings);
    auth_warnings(&auth, admin_listen.is_some(), &mut warnings);
    let store = store(s.store.as_deref(), dir, p);
    let routing = routing(s.routing, p);
    let (instances, entries) = match s.providers {
        Some(list) => providers(list, unset, p, &mut warnings),
        None => {
            p.at("providers", "required: list at least one provider instance");
            (Vec::new(), Vec::new())
        }
    };
    let aliases = aliases(s.models, &entries, p);
    let config = Config {
        listen,
        admin_listen,
        access_log,
        cors,
        connections,
        auth: auth.keys,
        admin_key: auth.admin_key,
        per_ip: auth.per_ip,
        store,
        routing,
        instances,
        aliases,
    };
    Loaded { config, warnings }
}

/// An open gateway, and an admin key that nothing serves, are allowed but
/// worth a line at start.
fn auth_warnings(auth: &Auth, admin_listener: bool, warnings: &mut Vec<String>) {
    match (auth.keys.is_empty(), &auth.admin_key) {
        (true, None) => warnings.push(
            "auth: no gateway keys configured; the gateway is open to anyone who can reach it"
                .into(),
        ),
        (true, Some(_)) => warnings.push(
            "auth: no gateway keys in the file; until team keys are created through the \
             admin API, the gateway is open to anyone who can reach it"
                .into(),
        ),
        (false, _) => {}
    }
    if auth.admin_key.is_some() && !admin_listener {
        warnings.push(format!(
            "{ADMIN_KEY_PATH}: set, but the admin API is served on `admin_listen`, which is not set"
        ));
    }
}

/// `sqlite:<path>`; a relative path is taken from `dir`.
fn store(raw: Option<&str>, dir: Option<&Path>, p: &mut Problems) -> Store {
    let place = |path: &str| dir.map_or_else(|| path.into(), |d| d.join(path));
    match raw.map(|r| r.strip_prefix("sqlite:")) {
        None => Store::Sqlite(place(DEFAULT_STORE_FILE)),
        // `sqlite://` is refused rather than guessed at: URL-style spellings
        // disagree on whether `sqlite:///x` is relative or absolute.
        Some(Some(path)) if !path.is_empty() && !path.starts_with("//") => {
            Store::Sqlite(place(path))
        }
        // The value is not echoed: a URL for another database may hold a
        // password.
        Some(_) => {
            p.at(
                "store",
                "must be `sqlite:<path>`, e.g. `sqlite:/var/lib/modelgate/modelgate.db` \
                 (a relative path is taken from this file's directory)",
            );
            Store::Sqlite(place(DEFAULT_STORE_FILE))
        }
    }
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

fn listeners(raw: Option<Vec<RawListen>>, p: &mut Problems) -> Vec<Listen> {
    let raw = raw.unwrap_or_else(|| vec![RawListen::Addr("0.0.0.0:8080".into())]);
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
            let (addr, tls) = match a {
                RawListen::Addr(addr) => (socket_addr(addr, &path, p)?, None),
                RawListen::Entry(e) => {
                    let addr = socket_addr(&e.addr, &format!("{path}.addr"), p)?;
                    let tls = e.tls.as_ref().map(|t| TlsFiles {
                        cert: t.cert.clone().into(),
                        key: t.key.clone().into(),
                    });
                    (addr, tls)
                }
            };
            Some(Listen { addr, tls })
        })
        .collect()
}

fn or(value: Option<HumanDuration>, default: Duration) -> Duration {
    value.map_or(default, |v| v.0)
}

fn cors(raw: RawCors, p: &mut Problems) -> Cors {
    let allow_origins = raw.allow_origins.unwrap_or_default();
    for (i, origin) in allow_origins.iter().enumerate() {
        if origin != "*" && !is_origin(origin) {
            p.at(
                format!("cors.allow_origins[{i}]"),
                format!(
                    "`{origin}` is not an origin: write `*` or scheme://host[:port], without a path"
                ),
            );
        }
    }
    Cors { allow_origins }
}

/// `scheme://host[:port]`, as a browser sends it in `Origin`.
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@'])
        && rest.bytes().all(|b| b.is_ascii_graphic())
}

fn connections(raw: RawConnections, p: &mut Problems) -> Connections {
    let d = Connections::default();
    let c = Connections {
        request_head: or(raw.request_head, d.request_head),
        body: or(raw.body, d.body),
        keepalive_idle: or(raw.keepalive_idle, d.keepalive_idle),
        max_per_ip: raw.max_per_ip.unwrap_or(d.max_per_ip),
    };
    for (path, dur) in [
        ("connections.request_head", c.request_head),
        ("connections.body", c.body),
        ("connections.keepalive_idle", c.keepalive_idle),
    ] {
        if dur.is_zero() {
            p.at(path, "must be longer than zero");
        }
    }
    if c.max_per_ip == 0 {
        p.at("connections.max_per_ip", "must be at least 1");
    }
    c
}

fn routing(raw: RawRouting, p: &mut Problems) -> Routing {
    let d = Routing::default();
    let max_attempts = raw.max_attempts.unwrap_or(d.max_attempts);
    if max_attempts == 0 {
        p.at("routing.max_attempts", "must be at least 1");
    }
    let b = raw.circuit_breaker.unwrap_or_default();
    let h = raw.health_check.unwrap_or_default();
    let t = raw.timeouts.unwrap_or_default();
    let routing = Routing {
        strategy: raw.strategy.unwrap_or(d.strategy),
        max_attempts,
        cooldown: or(raw.cooldown, d.cooldown),
        bad_key_cooldown: or(raw.bad_key_cooldown, d.bad_key_cooldown),
        circuit_breaker: CircuitBreakerConf {
            failures: b.failures.unwrap_or(d.circuit_breaker.failures),
            open_for: or(b.open_for, d.circuit_breaker.open_for),
            half_open_probes: b
                .half_open_probes
                .unwrap_or(d.circuit_breaker.half_open_probes),
        },
        health_check: HealthCheckConf {
            interval: or(h.interval, d.health_check.interval),
            timeout: or(h.timeout, d.health_check.timeout),
        },
        timeouts: Timeouts {
            connect: or(t.connect, d.timeouts.connect),
            first_byte: or(t.first_byte, d.timeouts.first_byte),
            idle: or(t.idle, d.timeouts.idle),
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
        (
            "routing.circuit_breaker.open_for",
            routing.circuit_breaker.open_for,
        ),
    ] {
        if dur.is_zero() {
            p.at(path, "must be longer than zero");
        }
    }
    let breaker = &routing.circuit_breaker;
    if breaker.failures == 0 {
        p.at("routing.circuit_breaker.failures", "must be at least 1");
    }
    if breaker.half_open_probes == 0 {
        p.at(
            "routing.circuit_breaker.half_open_probes",
            "must be at least 1",
        );
    }
    if routing.max_body == 0 {
        p.at("routing.max_body", "must be larger than zero");
    }
    routing
}
