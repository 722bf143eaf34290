//! What a request cost in USD, from its token counts and the price of the
//! model that served it. Pure arithmetic; must not look prices up (the
//! caller resolves the price: shipped table, config override, or none).

use crate::providers::Price;

/// USD for one request. `prompt` includes `cached` (OpenAI's convention):
/// the uncached part is billed at `input`, the cached part at
/// `cached_input`, the completion at `output`; prices are per 1M tokens.
/// A `cached` count above `prompt` (a provider's inconsistent usage) is
/// taken as all of the prompt, so no token is billed twice.
pub fn cost_usd(price: Price, prompt: u64, completion: u64, cached: u64) -> f64 {
    let cached = cached.min(prompt);
    let uncached = prompt - cached;
    (uncached as f64 * price.input
        + cached as f64 * price.cached_input
        + completion as f64 * price.output)
        / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPT_4O: Price = Price {
        input: 2.5,
        output: 10.0,
        cached_input: 1.25,
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn prompt_and_completion_at_their_prices() {
        // 1000 in at $2.50/M + 500 out at $10/M = 0.0025 + 0.005.
        assert!(close(cost_usd(GPT_4O, 1000, 500, 0), 0.0075));
        assert!(close(cost_usd(GPT_4O, 1_000_000, 0, 0), 2.5));
    }

    #[test]
    fn cached_tokens_are_part_of_the_prompt_at_the_cached_price() {
        // 600 uncached at 2.50 + 400 cached at 1.25 + 100 out at 10.
        let want = (600.0 * 2.5 + 400.0 * 1.25 + 100.0 * 10.0) / 1e6;
        assert!(close(cost_usd(GPT_4O, 1000, 100, 400), want));
        assert!(close(want, 0.003));
    }

    #[test]
    fn more_cached_than_prompt_bills_the_prompt_once() {
        assert!(close(cost_usd(GPT_4O, 100, 0, 500), 100.0 * 1.25 / 1e6));
    }

    #[test]
    fn free_costs_nothing_and_no_tokens_cost_nothing() {
        assert_eq!(cost_usd(Price::FREE, 123_456, 7_890, 1_000), 0.0);
        assert_eq!(cost_usd(GPT_4O, 0, 0, 0), 0.0);
    }
}
