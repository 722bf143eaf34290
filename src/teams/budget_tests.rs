use super::*;
use BudgetPeriod::{Daily, Monthly, Total, Weekly};

/// Unix ms of an RFC 3339 instant.
fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn period(p: BudgetPeriod, now: &str) -> (i64, Option<i64>) {
    (period_start_ms(p, ms(now)), period_end_ms(p, ms(now)))
}

#[test]
fn a_day_ends_at_utc_midnight_across_a_year_end() {
    assert_eq!(
        period(Daily, "2024-12-31T23:59:59.999Z"),
        (ms("2024-12-31T00:00:00Z"), Some(ms("2025-01-01T00:00:00Z")))
    );
    assert_eq!(
        period(Daily, "2025-01-01T00:00:00Z"),
        (ms("2025-01-01T00:00:00Z"), Some(ms("2025-01-02T00:00:00Z")))
    );
    // Before 1970 too (negative milliseconds).
    assert_eq!(
        period(Daily, "1969-12-31T12:00:00Z"),
        (ms("1969-12-31T00:00:00Z"), Some(ms("1970-01-01T00:00:00Z")))
    );
}

#[test]
fn the_leap_day_is_a_day_of_february() {
    assert_eq!(
        period(Daily, "2024-02-29T05:00:00Z"),
        (ms("2024-02-29T00:00:00Z"), Some(ms("2024-03-01T00:00:00Z")))
    );
    assert_eq!(
        period(Monthly, "2024-02-29T05:00:00Z"),
        (ms("2024-02-01T00:00:00Z"), Some(ms("2024-03-01T00:00:00Z")))
    );
    assert_eq!(
        period(Monthly, "2023-02-28T23:00:00Z"),
        (ms("2023-02-01T00:00:00Z"), Some(ms("2023-03-01T00:00:00Z")))
    );
}

#[test]
fn months_roll_over_at_their_ends_and_across_a_year() {
    assert_eq!(
        period(Monthly, "2024-12-15T10:00:00Z"),
        (ms("2024-12-01T00:00:00Z"), Some(ms("2025-01-01T00:00:00Z")))
    );
    assert_eq!(
        period(Monthly, "2024-01-31T23:59:59Z"),
        (ms("2024-01-01T00:00:00Z"), Some(ms("2024-02-01T00:00:00Z")))
    );
    assert_eq!(
        period(Monthly, "2024-04-30T12:00:00Z"),
        (ms("2024-04-01T00:00:00Z"), Some(ms("2024-05-01T00:00:00Z")))
    );
}

#[test]
fn an_iso_week_starts_on_monday() {
    // 2024-02-29 is a Thursday.
    assert_eq!(
        period(Weekly, "2024-02-29T12:00:00Z"),
        (ms("2024-02-26T00:00:00Z"), Some(ms("2024-03-04T00:00:00Z")))
    );
    // Monday midnight starts a week; the Sunday before ends the last one.
    assert_eq!(
        period(Weekly, "2024-03-04T00:00:00Z"),
        (ms("2024-03-04T00:00:00Z"), Some(ms("2024-03-11T00:00:00Z")))
    );
    assert_eq!(
        period(Weekly, "2024-03-03T23:59:59.999Z"),
        (ms("2024-02-26T00:00:00Z"), Some(ms("2024-03-04T00:00:00Z")))
    );
    // A week across a year end (2025-01-01 is a Wednesday).
    assert_eq!(
        period(Weekly, "2025-01-01T08:00:00Z"),
        (ms("2024-12-30T00:00:00Z"), Some(ms("2025-01-06T00:00:00Z")))
    );
}

#[test]
fn total_never_rolls_over() {
    assert_eq!(period(Total, "2024-02-29T12:00:00Z"), (i64::MIN, None));
}

