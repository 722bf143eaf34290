//! What a candidate costs, for the `cost` strategy: one number per
//! candidate that ranks it, worked out at load where the model is known
//! and per request for names only the client gives (a glob's or a pin's).
//!
//! Must not: charge anyone (that is `teams`) or decide the order itself
//! (that is `order`).

use super::Candidate;
use crate::config::{Instance, Price};
use std::cmp::Ordering;

/// A candidate's price for ranking: the blended USD per million tokens,
/// `None` when it has no price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost(Option<f64>);

impl Cost {
    pub const UNPRICED: Self = Self(None);

    /// The blended price, `(3 × input + output) / 4` per million tokens.
    /// One number must stand for two prices; weighting input three to one
    /// follows what a gateway's traffic looks like: a prompt carries the
    /// conversation so far, tools and system text, so it is typically
    /// several times longer than the reply. Cached input is left out: how
    /// much of a prompt hits a cache is not known before sending it.
    pub fn of(price: Option<Price>) -> Self {
        Self(price.map(|p| (3.0 * p.input + p.output) / 4.0))
    }

    /// Cheaper first; every priced candidate before an unpriced one, whose
    /// cost is unknown (`free` is zero, so it leads).
    pub fn compare(&self, other: &Self) -> Ordering {
        match (self.0, other.0) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
}

/// Every instance's prices, kept from the config (without its key: routing
/// never sends anything) so a name asked for at run time can be priced by
/// the config's own rule, [`Instance::price_of`].
pub struct Prices(Vec<Instance>);

impl Prices {
    pub fn new(instances: &[Instance]) -> Self {
        let keyless = instances.iter().map(|i| Instance {
            api_key: None,
            ..i.clone()
        });
        Self(keyless.collect())
    }

    /// Each candidate's cost, in the same order.
    pub fn of(&self, candidates: &[Candidate]) -> Vec<Cost> {
        (candidates.iter())
            .map(|c| Cost::of(self.0.get(c.instance).and_then(|i| i.price_of(&c.model))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: f64, output: f64) -> Option<Price> {
        Some(Price {
            input,
            output,
            cached_input: input,
        })
    }

    #[test]
    fn blends_three_parts_input_to_one_part_output() {
        assert_eq!(Cost::of(price(3.0, 15.0)), Cost(Some(6.0)));
        assert_eq!(Cost::of(Some(Price::FREE)), Cost(Some(0.0)));
        assert_eq!(Cost::of(None), Cost::UNPRICED);
        // (3 × 1 + 6) / 4 = 2.25 against (3 × 2 + 4) / 4 = 2.5: the cheaper
        // prompt wins, where a plain average (3.5 against 3) would not.
        let cheap_prompt = Cost::of(price(1.0, 6.0));
        let cheap_reply = Cost::of(price(2.0, 4.0));
        assert_eq!(cheap_prompt.compare(&cheap_reply), Ordering::Less);
    }

    #[test]
    fn free_then_priced_then_unpriced() {
        let free = Cost::of(Some(Price::FREE));
        let cheap = Cost::of(price(0.1, 0.1));
        assert_eq!(free.compare(&cheap), Ordering::Less);
        assert_eq!(cheap.compare(&Cost::UNPRICED), Ordering::Less);
        let dear = Cost::of(price(1_000.0, 1_000.0));
        assert_eq!(Cost::UNPRICED.compare(&dear), Ordering::Greater);
        assert_eq!(Cost::UNPRICED.compare(&Cost::UNPRICED), Ordering::Equal);
        assert_eq!(cheap.compare(&Cost::of(price(0.1, 0.1))), Ordering::Equal);
    }
}
