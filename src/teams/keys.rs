//! Gateway keys. A client presents its key as `Authorization: Bearer <key>`
//! (OpenAI SDKs) or `x-api-key: <key>` (Anthropic clients). Only SHA-256
//! digests are kept: the presented key is hashed once and looked up by its
//! digest. A lookup's timing can tell an attacker only about digests, and
//! learning a digest's prefix says nothing about a key (the hash hides it),
//! so a map is as safe here as a constant-time scan, and stays O(1) when
//! the store holds thousands of keys. Neither header is ever forwarded
//! upstream (the gateway's header rewrite drops both).
//!
//! The key set is shared by every worker as one immutable map behind an
//! `ArcSwap`: a request reads it without a lock, and a change (a key
//! created, updated or revoked through the admin API) swaps in a new map,
//! so the very next request on any worker sees it. A key's limiter and
//! spend live in their own `Arc`s, carried over when its settings change,
//! so an update does not reset what the key has used.

use super::budget::Spend;
use super::limits::KeyLimiter;
use crate::config::{Budget, GatewayKey, RateLimit};
use arc_swap::ArcSwap;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use wildmatch::WildMatch;

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no gateway key was presented")]
    MissingKey,
    #[error("the gateway key presented is not known")]
    UnknownKey,
    #[error("the gateway key presented has expired")]
    Expired,
}

/// Where a key was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `auth.keys` in `gateway.yaml` (changed by editing the file).
    File,
    /// Created through the admin API (kept in the store).
    Store,
}

impl Source {
    pub const fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Store => "store",
        }
    }
}

/// One team key: what it may use and what it has used.
pub struct TeamKey {
    pub name: Arc<str>,
    pub sha256: [u8; 32],
    /// The patterns as written (for `GET /admin/keys`).
    pub models: Vec<String>,
    grants: Vec<Grant>,
    pub rate_limit: RateLimit,
    pub budget: Option<Budget>,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: Option<i64>,
    pub source: Source,
    pub limiter: Arc<KeyLimiter>,
    pub spend: Arc<Spend>,
}

/// What a key is, as a file or the store says (no limiter state yet).
#[derive(Clone)]
pub struct KeySpec {
    pub name: String,
    pub sha256: [u8; 32],
    pub models: Vec<String>,
    pub rate_limit: RateLimit,
    pub budget: Option<Budget>,
    pub expires_at_ms: Option<i64>,
    pub created_at_ms: Option<i64>,
    pub source: Source,
}

impl From<&GatewayKey> for KeySpec {
    fn from(k: &GatewayKey) -> Self {
        Self {
            name: k.name.clone(),
            sha256: k.sha256,
            models: k.models.clone(),
            rate_limit: k.rate_limit,
            budget: k.budget,
            expires_at_ms: None,
            created_at_ms: None,
            source: Source::File,
        }
    }
}

impl TeamKey {
    /// A key from its spec, counting against `limiter` and `spend` (a
    /// changed key keeps its predecessor's, see [`super::Teams`]).
    pub fn new(spec: KeySpec, limiter: Arc<KeyLimiter>, spend: Arc<Spend>) -> Self {
        Self {
            name: Arc::from(spec.name.as_str()),
            sha256: spec.sha256,
            grants: spec.models.iter().map(|m| Grant::new(m)).collect(),
            models: spec.models,
            rate_limit: spec.rate_limit,
            budget: spec.budget,
            expires_at_ms: spec.expires_at_ms,
            created_at_ms: spec.created_at_ms,
            source: spec.source,
            limiter,
            spend,
        }
    }

    /// Its spec again (for an update built on it).
    pub fn spec(&self) -> KeySpec {
        KeySpec {
            name: self.name.to_string(),
            sha256: self.sha256,
            models: self.models.clone(),
            rate_limit: self.rate_limit,
            budget: self.budget,
            expires_at_ms: self.expires_at_ms,
            created_at_ms: self.created_at_ms,
            source: self.source,
        }
    }

