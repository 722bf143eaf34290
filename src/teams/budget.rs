//! Budgets: what a key has spent in its current period, and whether it may
//! spend more. Periods are UTC calendar ones (day; ISO week from Monday
//! 00:00; month) or the key's whole life. Owns the period arithmetic and the
//! running total; must not read the clock (every call takes `now_ms`, Unix
//! milliseconds) nor the store (the total is seeded from it at start), and
//! never takes a lock.
//!
//! The running total is kept in nano-USD in an `AtomicU64` (a 1-token
//! request to the cheapest models still counts), beside the start of the
//! period it counts for. At a rollover the first charge of the new period
//! subtracts what the old one had spent instead of zeroing the total, so a
//! charge landing at that instant is never lost: at worst one finishing at
//! the boundary counts in the new period.

use crate::config::{Budget, BudgetPeriod};
use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

const NANOS_PER_USD: f64 = 1e9;
const MS_PER_DAY: i64 = 86_400_000;

/// When the period holding `now_ms` began (Unix ms); `i64::MIN` for
/// `Total`, which never rolls over.
pub fn period_start_ms(period: BudgetPeriod, now_ms: i64) -> i64 {
    let today = utc_date(now_ms);
    let first = match period {
        BudgetPeriod::Total => return i64::MIN,
        BudgetPeriod::Daily => Some(today),
        BudgetPeriod::Weekly => {
            days_after(today, -i64::from(today.weekday().to_monday_zero_offset()))
        }
        BudgetPeriod::Monthly => Some(today.first_of_month()),
    };
    // Only at the ends of jiff's range (years -9999 and 9999) can the
    // calendar fail; the UTC day is a safe answer there.
    first
        .and_then(midnight_ms)
        .unwrap_or_else(|| now_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY)
}

/// When the period holding `now_ms` ends: the next rollover (Unix ms).
/// `None` for `Total`, or past the calendar's end (year 9999).
pub fn period_end_ms(period: BudgetPeriod, now_ms: i64) -> Option<i64> {
    let today = utc_date(now_ms);
    let next = match period {
        BudgetPeriod::Total => return None,
        BudgetPeriod::Daily => days_after(today, 1),
        BudgetPeriod::Weekly => days_after(
            today,
            7 - i64::from(today.weekday().to_monday_zero_offset()),
        ),
        BudgetPeriod::Monthly => days_after(today.last_of_month(), 1),
    };
    next.and_then(midnight_ms)
}

/// The UTC calendar date of a Unix millisecond (clamped to jiff's range).
fn utc_date(now_ms: i64) -> Date {
    let min = Timestamp::MIN.as_millisecond();
    let max = Timestamp::MAX.as_millisecond();
    let timestamp =
        Timestamp::from_millisecond(now_ms.clamp(min, max)).unwrap_or(Timestamp::UNIX_EPOCH);
    Offset::UTC.to_datetime(timestamp).date()
}

fn days_after(date: Date, days: i64) -> Option<Date> {
    date.checked_add(SignedDuration::from_hours(24 * days)).ok()
}

fn midnight_ms(date: Date) -> Option<i64> {
    let timestamp = Offset::UTC
        .to_timestamp(date.to_datetime(Time::midnight()))
        .ok()?;
    Some(timestamp.as_millisecond())
}

/// What a key has spent in its current period.
#[derive(Debug)]
pub struct Spend {
    nano_usd: AtomicU64,
    /// The start of the period `nano_usd` counts for.
    period_start_ms: AtomicI64,
}

impl Spend {
    /// Seeded from the store at start: `spent_usd` since `period_start_ms`.
    pub fn new(spent_usd: f64, period_start_ms: i64) -> Self {
        Self {
            nano_usd: AtomicU64::new(to_nano(spent_usd)),
            period_start_ms: AtomicI64::new(period_start_ms),
        }
    }

    /// Adds a finished request's cost, first rolling over to the period
    /// holding `now_ms` if a new one has begun.
    pub fn charge(&self, usd: f64, period: BudgetPeriod, now_ms: i64) {
        self.roll_over(period_start_ms(period, now_ms));
        self.nano_usd.fetch_add(to_nano(usd), Ordering::AcqRel);
    }

    /// Spent in the period holding `now_ms`, in USD.
    pub fn spent(&self, period: BudgetPeriod, now_ms: i64) -> f64 {
        self.spent_nano(period, now_ms) as f64 / NANOS_PER_USD
    }

    fn spent_nano(&self, period: BudgetPeriod, now_ms: i64) -> u64 {
        let counted_for = self.period_start_ms.load(Ordering::Acquire);
        if counted_for < period_start_ms(period, now_ms) {
            return 0; // a new period that nothing has been charged to yet
        }
        self.nano_usd.load(Ordering::Acquire)
    }

    /// Moves the total to the period starting at `start`: one caller wins
    /// the move and takes away what was counted before it. A caller whose
    /// clock is behind (an older period) changes nothing and its charge
    /// counts in the current period.
    fn roll_over(&self, start: i64) {
        let counted_for = self.period_start_ms.load(Ordering::Acquire);
        if counted_for >= start {
            return;
        }
        let old = self.nano_usd.load(Ordering::Acquire);
        let won = self
            .period_start_ms
            .compare_exchange(counted_for, start, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if won {
            // Saturating: never below zero even if two rollovers overlap.
            let _ = self
                .nano_usd
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    Some(n.saturating_sub(old))
                });
        }
    }
}

/// USD to nano-USD: rounded, negatives and NaN as 0, saturating.
fn to_nano(usd: f64) -> u64 {
    // `as` saturates, and maps NaN to 0.
    (usd * NANOS_PER_USD).round().max(0.0) as u64
}

/// Why a key may not spend more.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverBudget {
    pub spent: f64,
    pub usd: f64,
    /// When the period rolls over (Unix ms); `None` for a total budget.
    pub until_ms: Option<i64>,
}

/// Refuses a key at or over its budget (a budget of 0 refuses everything).
/// Compared in nano-USD, so 0.1 + 0.2 spent is exactly a 0.3 budget.
pub fn check(budget: &Budget, spend: &Spend, now_ms: i64) -> Result<(), OverBudget> {
    let spent = spend.spent_nano(budget.period, now_ms);
    if spent < to_nano(budget.usd) {
        return Ok(());
    }
    Err(OverBudget {
        spent: spent as f64 / NANOS_PER_USD,
        usd: budget.usd,
        until_ms: period_end_ms(budget.period, now_ms),
    })
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
