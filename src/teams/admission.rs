//! Who may ask, and whether they may ask now: the client address's rate,
//! the key, its model grant, its rate limits and its budget — all checked
//! before any upstream is called, all without a lock (atomics and one
//! `ArcSwap` load). When the request ends, [`Teams::settle`] charges the
//! key its real tokens and cost.
//!
//! Keys come from two places: `auth.keys` in the file and the store
//! (created through the admin API). Names are unique across both. The
//! gateway is open (no key asked) only while neither holds a key.

use super::budget::{self, OverBudget, Spend};
use super::keys::{AuthError, Caller, KeySet, KeySpec, Source, TeamKey};
use super::limits::{now_ns, KeyLimiter, Limited, RateHeaders};
use super::per_ip::PerIpLimiter;
use crate::config::{BudgetPeriod, Config, RateLimit};
use crate::store::{Store, StoreError, StoredKey};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// Why a known key may not ask now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// Over its `rpm` or `tpm`.
    Limited(Limited),
    /// At or over its budget for the period.
    OverBudget(OverBudget),
}

pub struct Teams {
    pub keys: KeySet,
    /// SHA-256 of `auth.admin_key`; `None`: the admin API is off.
    admin: Option<[u8; 32]>,
    per_ip: Option<PerIpLimiter>,
    pub store: Option<Store>,
    /// Serialises changes to the key set (admin calls, never requests).
    changes: Mutex<()>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Epoch milliseconds as an RFC 3339 UTC time (the number itself if out
/// of range).
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

impl Teams {
    /// The file's keys and the store's, each with what it spent this
    /// period (read from the store, so a restart does not reset a budget).
    pub fn new(config: &Config, store: Option<Store>) -> Result<Self, StoreError> {
        let teams = Self {
            keys: KeySet::new(Vec::new()),
            admin: (config.admin_key.as_ref()).map(|k| Sha256::digest(k.expose()).into()),
            per_ip: config.per_ip.map(|p| PerIpLimiter::new(p.rpm)),
            store,
            changes: Mutex::new(()),
        };
        let stored = match &teams.store {
            Some(store) => store.keys()?,
            None => Vec::new(),
        };
        let mut specs: Vec<KeySpec> = config.auth.iter().map(KeySpec::from).collect();
        for k in stored {
            if specs.iter().any(|s| s.name == k.name) {
                log::warn!(
                    "team key `{}` is in both gateway.yaml and the store: the file's is used",
                    k.name
                );
                continue;
            }
            specs.push(from_stored(k));
        }
        let keys = specs
            .into_iter()
            .map(|s| teams.build(s, None))
            .collect::<Result<Vec<_>, _>>()?;
        teams.keys.replace(keys);
        Ok(teams)
    }

    /// A key from its spec; `previous` (the same name until now) hands
    /// over its limiter when the limits are the same, and its spend when
    /// the budget's period is (else the period's spend is read again).
    fn build(&self, spec: KeySpec, previous: Option<&TeamKey>) -> Result<TeamKey, StoreError> {
        let limiter = match previous {
            Some(p) if p.rate_limit == spec.rate_limit => p.limiter.clone(),
            _ => Arc::new(KeyLimiter::new(spec.rate_limit)),
        };
        let period = spec.budget.map(|b| b.period);
        let spend = match previous {
            Some(p) if p.budget.map(|b| b.period) == period => p.spend.clone(),
            _ => Arc::new(self.spend_of(&spec.name, period)?),
        };
        Ok(TeamKey::new(spec, limiter, spend))
    }

    /// What `name` spent in `period` so far, from the store.
    fn spend_of(&self, name: &str, period: Option<BudgetPeriod>) -> Result<Spend, StoreError> {
        let (Some(period), Some(store)) = (period, &self.store) else {
            return Ok(Spend::new(
                0.0,
                budget::period_start_ms(BudgetPeriod::Total, 0),
            ));
        };
        let start = budget::period_start_ms(period, now_ms());
        store.flush()?;
        Ok(Spend::new(store.spend(name, start)?, start))
    }

    /// A client address within `per_ip.rpm`; else how long to wait.
    pub fn check_address(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        match (&self.per_ip, ip) {
            (Some(limiter), Some(ip)) => limiter.admit(ip, now_ns()),
            _ => Ok(()),
        }
    }

    /// Who is calling, from the request headers.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        self.keys.authenticate(headers, now_ms())
    }

    /// Whether the request carries the admin key (compared in constant
    /// time: its digest, so neither length nor content leaks).
    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        let (Some(admin), Some(presented)) = (&self.admin, super::keys::presented_key(headers))
        else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();
        bool::from(admin.ct_eq(&digest))
    }

