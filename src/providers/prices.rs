//! What tokens cost: USD per million tokens, and the table of well-known
//! models' list prices shipped with the gateway (overridden per instance or
//! per model in `gateway.yaml`). Pure data and one lookup; it must not
//! decide what is billed (the usage records do) or fetch prices at run time.
//!
//! The figures are the providers' public list prices (standard tier, no
//! batch or regional discounts), read from these pages:
//! - openai, azure: <https://developers.openai.com/api/docs/pricing> and
//!   each model's page under `/api/docs/models/`. Azure bills by the same
//!   list (its global deployments are priced alike) when a deployment is
//!   named after its model.
//! - anthropic: <https://docs.anthropic.com/en/docs/about-claude/pricing>;
//!   cached input is the "cache hits" column (a tenth of input).
//! - gemini: <https://ai.google.dev/gemini-api/docs/pricing>; the figures of
//!   prompts up to 200k tokens (2.5 Pro costs more above), text input; cached
//!   input is the context-caching price.
//! - groq: <https://groq.com/pricing>.
//! - deepseek: <https://api-docs.deepseek.com/quick_start/pricing>; cached
//!   input is the "cache hit" price.
//! - xai: <https://docs.x.ai/docs/models>; prompts up to 128k tokens.
//! - mistral: <https://mistral.ai/pricing>; Mistral lists no cached-input
//!   discount.
//! - perplexity: <https://docs.perplexity.ai/getting-started/pricing>; token
//!   prices only: the per-request search fee is not a token price.
//!
//! Where a page gave no cached-input price the row repeats the input price
//! (the rule `price:` in the config follows too): a cost is then never
//! under-counted. Models whose price could not be confirmed are left out
//! rather than guessed (cerebras, together, fireworks, sambanova; openrouter
//! resells every vendor; openai-compatible and anthropic-compatible endpoints
//! are anyone's): such a model is unpriced, recorded with tokens and a null
//! cost, until `price:` says what it costs.

use super::ProviderType;
use super::ProviderType as P;

/// The day the shipped figures were the providers' list prices.
pub const PRICES_AS_OF: &str = "2026-04-13";

/// USD per million tokens. `price: free` is all zeros.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens; the `input` price when not given.
    pub cached_input: f64,
}

impl Price {
    pub const FREE: Self = Self {
        input: 0.0,
        output: 0.0,
        cached_input: 0.0,
    };

    const fn of(input: f64, output: f64, cached_input: f64) -> Self {
        Self {
            input,
            output,
            cached_input,
        }
    }
}