#[test]
fn spend_rolls_over_when_a_new_period_starts() {
    let day_one = ms("2024-03-01T12:00:00Z");
    let day_two = ms("2024-03-02T00:00:01Z");
    let spend = Spend::new(0.0, period_start_ms(Daily, day_one));
    spend.charge(1.5, Daily, day_one);
    spend.charge(0.25, Daily, day_one);
    assert_eq!(spend.spent(Daily, day_one), 1.75);
    // A new day before any charge: nothing spent yet.
    assert_eq!(spend.spent(Daily, day_two), 0.0);
    spend.charge(0.5, Daily, day_two);
    assert_eq!(spend.spent(Daily, day_two), 0.5);
    // A late charge stamped on the old day counts in the current one.
    spend.charge(0.25, Daily, day_one);
    assert_eq!(spend.spent(Daily, day_two), 0.75);
}

#[test]
fn spend_seeded_from_the_store_counts_on() {
    let now = ms("2024-03-10T12:00:00Z");
    let spend = Spend::new(4.0, period_start_ms(Monthly, now));
    spend.charge(0.5, Monthly, now);
    assert_eq!(spend.spent(Monthly, now), 4.5);
    // Seeded for last month: this month starts from nothing.
    let stale = Spend::new(4.0, ms("2024-02-01T00:00:00Z"));
    assert_eq!(stale.spent(Monthly, now), 0.0);
}

#[test]
fn total_spend_keeps_counting() {
    let spend = Spend::new(10.0, i64::MIN);
    spend.charge(1.0, Total, ms("2024-01-01T00:00:00Z"));
    spend.charge(1.0, Total, ms("2030-01-01T00:00:00Z"));
    assert_eq!(spend.spent(Total, ms("2031-01-01T00:00:00Z")), 12.0);
}

#[test]
fn a_rollover_under_concurrent_charges_loses_nothing() {
    let old_day = ms("2024-03-01T12:00:00Z");
    let new_day = ms("2024-03-02T12:00:00Z");
    let spend = Spend::new(100.0, period_start_ms(Daily, old_day));
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    spend.charge(0.001, Daily, new_day);
                }
            });
        }
    });
    assert_eq!(spend.spent(Daily, new_day), 4.0);
}

#[test]
fn check_refuses_at_or_over_the_budget_until_the_period_ends() {
    let now = ms("2024-03-10T12:00:00Z");
    let budget = Budget {
        usd: 5.0,
        period: Monthly,
    };
    let spend = Spend::new(4.0, period_start_ms(Monthly, now));
    assert_eq!(check(&budget, &spend, now), Ok(()));
    spend.charge(1.0, Monthly, now);
    let at = OverBudget {
        spent: 5.0,
        usd: 5.0,
        until_ms: Some(ms("2024-04-01T00:00:00Z")),
    };
    assert_eq!(check(&budget, &spend, now), Err(at));
    spend.charge(1.0, Monthly, now);
    assert_eq!(check(&budget, &spend, now).unwrap_err().spent, 6.0);
    // The next month lets the key in again.
    assert_eq!(check(&budget, &spend, ms("2024-04-01T00:00:00Z")), Ok(()));
}

#[test]
fn check_compares_exactly_and_a_zero_budget_refuses_everything() {
    let now = ms("2024-03-10T12:00:00Z");
    let spend = Spend::new(0.0, period_start_ms(Daily, now));
    let zero = Budget {
        usd: 0.0,
        period: Daily,
    };
    assert!(check(&zero, &spend, now).is_err());
    spend.charge(0.1, Daily, now);
    spend.charge(0.2, Daily, now);
    let three_tenths = Budget {
        usd: 0.3,
        period: Daily,
    };
    assert!(check(&three_tenths, &spend, now).is_err());
    let total = Budget {
        usd: 0.31,
        period: Total,
    };
    let lifetime = Spend::new(0.3, i64::MIN);
    assert_eq!(check(&total, &lifetime, now), Ok(()));
    lifetime.charge(0.01, Total, now);
    assert_eq!(check(&total, &lifetime, now).unwrap_err().until_ms, None);
}

#[test]
fn nonsense_amounts_count_as_nothing() {
    assert_eq!(to_nano(-1.0), 0);
    assert_eq!(to_nano(f64::NAN), 0);
    assert_eq!(to_nano(0.000_000_001_4), 1);
}
