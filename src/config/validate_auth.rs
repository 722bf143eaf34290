//! Validation of `auth:`: the file's team keys (kept as SHA-256 only) with
//! their rate limits and budgets, the admin key, and the limit per client
//! address. No message built here contains a key: problems name the key's
//! `name` or the key path.

use super::diagnostics::Problems;
use super::raw::{RawAuth, RawBudget, RawGatewayKey, RawRateLimit, Unset};
use super::{Budget, GatewayKey, PerIp, RateLimit, Secret};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// The key path of the admin key: an unset variable there turns the admin
/// API off (with a warning) instead of failing the load.
pub(super) const ADMIN_KEY_PATH: &str = "auth.admin_key";

/// Shorter admin keys are refused: the admin key can mint keys and read
/// everyone's usage, so it must not be guessable.
const ADMIN_KEY_MIN_CHARS: usize = 16;

/// What `auth:` says, validated.
#[derive(Default)]
pub(super) struct Auth {
    pub keys: Vec<GatewayKey>,
    pub admin_key: Option<Secret>,
    pub per_ip: Option<PerIp>,
}

pub(super) fn auth(
    raw: Option<RawAuth>,
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Auth {
    let Some(raw) = raw else {
        return Auth::default();
    };
    let keys = keys(raw.keys, p);
    let admin_key = raw
        .admin_key
        .and_then(|k| admin_key(k, &keys, unset, p, warnings));
    let per_ip = raw.per_ip.map(|r| {
        if r.rpm == 0 {
            p.at("auth.per_ip.rpm", "must be at least 1");
        }
        PerIp { rpm: r.rpm }
    });
    Auth {
        keys,
        admin_key,
        per_ip,
    }
}

fn keys(raw: Vec<RawGatewayKey>, p: &mut Problems) -> Vec<GatewayKey> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, k) in raw.into_iter().enumerate() {
        let path = format!("auth.keys[{i}]");
        if k.name.trim().is_empty() {
            p.at(format!("{path}.name"), "must not be empty");
        } else if !names.insert(k.name.clone()) {
            p.at(
                format!("{path}.name"),
                format!("duplicate key name `{}`", k.name),
            );
        }
        let sha256 = digest(k.key, k.key_sha256, &path, p);
        let models = k.models.unwrap_or_else(|| vec!["*".into()]);
        if models.iter().any(|m| m.is_empty()) {
            p.at(format!("{path}.models"), "model patterns must not be empty");
        }
        let rate_limit = k
            .rate_limit
            .map_or_else(RateLimit::default, |r| rate_limit(r, &path, p));
        let budget = k.budget.map(|b| budget(b, &path, p));
        if let Some(sha256) = sha256 {
            out.push(GatewayKey {
                name: k.name,
                sha256,
                models,
                rate_limit,
                budget,
            });
        }
    }
    out
}

/// The SHA-256 of a key given as `key` or as `key_sha256`.
fn digest(
    key: Option<String>,
    key_sha256: Option<String>,
    path: &str,
    p: &mut Problems,
) -> Option<[u8; 32]> {
    match (key, key_sha256) {
        (Some(key), None) if !key.is_empty() => Some(Sha256::digest(key.as_bytes()).into()),
        (Some(_), None) => {
            p.at(format!("{path}.key"), "is empty");
            None
        }
        (None, Some(hex_digest)) => parse_sha256(&hex_digest, &format!("{path}.key_sha256"), p),
        (Some(_), Some(_)) => {
            p.at(path, "give either `key` or `key_sha256`, not both");
            None
        }
        (None, None) => {
            p.at(path, "needs `key` or `key_sha256`");
            None
        }
    }
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

fn rate_limit(raw: RawRateLimit, key_path: &str, p: &mut Problems) -> RateLimit {
    // Zero would refuse every request: a key to refuse is removed or revoked.
    if raw.rpm == Some(0) {
        p.at(format!("{key_path}.rate_limit.rpm"), "must be at least 1");
    }
    if raw.tpm == Some(0) {
        p.at(format!("{key_path}.rate_limit.tpm"), "must be at least 1");
    }
    RateLimit {
        rpm: raw.rpm,
        tpm: raw.tpm,
    }
}

fn budget(raw: RawBudget, key_path: &str, p: &mut Problems) -> Budget {
    // `0` is allowed: a key at or over its budget is refused, so this holds
    // a key at no spending without removing it.
    if !(raw.usd.is_finite() && raw.usd >= 0.0) {
        p.at(
            format!("{key_path}.budget.usd"),
            "must be a number of US dollars, 0 or more",
        );
    }
    let period = super::BudgetPeriod::from_name(&raw.period);
    if period.is_none() {
        p.at(
            format!("{key_path}.budget.period"),
            format!(
                "unknown variant `{}`, expected one of `daily`, `weekly`, `monthly`, `total`",
                raw.period.chars().take(40).collect::<String>()
            ),
        );
    }
    Budget {
        usd: raw.usd,
        period: period.unwrap_or(super::BudgetPeriod::Monthly),
    }
}

/// The admin key, or `None` (the admin API off): unset or empty is a
/// warning, since a deployment may simply not want the admin API.
fn admin_key(
    key: String,
    keys: &[GatewayKey],
    unset: &[Unset],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Option<Secret> {
    if let Some(u) = unset.iter().find(|u| u.path == ADMIN_KEY_PATH) {
        warnings.push(format!(
            "{ADMIN_KEY_PATH}: `{}` is not set; the admin API is off",
            u.var
        ));
        return None;
    }
    if key.is_empty() {
        warnings.push(format!("{ADMIN_KEY_PATH}: empty; the admin API is off"));
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        p.at(
            ADMIN_KEY_PATH,
            "the key has spaces or characters an HTTP header cannot carry",
        );
    } else if key.chars().count() < ADMIN_KEY_MIN_CHARS {
        p.at(
            ADMIN_KEY_PATH,
            format!("too short to guess-proof; use at least {ADMIN_KEY_MIN_CHARS} characters"),
        );
    }
    // By digest, so that a team key given as `key_sha256` is caught too.
    let sha256: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    if let Some(team) = keys.iter().find(|k| k.sha256 == sha256) {
        p.at(
            ADMIN_KEY_PATH,
            format!(
                "is the key of `{}` too; the admin key must be a key of its own",
                team.name
            ),
        );
    }
    Some(Secret::new(key))
}
