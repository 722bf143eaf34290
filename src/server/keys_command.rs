//! `modelgate keys create|list|update|revoke`: team keys for an operator at
//! a shell, through the running gateway's admin API (the gateway is the one
//! place that changes its key set, so every worker sees a change at once).
//! The admin listener and key come from `gateway.yaml` (`admin_listen`,
//! `auth.admin_key`), or from `--admin-url` and `MODELGATE_ADMIN_KEY`.

use crate::config::Loaded;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once and never again.
    Create {
        name: String,
        #[command(flatten)]
        settings: KeySettings,
    },
    /// Every key (file and store), without secrets.
    List,
    /// Change a key created at run time (fields left out stay).
    Update {
        name: String,
        #[command(flatten)]
        settings: KeySettings,
    },
    /// Revoke a key: it fails at once on every worker.
    Revoke { name: String },
}

#[derive(Args, Debug)]
pub struct KeySettings {
    /// Allowed model names or globs, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Requests per minute.
    #[arg(long)]
    rpm: Option<u32>,
    /// Tokens per minute.
    #[arg(long)]
    tpm: Option<u64>,
    /// Budget in US dollars per `--budget-period`.
    #[arg(long)]
    budget_usd: Option<f64>,
    /// daily, weekly, monthly or total (a new budget: monthly).
    #[arg(long)]
    budget_period: Option<String>,
    /// When the key stops working (RFC 3339, e.g. 2026-12-31T00:00:00Z).
    #[arg(long)]
    expires_at: Option<String>,
}

impl KeySettings {
    fn body(&self, name: Option<&str>) -> Value {
        let mut body = Map::new();
        if let Some(name) = name {
            body.insert("name".into(), json!(name));
        }
        if let Some(models) = &self.models {
            body.insert("models".into(), json!(models));
        }
        if self.rpm.is_some() || self.tpm.is_some() {
            body.insert(
                "rate_limit".into(),
                json!({"rpm": self.rpm, "tpm": self.tpm}),
            );
        }
        if let Some(usd) = self.budget_usd {
            body.insert(
                "budget".into(),
                json!({"usd": usd, "period": self.budget_period}),
            );
        }
        if let Some(at) = &self.expires_at {
            body.insert("expires_at".into(), json!(at));
        }
        Value::Object(body)
    }
}

/// Where the admin API is and its key.
pub struct AdminTarget {
    pub url: String,
    pub key: String,
}

impl AdminTarget {
    /// From the flags/environment, else from the loaded `gateway.yaml`.
    pub fn resolve(
        url: Option<String>,
        key: Option<String>,
        loaded: Option<&Loaded>,
    ) -> Result<Self, String> {
        let config = loaded.map(|l| &l.config);
        let url = match (url, config.and_then(|c| c.admin_listen)) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(addr)) => {
                // A wildcard listener is reached on loopback.
                let ip = match addr.ip() {
                    ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
                    ip if ip.is_unspecified() => "[::1]".to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                format!("http://{ip}:{}", addr.port())
            }
            (None, None) => {
                return Err(
                    "no admin listener: set `admin_listen` in gateway.yaml or pass --admin-url"
                        .into(),
                )
            }
        };
        let key = key
            .or_else(|| {
                config
                    .and_then(|c| c.admin_key.as_ref())
                    .map(|k| k.expose().to_string())
            })
            .ok_or("no admin key: set MODELGATE_ADMIN_KEY or `auth.admin_key` in gateway.yaml")?;
        Ok(Self { url, key })
    }
}

/// Run one command; what to print, or why it failed.
pub fn run(target: &AdminTarget, command: &KeysCommand) -> Result<String, String> {
    let (method, path, body) = match command {
        KeysCommand::Create { name, settings } => (
            "POST",
            "/admin/keys".to_string(),
            Some(settings.body(Some(name))),
        ),
        KeysCommand::List => ("GET", "/admin/keys".to_string(), None),
        KeysCommand::Update { name, settings } => (
            "PATCH",
            format!("/admin/keys/{}", encode(name)),
            Some(settings.body(None)),
        ),
        KeysCommand::Revoke { name } => ("DELETE", format!("/admin/keys/{}", encode(name)), None),
    };
    let (status, reply) = call(target, method, &path, body)?;
    if !(200..300).contains(&status) {
        let message = reply["error"]["message"].as_str().unwrap_or("no message");
        return Err(format!("{method} {path}: {status}: {message}"));
    }
    Ok(match command {
        KeysCommand::List => table(&reply),
        KeysCommand::Create { .. } => format!(
            "{}\nkey (shown once, store it now): {}\n",
            pretty(&strip_key(&reply)),
            reply["key"].as_str().unwrap_or("?")
        ),
        _ => format!("{}\n", pretty(&reply)),
    })
}

fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn strip_key(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("key");
    }
    v
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn call(
    target: &AdminTarget,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{}{path}", target.url);
    let auth = format!("Bearer {}", target.key);
    let sent = match (method, body) {
        ("GET", _) => agent.get(&url).header("authorization", &auth).call(),
        ("DELETE", _) => agent.delete(&url).header("authorization", &auth).call(),
        ("PATCH", Some(b)) => agent
            .patch(&url)
            .header("authorization", &auth)
            .send_json(b),
        (_, b) => agent
            .post(&url)
            .header("authorization", &auth)
            .send_json(b.unwrap_or(Value::Null)),
    };
    let mut reply =
        sent.map_err(|e| format!("cannot reach the admin API at {}: {e}", target.url))?;
    let status = reply.status().as_u16();
    let text = reply
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("reading the reply: {e}"))?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// `GET /admin/keys` as aligned columns.
fn table(reply: &Value) -> String {
    let mut rows = vec![[
        "NAME", "SOURCE", "MODELS", "RPM", "TPM", "BUDGET", "EXPIRES",
    ]
    .map(String::from)];
    for k in reply["data"].as_array().into_iter().flatten() {
        let opt = |v: &Value| match v {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let models = (k["models"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let budget = match &k["budget"] {
            Value::Null => "-".to_string(),
            b => format!(
                "${} {} (spent ${:.4})",
                b["usd"],
                opt(&b["period"]),
                b["spent_usd"].as_f64().unwrap_or(0.0)
            ),
        };
        rows.push([
            opt(&k["name"]),
            opt(&k["source"]),
            models,
            opt(&k["rate_limit"]["rpm"]),
            opt(&k["rate_limit"]["tpm"]),
            budget,
            opt(&k["expires_at"]),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
