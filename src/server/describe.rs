//! What `modelgate -t` prints: what would be served, never a key.

use crate::config::{AccessLog, Config, Loaded};
use pingora::server::configuration::ServerConf;
use std::fmt::Write as _;

/// The summary of both config files.
pub fn describe(loaded: &Loaded, conf: &ServerConf) -> String {
    let c = &loaded.config;
    let mut out = String::new();
    let listen: Vec<String> = (c.listen.iter())
        .map(|l| match l.tls {
            Some(_) => format!("{} (TLS)", l.addr),
            None => l.addr.to_string(),
        })
        .collect();
    let _ = writeln!(out, "listen: {}", listen.join(", "));
    if let Some(a) = c.admin_listen {
        let api = match c.admin_key {
            Some(_) => "GET /metrics, admin API",
            None => "GET /metrics; admin API off: no auth.admin_key",
        };
        let _ = writeln!(out, "admin_listen: {a} ({api})");
    }
    let _ = writeln!(out, "threads: {}", conf.threads);
    let _ = writeln!(out, "access_log: {}", access_log(c, conf));
    let limited = (c.auth.iter())
        .filter(|k| k.rate_limit != Default::default() || k.budget.is_some())
        .count();
    let _ = writeln!(
        out,
        "auth: {} gateway key(s) in the file, {limited} with limits or a budget (keys in the store are added at start)",
        c.auth.len()
    );
    if let Some(p) = c.per_ip {
        let _ = writeln!(
            out,
            "per_ip: {} requests per minute per client address",
            p.rpm
        );
    }
    let crate::config::Store::Sqlite(path) = &c.store;
    let _ = writeln!(out, "store: sqlite {}", path.display());
    let r = &c.routing;
    let _ = writeln!(
        out,
        "routing: strategy {}, max_attempts {}, max_body {} bytes",
        r.strategy.name(),
        r.max_attempts,
        r.max_body
    );
    let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let (b, h) = (&r.circuit_breaker, &r.health_check);
    let _ = writeln!(
        out,
        "health: cooldown {} (bad keys {}), breaker after {} failures for {} ({} trial), checks every {}",
        d(r.cooldown),
        d(r.bad_key_cooldown),
        b.failures,
        d(b.open_for),
        b.half_open_probes,
        d(h.interval),
    );
    models(&mut out, c);
    for w in &loaded.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// Each instance with its models, and each alias with its targets.
fn models(out: &mut String, c: &Config) {
    let _ = writeln!(out, "instances ({}):", c.instances.len());
    for i in &c.instances {
        let key = if i.api_key.is_some() {
            "key set"
        } else {
            "no key"
        };
        let _ = writeln!(
            out,
            "  {} ({}, {}, {key}): {}",
            i.id,
            i.kind.name(),
            i.base_url,
            i.models.join(", ")
        );
    }
    for a in &c.aliases {
        let unnamed = if crate::routing::is_glob(&a.name) {
            "<requested name>"
        } else {
            "<first model>"
        };
        let targets: Vec<String> = a
            .targets
            .iter()
            .map(|t| match (&t.provider, &t.model) {
                (Some(p), Some(m)) => format!("{p}/{m}"),
                (Some(p), None) => format!("{p}/{unnamed}"),
                (None, Some(m)) => m.clone(),
                (None, None) => "-".into(),
            })
            .collect();
        let strategy = a.strategy.map_or("priority", |s| s.name());
        let _ = writeln!(
            out,
            "model {} ({strategy}) -> {}",
            a.name,
            targets.join(", ")
        );
    }
}

/// Where the access log goes, and where it goes when daemonised if that
/// differs (a daemon's stdout is closed).
fn access_log(c: &Config, conf: &ServerConf) -> String {
    let name = |a: &AccessLog| match a {
        AccessLog::Stdout => "stdout".to_string(),
        AccessLog::Stderr => "stderr".to_string(),
        AccessLog::Off => "off".to_string(),
        AccessLog::File(p) => p.display().to_string(),
    };
    let daemonised = super::access_log_target(&c.access_log, true, conf);
    if daemonised == c.access_log {
        name(&c.access_log)
    } else {
        format!(
            "{} (daemonised: {})",
            name(&c.access_log),
            name(&daemonised)
        )
    }
}
