use super::*;
use crate::teams::budget::Spend;

fn spec(name: &str, key: &[u8], models: &[&str]) -> KeySpec {
    KeySpec {
        name: name.into(),
        sha256: Sha256::digest(key).into(),
        models: models.iter().map(|m| m.to_string()).collect(),
        rate_limit: RateLimit::default(),
        budget: None,
        expires_at_ms: None,
        created_at_ms: None,
        source: Source::File,
    }
}

fn key(s: KeySpec) -> TeamKey {
    let limiter = Arc::new(KeyLimiter::new(s.rate_limit));
    TeamKey::new(s, limiter, Arc::new(Spend::new(0.0, 0)))
}

fn set() -> KeySet {
    KeySet::new(vec![
        key(spec("alice", b"k-alice", &["*"])),
        key(spec("bob", b"k-bob", &["llama-*", "fast"])),
    ])
}

fn headers(name: &'static str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name, value.parse().expect("header"));
    h
}

fn name(c: &Caller) -> Option<&str> {
    c.name.as_deref()
}

#[test]
fn bearer_and_x_api_key_both_work() {
    let a = set();
    let c = (a.authenticate(&headers("authorization", "Bearer k-bob"), 0)).expect("bob");
    assert_eq!(name(&c), Some("bob"));
    let c = (a.authenticate(&headers("x-api-key", "k-alice"), 0)).expect("alice");
    assert_eq!(name(&c), Some("alice"));
    let c = (a.authenticate(&headers("authorization", "bearer  k-alice "), 0)).expect("case");
    assert_eq!(name(&c), Some("alice"));
}

#[test]
fn missing_wrong_and_expired_keys_are_rejected() {
    let a = set();
    assert_eq!(
        a.authenticate(&HeaderMap::new(), 0).err(),
        Some(AuthError::MissingKey)
    );
    assert_eq!(
        a.authenticate(&headers("authorization", "Bearer "), 0)
            .err(),
        Some(AuthError::MissingKey)
    );
    assert_eq!(
        (a.authenticate(&headers("authorization", "Bearer k-alic"), 0)).err(),
        Some(AuthError::UnknownKey)
    );
    let mut s = spec("carol", b"k-carol", &["*"]);
    s.expires_at_ms = Some(1_000);
    let expiring = KeySet::new(vec![key(s)]);
    let h = headers("x-api-key", "k-carol");
    assert!(expiring.authenticate(&h, 999).is_ok());
    assert_eq!(
        expiring.authenticate(&h, 1_000).err(),
        Some(AuthError::Expired)
    );
}

#[test]
fn a_replaced_set_takes_effect_at_once_and_keeps_what_a_key_spent() {
    let a = set();
    let h = headers("x-api-key", "k-bob");
    let bob = a.current().get("bob").cloned().expect("bob");
    bob.spend.charge(1.5, crate::config::BudgetPeriod::Total, 0);
    let kept = TeamKey::new(
        spec("bob", b"k-bob", &["*"]),
        bob.limiter.clone(),
        bob.spend.clone(),
    );
    a.replace(vec![kept]);
    let c = a.authenticate(&h, 0).expect("bob still");
    assert!(c.allows("gpt-4o"), "the new grant applies");
    let spent = (c.key.as_ref()).map(|k| k.spend.spent(crate::config::BudgetPeriod::Total, 0));
    assert_eq!(spent, Some(1.5));
    assert_eq!(
        a.authenticate(&headers("x-api-key", "k-alice"), 0).err(),
        Some(AuthError::UnknownKey),
        "a key left out is revoked"
    );
    a.replace(Vec::new());
    assert!(a.is_open());
}

#[test]
fn model_globs_apply_per_key() {
    let a = set();
    let bob = (a.authenticate(&headers("authorization", "Bearer k-bob"), 0)).expect("bob");
    assert!(bob.allows("llama-3.3-70b"));
    assert!(bob.allows("fast"));
    assert!(!bob.allows("gpt-4o"));
    assert!(!bob.allows("llama-pool/o1-pro"), "`*` never crosses `/`");
    let pinned = KeySet::new(vec![key(spec("carol", b"k-carol", &["groq/*", "?"]))]);
    let carol = (pinned.authenticate(&headers("x-api-key", "k-carol"), 0)).expect("carol");
    assert!(carol.allows("groq/llama-3.3-70b"));
    assert!(!carol.allows("groq/a/b"));
    assert!(carol.allows("x"));
    let alice = (a.authenticate(&headers("x-api-key", "k-alice"), 0)).expect("alice");
    assert!(alice.allows("groq/x"), "a lone `*` grants every name");
    assert!(!carol.allows("/"), "`?` never matches `/`");
    let open = KeySet::new(Vec::new());
    let anyone = open.authenticate(&HeaderMap::new(), 0).expect("open");
    assert!(anyone.allows("anything"));
}