    pub fn admin_enabled(&self) -> bool {
        self.admin.is_some()
    }

    /// Whether `caller` may ask now: its budget, then its limits (a
    /// refused request takes nothing from them). The limit headers every
    /// response to a limited key carries.
    pub fn admit(&self, caller: &Caller) -> Result<RateHeaders, Refusal> {
        let Some(key) = &caller.key else {
            return Ok(RateHeaders::default());
        };
        if let Some(b) = &key.budget {
            budget::check(b, &key.spend, now_ms()).map_err(Refusal::OverBudget)?;
        }
        key.limiter.admit(now_ns()).map_err(Refusal::Limited)
    }

    /// Charge a finished request's tokens and cost to its key.
    pub fn settle(&self, caller: &Caller, tokens: u64, cost: Option<f64>) {
        let Some(key) = &caller.key else {
            return;
        };
        if tokens > 0 {
            key.limiter.charge_tokens(tokens, now_ns());
        }
        if let (Some(cost), Some(b)) = (cost, &key.budget) {
            key.spend.charge(cost, b.period, now_ms());
        }
    }

    /// Apply a change to the stored keys and swap in the new set, one
    /// change at a time. `change` gets the current keys and says what the
    /// store-side change is.
    pub(super) fn change(
        &self,
        change: impl FnOnce(&super::keys::KeyMap) -> Result<Change, AdminError>,
    ) -> Result<(), AdminError> {
        let _one = self.changes.lock().map_err(|_| AdminError::Internal)?;
        let current = self.keys.current();
        let what = change(&current)?;
        let store = self.store.as_ref().ok_or(AdminError::NoStore)?;
        let mut keys: Vec<TeamKey> = Vec::new();
        match what {
            Change::Insert(spec) => {
                store.insert_key(&to_stored(&spec))?;
                keys.push(self.build(spec, None)?);
                keys.extend(current.all().iter().map(|k| self.build_same(k)));
            }
            Change::Update(spec) => {
                store.update_key(&to_stored(&spec))?;
                let previous = current.get(&spec.name).cloned();
                keys.push(self.build(spec, previous.as_deref())?);
                let name = keys[0].name.clone();
                let rest = current.all().into_iter().filter(|k| k.name != name);
                keys.extend(rest.map(|k| self.build_same(&k)));
            }
            Change::Delete(name) => {
                store.delete_key(&name)?;
                let rest = current.all().into_iter().filter(|k| *k.name != *name);
                keys.extend(rest.map(|k| self.build_same(&k)));
            }
        }
        self.keys.replace(keys);
        Ok(())
    }

    /// An unchanged key, carried into a new set with its state.
    fn build_same(&self, k: &TeamKey) -> TeamKey {
        TeamKey::new(k.spec(), k.limiter.clone(), k.spend.clone())
    }
}

/// A change to the stored keys.
pub(super) enum Change {
    Insert(KeySpec),
    Update(KeySpec),
    Delete(String),
}

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no team key is named `{0}`")]
    NotFound(String),
    #[error("a team key named `{0}` already exists")]
    NameTaken(String),
    #[error("`{0}` is defined in gateway.yaml: change it there and reload")]
    FileKey(String),
    #[error("the store is not available")]
    NoStore,
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Internal,
}

fn from_stored(k: StoredKey) -> KeySpec {
    let period = k.budget_period.as_deref().and_then(BudgetPeriod::from_name);
    KeySpec {
        name: k.name,
        sha256: k.sha256,
        models: k.models,
        rate_limit: RateLimit {
            rpm: k.rpm,
            tpm: k.tpm,
        },
        budget: k
            .budget_usd
            .zip(period)
            .map(|(usd, period)| crate::config::Budget { usd, period }),
        expires_at_ms: k.expires_at_ms,
        created_at_ms: Some(k.created_at_ms),
        source: Source::Store,
    }
}

fn to_stored(k: &KeySpec) -> StoredKey {
    StoredKey {
        name: k.name.clone(),
        sha256: k.sha256,
        models: k.models.clone(),
        rpm: k.rate_limit.rpm,
        tpm: k.rate_limit.tpm,
        budget_usd: k.budget.map(|b| b.usd),
        budget_period: k.budget.map(|b| b.period.name().to_string()),
        expires_at_ms: k.expires_at_ms,
        created_at_ms: k.created_at_ms.unwrap_or_else(now_ms),
    }
}