    /// Whether this key may use the model name as requested.
    pub fn allows(&self, model: &str) -> bool {
        self.grants.iter().any(|g| g.matches(model))
    }

    fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }
}

/// One model glob of a key. A lone `*` (the default) grants every name;
/// in any other pattern `*` and `?` never match `/`: `cheap-*` grants
/// `cheap-small`, not `cheap-pool/o1-pro` (a pinned request to any model of
/// an instance whose id starts with `cheap`). A pattern and a name match
/// only with the same number of `/`, so no wildcard can have taken one.
/// An alias is granted by its name, whatever its targets.
enum Grant {
    Everything,
    Glob { glob: WildMatch, slashes: usize },
}

impl Grant {
    fn new(pattern: &str) -> Self {
        if pattern == "*" {
            return Self::Everything;
        }
        Self::Glob {
            glob: WildMatch::new(pattern),
            slashes: slashes(pattern),
        }
    }

    fn matches(&self, model: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Glob { glob, slashes: n } => slashes(model) == *n && glob.matches(model),
        }
    }
}

fn slashes(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'/').count()
}

/// The caller, once authenticated.
#[derive(Clone)]
pub struct Caller {
    /// The key's `name` (safe for logs and metrics); `None` on an open gateway.
    pub name: Option<Arc<str>>,
    pub key: Option<Arc<TeamKey>>,
}

impl Caller {
    /// Whether the caller may use the model name as requested.
    pub fn allows(&self, model: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k.allows(model))
    }
}

/// Every key, by digest and by name.
#[derive(Default)]
pub struct KeyMap {
    by_digest: HashMap<[u8; 32], Arc<TeamKey>>,
    by_name: HashMap<Arc<str>, Arc<TeamKey>>,
}

impl KeyMap {
    pub fn get(&self, name: &str) -> Option<&Arc<TeamKey>> {
        self.by_name.get(name)
    }

    /// Every key, by name.
    pub fn all(&self) -> Vec<Arc<TeamKey>> {
        let mut keys: Vec<_> = self.by_name.values().cloned().collect();
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        keys
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The live key set.
pub struct KeySet {
    map: ArcSwap<KeyMap>,
}

impl KeySet {
    pub fn new(keys: Vec<TeamKey>) -> Self {
        let set = Self {
            map: ArcSwap::from_pointee(KeyMap::default()),
        };
        set.replace(keys);
        set
    }

    /// The keys as they are now.
    pub fn current(&self) -> Arc<KeyMap> {
        self.map.load_full()
    }

    /// Swap in a new set (every worker sees it from its next request).
    pub fn replace(&self, keys: Vec<TeamKey>) {
        let mut map = KeyMap::default();
        for k in keys {
            let k = Arc::new(k);
            map.by_digest.insert(k.sha256, k.clone());
            map.by_name.insert(k.name.clone(), k);
        }
        self.map.store(Arc::new(map));
    }

    /// No keys at all: an open gateway.
    pub fn is_open(&self) -> bool {
        self.map.load().is_empty()
    }

    /// Who is calling, from the request headers.
    pub fn authenticate(&self, headers: &HeaderMap, now_ms: i64) -> Result<Caller, AuthError> {
        let map = self.map.load();
        if map.is_empty() {
            return Ok(Caller {
                name: None,
                key: None,
            });
        }
        let presented = presented_key(headers).ok_or(AuthError::MissingKey)?;
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let key = map.by_digest.get(&digest).ok_or(AuthError::UnknownKey)?;
        if key.expired(now_ms) {
            return Err(AuthError::Expired);
        }
        Ok(Caller {
            name: Some(key.name.clone()),
            key: Some(key.clone()),
        })
    }
}

/// The key a request presents, if any.
pub fn presented_key(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = v.as_bytes();
        let token = v
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
            .map(|_| &v[7..])
            .unwrap_or(v);
        let token = token.trim_ascii();
        return (!token.is_empty()).then_some(token);
    }
    headers
        .get("x-api-key")
        .map(|v| v.as_bytes().trim_ascii())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
