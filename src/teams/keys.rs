//! Gateway keys. A client presents its key as `Authorization: Bearer <key>`
//! (OpenAI SDKs) or `x-api-key: <key>` (Anthropic clients). Only SHA-256
//! digests are kept; the presented key is hashed once and compared with every
//! configured digest in constant time, without an early exit, so timing does
//! not reveal which key (or how much of one) matched. Neither header is ever
//! forwarded upstream (the gateway's header rewrite drops both).

use crate::config::GatewayKey;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use wildmatch::WildMatch;

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no gateway key was presented")]
    MissingKey,
    #[error("the gateway key presented is not known")]
    UnknownKey,
}

/// The caller, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's `name` (safe for logs and metrics); `None` on an open gateway.
    pub name: Option<Arc<str>>,
    index: Option<usize>,
}

struct CompiledKey {
    name: Arc<str>,
    sha256: [u8; 32],
    models: Vec<Grant>,
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

pub struct Auth {
    keys: Vec<CompiledKey>,
}

impl Auth {
    pub fn new(keys: &[GatewayKey]) -> Self {
        let keys = keys
            .iter()
            .map(|k| CompiledKey {
                name: Arc::from(k.name.as_str()),
                sha256: k.sha256,
                models: k.models.iter().map(|m| Grant::new(m)).collect(),
            })
            .collect();
        Self { keys }
    }

    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// Who is calling, from the request headers.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        if self.is_open() {
            return Ok(Caller {
                name: None,
                index: None,
            });
        }
        let presented = presented_key(headers).ok_or(AuthError::MissingKey)?;
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let mut found: Option<usize> = None;
        for (i, k) in self.keys.iter().enumerate() {
            if bool::from(k.sha256.ct_eq(&digest)) {
                found = Some(i);
            }
        }
        let i = found.ok_or(AuthError::UnknownKey)?;
        Ok(Caller {
            name: Some(self.keys[i].name.clone()),
            index: Some(i),
        })
    }

    /// Whether `caller` may use the model name as requested.
    pub fn allows(&self, caller: &Caller, model: &str) -> bool {
        match caller.index.and_then(|i| self.keys.get(i)) {
            Some(k) => k.models.iter().any(|m| m.matches(model)),
            None => true,
        }
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&[u8]> {
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
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(&[
            GatewayKey {
                name: "alice".into(),
                sha256: Sha256::digest(b"k-alice").into(),
                models: vec!["*".into()],
                rate_limit: Default::default(),
                budget: None,
            },
            GatewayKey {
                name: "bob".into(),
                sha256: Sha256::digest(b"k-bob").into(),
                models: vec!["llama-*".into(), "fast".into()],
                rate_limit: Default::default(),
                budget: None,
            },
        ])
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().expect("header"));
        h
    }

    #[test]
    fn bearer_and_x_api_key_both_work() {
        let a = auth();
        let c = a
            .authenticate(&headers("authorization", "Bearer k-bob"))
            .expect("bob");
        assert_eq!(c.name.as_deref(), Some("bob"));
        let c = a
            .authenticate(&headers("x-api-key", "k-alice"))
            .expect("alice");
        assert_eq!(c.name.as_deref(), Some("alice"));
        let c = a
            .authenticate(&headers("authorization", "bearer  k-alice "))
            .expect("case");
        assert_eq!(c.name.as_deref(), Some("alice"));
    }

    #[test]
    fn missing_and_wrong_keys_are_rejected() {
        let a = auth();
        assert_eq!(
            a.authenticate(&HeaderMap::new()).err(),
            Some(AuthError::MissingKey)
        );
        assert_eq!(
            a.authenticate(&headers("authorization", "Bearer ")).err(),
            Some(AuthError::MissingKey)
        );
        assert_eq!(
            a.authenticate(&headers("authorization", "Bearer k-alic"))
                .err(),
            Some(AuthError::UnknownKey)
        );
    }

    #[test]
    fn model_globs_apply_per_key() {
        let a = auth();
        let bob = a
            .authenticate(&headers("authorization", "Bearer k-bob"))
            .expect("bob");
        assert!(a.allows(&bob, "llama-3.3-70b"));
        assert!(a.allows(&bob, "fast"));
        assert!(!a.allows(&bob, "gpt-4o"));
        assert!(
            !a.allows(&bob, "llama-pool/o1-pro"),
            "`*` never crosses `/`"
        );
        let pinned = Auth::new(&[GatewayKey {
            name: "carol".into(),
            sha256: Sha256::digest(b"k-carol").into(),
            models: vec!["groq/*".into(), "?".into()],
            rate_limit: Default::default(),
            budget: None,
        }]);
        let carol = pinned
            .authenticate(&headers("x-api-key", "k-carol"))
            .expect("carol");
        assert!(pinned.allows(&carol, "groq/llama-3.3-70b"));
        assert!(!pinned.allows(&carol, "groq/a/b"));
        assert!(pinned.allows(&carol, "x"));
        assert!(
            a.allows(
                &a.authenticate(&headers("x-api-key", "k-alice")).unwrap(),
                "groq/x"
            ),
            "a lone `*` grants every name"
        );
        assert!(!pinned.allows(&carol, "/"), "`?` never matches `/`");
        let open = Auth::new(&[]);
        let anyone = open.authenticate(&HeaderMap::new()).expect("open");
        assert!(open.allows(&anyone, "anything"));
    }
}
