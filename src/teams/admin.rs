//! The team-key half of the admin API, as JSON in and JSON out (the admin
//! listener does the HTTP): create a key (its plaintext returned once,
//! only its SHA-256 stored), list and read keys (never a secret), change
//! and revoke them. A change is in effect for the next request on every
//! worker. Keys from `gateway.yaml` are listed but changed only in the file.

use super::admission::{now_ms, rfc3339, AdminError, Change, Teams};
use super::keys::{KeySpec, Source, TeamKey};
use crate::config::{Budget, BudgetPeriod, RateLimit};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `POST /admin/keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    models: Option<Vec<String>>,
    rate_limit: Option<LimitBody>,
    budget: Option<BudgetBody>,
    expires_at: Option<String>,
}

/// `PATCH /admin/keys/{name}`: a field left out stays, `null` clears it,
/// down to the fields of `rate_limit` and `budget` (`{"rate_limit":
/// {"rpm": 30}}` keeps the key's `tpm`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPatch {
    models: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<LimitPatch>>,
    #[serde(default, deserialize_with = "present")]
    budget: Option<Option<BudgetPatch>>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitPatch {
    #[serde(default, deserialize_with = "present")]
    rpm: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    tpm: Option<Option<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetPatch {
    usd: Option<f64>,
    period: Option<String>,
}

/// A field that is present (even as `null`) is `Some`.
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitBody {
    rpm: Option<u32>,
    tpm: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetBody {
    usd: f64,
    period: String,
}

/// Longest key name (names show up in logs, metrics and usage rows).
const MAX_NAME: usize = 64;

/// Route one `/admin/keys...` call; `None` for a path this does not serve.
pub fn handle(
    teams: &Teams,
    method: &http::Method,
    path: &str,
    body: &[u8],
) -> Option<Result<(u16, Value), AdminError>> {
    let rest = path.strip_prefix("/admin/keys")?;
    let name = match rest {
        "" | "/" => None,
        _ => Some(rest.strip_prefix('/')?),
    };
    Some(match (method.as_str(), name) {
        ("POST", None) => create(teams, body).map(|v| (201, v)),
        ("GET" | "HEAD", None) => Ok((200, list(teams))),
        ("GET" | "HEAD", Some(n)) => get(teams, n).map(|v| (200, v)),
        ("PATCH", Some(n)) => update(teams, n, body).map(|v| (200, v)),
        ("DELETE", Some(n)) => revoke(teams, n).map(|v| (200, v)),
        _ => Err(AdminError::Invalid(format!(
            "{method} is not served on {}",
            path.chars().take(200).collect::<String>()
        ))),
    })
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::Invalid(format!("bad JSON body: {e}")))
}

fn create(teams: &Teams, body: &[u8]) -> Result<Value, AdminError> {
    let req: NewKey = parse(body)?;
    check_name(&req.name)?;
    let plaintext = new_secret();
    let spec = KeySpec {
        name: req.name,
        sha256: Sha256::digest(plaintext.as_bytes()).into(),
        models: models(req.models)?,
        rate_limit: limits(req.rate_limit)?,
        budget: req.budget.map(budget).transpose()?,
        expires_at_ms: req.expires_at.as_deref().map(timestamp).transpose()?,
        created_at_ms: Some(now_ms()),
        source: Source::Store,
    };
    let name = spec.name.clone();
    teams.change(|current| {
        if current.get(&name).is_some() {
            return Err(AdminError::NameTaken(name.clone()));
        }
        Ok(Change::Insert(spec))
    })?;
    let key = teams.keys.current().get(&name).cloned();
    let mut view = key.map_or(Value::Null, |k| view(&k));
    view["key"] = Value::String(plaintext);
    Ok(view)
}

fn list(teams: &Teams) -> Value {
    let keys: Vec<Value> = teams.keys.current().all().iter().map(|k| view(k)).collect();
    json!({ "object": "list", "data": keys })
}

fn get(teams: &Teams, name: &str) -> Result<Value, AdminError> {
    let current = teams.keys.current();
    let key = current.get(name).ok_or_else(|| not_found(name))?;
    Ok(view(key))
}

fn update(teams: &Teams, name: &str, body: &[u8]) -> Result<Value, AdminError> {
    let patch: KeyPatch = parse(body)?;
    let models = patch.models.map(|m| models(Some(m))).transpose()?;
    let expires = (patch.expires_at)
        .map(|e| e.as_deref().map(timestamp).transpose())
        .transpose()?;
    teams.change(|current| {
        let key = current.get(name).ok_or_else(|| not_found(name))?;
        if key.source == Source::File {
            return Err(AdminError::FileKey(name.to_string()));
        }
        let mut spec = key.spec();
        if let Some(m) = models {
            spec.models = m;
        }
        match patch.rate_limit {
            None => {}
            Some(None) => spec.rate_limit = RateLimit::default(),
            Some(Some(p)) => {
                let (rpm, tpm) = (
                    p.rpm.unwrap_or(spec.rate_limit.rpm),
                    p.tpm.unwrap_or(spec.rate_limit.tpm),
                );
                spec.rate_limit = limits(Some(LimitBody { rpm, tpm }))?;
            }
        }
        match patch.budget {
            None => {}
            Some(None) => spec.budget = None,
            Some(Some(p)) => {
                let usd = p.usd.or(spec.budget.map(|b| b.usd)).ok_or_else(|| {
                    AdminError::Invalid("`budget.usd` is needed: the key has no budget yet".into())
                })?;
                let period = (p.period)
                    .or_else(|| spec.budget.map(|b| b.period.name().to_string()))
                    .unwrap_or_else(|| "monthly".into());
                spec.budget = Some(budget(BudgetBody { usd, period })?);
            }
        }
        if let Some(e) = expires {
            spec.expires_at_ms = e;
        }
        Ok(Change::Update(spec))
    })?;
    get(teams, name)
}

fn revoke(teams: &Teams, name: &str) -> Result<Value, AdminError> {
    teams.change(|current| {
        let key = current.get(name).ok_or_else(|| not_found(name))?;
        if key.source == Source::File {
            return Err(AdminError::FileKey(name.to_string()));
        }
        Ok(Change::Delete(name.to_string()))
    })?;
    Ok(json!({ "name": name, "revoked": true }))
}

fn not_found(name: &str) -> AdminError {
    AdminError::NotFound(name.chars().take(MAX_NAME + 8).collect())
}

/// A key as the admin API shows it: everything but the secret.
fn view(k: &TeamKey) -> Value {
    let now = now_ms();
    let spent = k.budget.map(|b| k.spend.spent(b.period, now));
    json!({
        "name": &*k.name,
        "source": k.source.name(),
        "models": k.models,
        "rate_limit": {"rpm": k.rate_limit.rpm, "tpm": k.rate_limit.tpm},
        "budget": k.budget.map(|b| json!({"usd": b.usd, "period": b.period.name(), "spent_usd": spent})),
        "expires_at": k.expires_at_ms.map(rfc3339),
        "created_at": k.created_at_ms.map(rfc3339),
    })
}

/// A fresh key: `mg-` and 64 hex digits from two random v4 UUIDs (244
/// random bits).
fn new_secret() -> String {
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    format!("mg-{}{}", a.simple(), b.simple())
}

fn check_name(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    match ok {
        true => Ok(()),
        false => Err(AdminError::Invalid(format!(
            "`name` must be 1 to {MAX_NAME} letters, digits, `-`, `_` or `.`"
        ))),
    }
}

fn models(list: Option<Vec<String>>) -> Result<Vec<String>, AdminError> {
    let list = list.unwrap_or_else(|| vec!["*".into()]);
    if list.is_empty() || list.iter().any(|m| m.is_empty() || m.len() > 256) {
        return Err(AdminError::Invalid(
            "`models` must list 1 or more non-empty model names or globs".into(),
        ));
    }
    Ok(list)
}

fn limits(body: Option<LimitBody>) -> Result<RateLimit, AdminError> {
    let Some(b) = body else {
        return Ok(RateLimit::default());
    };
    if b.rpm == Some(0) || b.tpm == Some(0) {
        return Err(AdminError::Invalid(
            "`rate_limit.rpm` and `rate_limit.tpm` must be at least 1 (leave one out for no limit)"
                .into(),
        ));
    }
    Ok(RateLimit {
        rpm: b.rpm,
        tpm: b.tpm,
    })
}

fn budget(b: BudgetBody) -> Result<Budget, AdminError> {
    let period: BudgetPeriod = BudgetPeriod::from_name(&b.period).ok_or_else(|| {
        AdminError::Invalid("`budget.period` must be daily, weekly, monthly or total".into())
    })?;
    if !b.usd.is_finite() || b.usd < 0.0 {
        return Err(AdminError::Invalid(
            "`budget.usd` must be a number of dollars, 0 or more".into(),
        ));
    }
    Ok(Budget { usd: b.usd, period })
}

/// An RFC 3339 time (`2026-12-31T00:00:00Z`) as epoch milliseconds.
fn timestamp(s: &str) -> Result<i64, AdminError> {
    let t: jiff::Timestamp = s.parse().map_err(|_| {
        AdminError::Invalid(
            "`expires_at` must be an RFC 3339 time like 2026-12-31T00:00:00Z".into(),
        )
    })?;
    Ok(t.as_millisecond())
}