/// (price list, model name, price). Names as the provider's API takes them;
/// dated snapshots find their base name (see [`shipped_price`]).
static TABLE: &[(ProviderType, &str, Price)] = &[
    (P::Openai, "gpt-4o", Price::of(2.50, 10.00, 1.25)),
    (P::Openai, "gpt-4o-mini", Price::of(0.15, 0.60, 0.075)),
    (P::Openai, "gpt-4.1", Price::of(2.00, 8.00, 0.50)),
    (P::Openai, "gpt-4.1-mini", Price::of(0.40, 1.60, 0.10)),
    (P::Openai, "gpt-4.1-nano", Price::of(0.10, 0.40, 0.025)),
    (P::Openai, "o3", Price::of(2.00, 8.00, 0.50)),
    (P::Openai, "o4-mini", Price::of(1.10, 4.40, 0.275)),
    (P::Openai, "gpt-5", Price::of(1.25, 10.00, 0.125)),
    (P::Openai, "gpt-5-mini", Price::of(0.25, 2.00, 0.025)),
    (P::Openai, "gpt-5-nano", Price::of(0.05, 0.40, 0.005)),
    (
        P::Openai,
        "text-embedding-3-small",
        Price::of(0.02, 0.0, 0.02),
    ),
    (
        P::Openai,
        "text-embedding-3-large",
        Price::of(0.13, 0.0, 0.13),
    ),
    (
        P::Anthropic,
        "claude-opus-4-1",
        Price::of(15.00, 75.00, 1.50),
    ),
    (P::Anthropic, "claude-opus-4", Price::of(15.00, 75.00, 1.50)),
    (
        P::Anthropic,
        "claude-opus-4-0",
        Price::of(15.00, 75.00, 1.50),
    ),
    (
        P::Anthropic,
        "claude-sonnet-4-5",
        Price::of(3.00, 15.00, 0.30),
    ),
    (
        P::Anthropic,
        "claude-sonnet-4",
        Price::of(3.00, 15.00, 0.30),
    ),
    (
        P::Anthropic,
        "claude-sonnet-4-0",
        Price::of(3.00, 15.00, 0.30),
    ),
    (
        P::Anthropic,
        "claude-3-7-sonnet",
        Price::of(3.00, 15.00, 0.30),
    ),
    (
        P::Anthropic,
        "claude-3-7-sonnet-latest",
        Price::of(3.00, 15.00, 0.30),
    ),
    (
        P::Anthropic,
        "claude-haiku-4-5",
        Price::of(1.00, 5.00, 0.10),
    ),
    (
        P::Anthropic,
        "claude-3-5-haiku",
        Price::of(0.80, 4.00, 0.08),
    ),
    (
        P::Anthropic,
        "claude-3-5-haiku-latest",
        Price::of(0.80, 4.00, 0.08),
    ),
    (P::Gemini, "gemini-2.5-pro", Price::of(1.25, 10.00, 0.125)),
    (P::Gemini, "gemini-2.5-flash", Price::of(0.30, 2.50, 0.03)),
    (
        P::Gemini,
        "gemini-2.5-flash-lite",
        Price::of(0.10, 0.40, 0.01),
    ),
    (P::Gemini, "gemini-2.0-flash", Price::of(0.10, 0.40, 0.025)),
    (P::Groq, "llama-3.1-8b-instant", Price::of(0.05, 0.08, 0.05)),
    (
        P::Groq,
        "llama-3.3-70b-versatile",
        Price::of(0.59, 0.79, 0.59),
    ),
    (P::Groq, "openai/gpt-oss-120b", Price::of(0.15, 0.60, 0.075)),
    (P::Deepseek, "deepseek-chat", Price::of(0.28, 0.42, 0.028)),
    (
        P::Deepseek,
        "deepseek-reasoner",
        Price::of(0.28, 0.42, 0.028),
    ),
    (P::Xai, "grok-4", Price::of(3.00, 15.00, 3.00)),
    (P::Xai, "grok-3", Price::of(3.00, 15.00, 3.00)),
    (P::Xai, "grok-3-mini", Price::of(0.30, 0.50, 0.30)),
    (
        P::Mistral,
        "mistral-large-latest",
        Price::of(0.50, 1.50, 0.50),
    ),
    (
        P::Mistral,
        "mistral-large-2512",
        Price::of(0.50, 1.50, 0.50),
    ),
    (P::Mistral, "codestral-latest", Price::of(0.30, 0.90, 0.30)),
    (P::Perplexity, "sonar", Price::of(1.00, 1.00, 1.00)),
    (P::Perplexity, "sonar-pro", Price::of(3.00, 15.00, 3.00)),
];

/// Whose price list a provider type bills by; `None`: no shipped prices.
const fn price_list(kind: ProviderType) -> Option<ProviderType> {
    match kind {
        P::Openai | P::Azure => Some(P::Openai),
        P::Anthropic => Some(P::Anthropic),
        P::Gemini => Some(P::Gemini),
        P::Groq => Some(P::Groq),
        P::Deepseek => Some(P::Deepseek),
        P::Xai => Some(P::Xai),
        P::Mistral => Some(P::Mistral),
        P::Perplexity => Some(P::Perplexity),
        // Prices not confirmed on their pages: left unpriced, not guessed.
        P::Cerebras | P::Together | P::Fireworks | P::Sambanova => None,
        // Resellers and endpoints of unknown owners: a name says nothing
        // about who bills it, or how much.
        P::Openrouter | P::OpenaiCompatible | P::AnthropicCompatible => None,
    }
}

