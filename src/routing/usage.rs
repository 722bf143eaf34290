//! Tokens used today (UTC) per (instance, model), for `least-usage`: one
//! lock-free counter per health slot that starts again at zero on a new
//! day without anyone resetting it.
//!
//! Must not: read the store or the clock; callers pass the time, so the
//! gateway charges what it served and seeds from the store at start.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SECONDS_PER_DAY: u64 = 86_400;

/// Low bits of the packed word: the tokens. 2^40 (about 10^12) tokens a
/// day on one key for one model is far beyond any provider's limits.
const TOKEN_BITS: u32 = 40;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
/// High bits: the day, 24 bits (day 16 777 215 is in the year 47 900).
const DAY_MASK: u64 = (1 << (64 - TOKEN_BITS)) - 1;

/// The UTC calendar day of a Unix time, counted from 1970-01-01 (day 0).
/// Unix time leaves out leap seconds, so every day is 86 400 of its seconds
/// and the division is exact.
pub fn utc_day(now_unix_s: u64) -> u64 {
    now_unix_s / SECONDS_PER_DAY
}

/// Tokens counted on one UTC day, packed with that day in one `AtomicU64`
/// (day in the high 24 bits, tokens in the low 40). One word, so "it is a
/// new day: start from zero" and "add these tokens" happen in a single
/// compare-and-swap: with two atomics, tokens added between the day's
/// switch and the reset would be lost, or yesterday's counted today.
#[derive(Debug, Default)]
pub struct TokensToday(AtomicU64);

impl TokensToday {
    /// Count `tokens` on `day`. A new day starts from zero; a count for a
    /// day already past (a request that ended just before midnight, charged
    /// just after) is dropped: that day no longer decides anything.
    pub fn add(&self, day: u64, tokens: u64) {
        let day = day & DAY_MASK;
        // `Err` only when the closure declines: a stale day, nothing to do.
        let _ = self.0.fetch_update(Relaxed, Relaxed, |packed| {
            let (counted_day, counted) = unpack(packed);
            match counted_day.cmp(&day) {
                std::cmp::Ordering::Greater => None,
                std::cmp::Ordering::Equal => Some(pack(day, counted.saturating_add(tokens))),
                std::cmp::Ordering::Less => Some(pack(day, tokens)),
            }
        });
    }

    /// The tokens counted on `day` (zero if the counter holds another day).
    pub fn on(&self, day: u64) -> u64 {
        let (counted_day, counted) = unpack(self.0.load(Relaxed));
        if counted_day == day & DAY_MASK {
            counted
        } else {
            0
        }
    }
}

fn pack(day: u64, tokens: u64) -> u64 {
    (day << TOKEN_BITS) | tokens.min(TOKEN_MASK)
}

fn unpack(packed: u64) -> (u64, u64) {
    (packed >> TOKEN_BITS, packed & TOKEN_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_split_at_utc_midnight() {
        assert_eq!(utc_day(0), 0);
        assert_eq!(utc_day(86_399), 0);
        assert_eq!(utc_day(86_400), 1);
        // 2025-03-01T00:00:00Z and one second before it.
        assert_eq!(utc_day(1_740_787_200), 20_148);
        assert_eq!(utc_day(1_740_787_199), 20_147);
    }

    #[test]
    fn counts_within_a_day_and_starts_again_on_the_next() {
        let t = TokensToday::default();
        assert_eq!(t.on(20_148), 0, "day 0 is never today");
        t.add(20_148, 100);
        t.add(20_148, 23);
        assert_eq!(t.on(20_148), 123);
        assert_eq!(t.on(20_149), 0, "read on a new day before any write");
        t.add(20_149, 7);
        assert_eq!(t.on(20_149), 7);
        assert_eq!(t.on(20_148), 0, "the old day is gone");
    }

    #[test]
    fn a_late_charge_for_yesterday_leaves_today_alone() {
        let t = TokensToday::default();
        t.add(20_149, 5);
        t.add(20_148, 1_000);
        assert_eq!(t.on(20_149), 5);
    }

    #[test]
    fn tokens_saturate_instead_of_spilling_into_the_day() {
        let t = TokensToday::default();
        t.add(20_148, u64::MAX);
        t.add(20_148, 10);
        assert_eq!(t.on(20_148), TOKEN_MASK);
        assert_eq!(t.on(20_149), 0);
    }
}