/// The shipped list price of `model` on a provider of type `kind`: the row
/// of that exact name, else the row whose name is the longest that `model`
/// extends by a date or version stamp (`claude-sonnet-4-5-20250929`,
/// `gpt-4o-2024-08-06`, `gemini-2.0-flash-001`). Any other suffix is another
/// model (`o3-mini`, `o3-pro`, `claude-opus-4-5`), unpriced unless listed.
pub fn shipped_price(kind: ProviderType, model: &str) -> Option<Price> {
    let list = price_list(kind)?;
    let rows = || TABLE.iter().filter(move |(k, _, _)| *k == list);
    if let Some((_, _, price)) = rows().find(|(_, name, _)| *name == model) {
        return Some(*price);
    }
    rows()
        .filter(|(_, name, _)| {
            (model.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(is_stamp)
        })
        .max_by_key(|(_, name, _)| name.len())
        .map(|(_, _, price)| *price)
}

/// `2025-04-16`, `20250929`, `001`, `0709`: groups of digits joined by `-`,
/// the first at least three long. A single digit is not a stamp: in
/// `claude-opus-4-5` it is a version of its own, with its own price.
fn is_stamp(suffix: &str) -> bool {
    let mut groups = suffix.split('-');
    let first_ok = groups
        .next()
        .is_some_and(|g| g.len() >= 3 && g.bytes().all(|b| b.is_ascii_digit()));
    first_ok && groups.all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input_of(kind: ProviderType, model: &str) -> Option<f64> {
        shipped_price(kind, model).map(|p| p.input)
    }

    #[test]
    fn exact_names_win_over_shorter_prefixes() {
        assert_eq!(input_of(P::Openai, "gpt-4o"), Some(2.50));
        assert_eq!(input_of(P::Openai, "gpt-4o-mini"), Some(0.15));
        assert_eq!(input_of(P::Openai, "gpt-5-nano"), Some(0.05));
        assert_eq!(input_of(P::Gemini, "gemini-2.5-flash-lite"), Some(0.10));
        assert_eq!(input_of(P::Anthropic, "claude-opus-4-1"), Some(15.0));
    }

    #[test]
    fn dated_snapshots_find_their_base() {
        assert_eq!(input_of(P::Openai, "gpt-4o-2024-08-06"), Some(2.50));
        assert_eq!(input_of(P::Openai, "gpt-4o-mini-2024-07-18"), Some(0.15));
        assert_eq!(input_of(P::Openai, "o3-2025-04-16"), Some(2.00));
        assert_eq!(input_of(P::Openai, "o4-mini-2025-04-16"), Some(1.10));
        assert_eq!(
            shipped_price(P::Anthropic, "claude-sonnet-4-5-20250929"),
            Some(Price::of(3.0, 15.0, 0.30))
        );
        assert_eq!(input_of(P::Anthropic, "claude-opus-4-20250514"), Some(15.0));
        assert_eq!(
            input_of(P::Anthropic, "claude-haiku-4-5-20251001"),
            Some(1.0)
        );
        assert_eq!(input_of(P::Gemini, "gemini-2.0-flash-001"), Some(0.10));
        assert_eq!(input_of(P::Xai, "grok-4-0709"), Some(3.0));
    }

    #[test]
    fn other_suffixes_are_other_models() {
        for model in [
            "o3-mini",
            "o3-pro",
            "gpt-5-codex",
            "gpt-5.1",
            "gpt-4o-audio-preview",
        ] {
            assert_eq!(shipped_price(P::Openai, model), None, "{model}");
        }
        // Newer versions cost differently: never priced as their elders.
        for model in ["claude-opus-4-5", "claude-sonnet-4-6", "claude-opus-4-1x"] {
            assert_eq!(shipped_price(P::Anthropic, model), None, "{model}");
        }
        assert_eq!(
            shipped_price(P::Gemini, "gemini-2.5-flash-preview-09-2025"),
            None
        );
        assert_eq!(shipped_price(P::Openai, "gpt-4o-"), None, "an empty stamp");
    }

    #[test]
    fn azure_bills_by_openai_names_and_compatibles_are_unpriced() {
        assert_eq!(
            shipped_price(P::Azure, "gpt-4.1"),
            shipped_price(P::Openai, "gpt-4.1")
        );
        assert_eq!(shipped_price(P::Azure, "my-deployment"), None);
        assert_eq!(shipped_price(P::OpenaiCompatible, "gpt-4o"), None);
        assert_eq!(
            shipped_price(P::AnthropicCompatible, "claude-sonnet-4-5"),
            None
        );
        assert_eq!(shipped_price(P::Openrouter, "openai/gpt-4o"), None);
    }

    #[test]
    fn a_model_is_priced_only_on_its_own_vendors_list() {
        assert_eq!(shipped_price(P::Groq, "gpt-4o"), None);
        assert_eq!(input_of(P::Groq, "openai/gpt-oss-120b"), Some(0.15));
        assert_eq!(shipped_price(P::Openai, "openai/gpt-oss-120b"), None);
    }

    #[test]
    fn the_table_is_sane() {
        let mut seen = std::collections::HashSet::new();
        for (kind, name, p) in TABLE {
            assert!(seen.insert((*kind, *name)), "{name} listed twice");
            assert_eq!(price_list(*kind), Some(*kind), "{name}: not a price list");
            for v in [p.input, p.output, p.cached_input] {
                assert!(v.is_finite() && v >= 0.0, "{name}");
            }
            assert!(p.cached_input <= p.input, "{name}: cached costs more");
        }
        assert_eq!(PRICES_AS_OF.len(), "YYYY-MM-DD".len());
    }

    #[test]
    fn stamps() {
        for s in ["2025-04-16", "20250929", "001", "0709"] {
            assert!(is_stamp(s), "{s}");
        }
        for s in ["", "5", "1-fast", "mini", "2025-", "latest", "12"] {
            assert!(!is_stamp(s), "{s}");
        }
    }
}
