//! `GET /v1/usage?from=&to=&group_by=key|model|instance|day`: what was
//! used, from the store. A team key sees only its own records; the admin
//! key sees everyone's (so does anyone on an open gateway, which has no
//! keys to tell apart). Records still on their way to the disk are
//! committed first, so a request's usage shows as soon as it ended.
//!
//! Bounds are RFC 3339 times or `YYYY-MM-DD` dates (UTC): `from` is
//! inclusive, `to` exclusive, and a `to` date includes that whole day.
//! Defaults: from the start of this UTC month, to now; `group_by=key`.

use super::{respond, GatewayError, State};
use crate::config::BudgetPeriod;
use crate::observe::RequestCtx;
use crate::store::{GroupBy, Totals, UsageQuery};
use crate::teams::{now_ms, period_start_ms, rfc3339};
use bytes::Bytes;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

pub async fn serve(
    state: &State,
    session: &mut ServerSession,
    ctx: &mut RequestCtx,
) -> Result<(), GatewayError> {
    let headers = &session.req_header().headers;
    let only = if state.teams.is_admin(headers) {
        None
    } else {
        let caller = state.teams.authenticate(headers)?;
        ctx.key_name = caller.name.clone();
        caller.name.as_deref().map(str::to_string)
    };
    let query = parse(session.req_header().uri.query().unwrap_or(""), now_ms())?;
    let q = UsageQuery {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        key: only,
        group_by: query.group_by,
    };
    let store = state
        .teams
        .store
        .clone()
        .ok_or(GatewayError::StoreUnavailable)?;
    let report = tokio::task::spawn_blocking(move || {
        store.flush()?;
        store.usage(&q)
    })
    .await;
    let report = match report {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            log::warn!("request {}: usage not read: {e}", ctx.request_id);
            return Err(GatewayError::StoreUnavailable);
        }
        Err(_) => return Err(GatewayError::StoreUnavailable),
    };
    let group = query.group_by.name();
    let rows: Vec<Value> = (report.rows.iter())
        .map(|(value, t)| {
            let mut row = Map::new();
            row.insert(group.into(), Value::String(value.clone()));
            if let Value::Object(fields) = totals(t) {
                row.extend(fields);
            }
            Value::Object(row)
        })
        .collect();
    let body = json!({
        "object": "usage",
        "from": rfc3339(query.from_ms),
        "to": rfc3339(query.to_ms),
        "group_by": group,
        "total": totals(&report.total),
        "rows": rows,
    });
    respond::json(session, ctx, 200, Bytes::from(body.to_string()))
        .await
        .map_err(|_| GatewayError::Internal)
}

fn totals(t: &Totals) -> Value {
    json!({
        "requests": t.requests,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "cached_tokens": t.cached_tokens,
        "cost_usd": t.cost_usd,
    })
}

/// The query string, read.
#[derive(Debug, PartialEq)]
struct Query {
    from_ms: i64,
    to_ms: i64,
    group_by: GroupBy,
}

fn parse(query: &str, now_ms: i64) -> Result<Query, GatewayError> {
    let mut q = Query {
        from_ms: period_start_ms(BudgetPeriod::Monthly, now_ms),
        to_ms: now_ms + 1,
        group_by: GroupBy::Key,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| bad("query values must be UTF-8"))?;
        match name {
            "from" => q.from_ms = bound(&value, false).ok_or_else(|| bad(BOUND))?,
            "to" => q.to_ms = bound(&value, true).ok_or_else(|| bad(BOUND))?,
            "group_by" => {
                q.group_by = (value.parse::<GroupBy>())
                    .map_err(|_| bad("`group_by` must be key, model, instance or day"))?
            }
            // Unknown parameters are left alone, as most APIs do.
            _ => {}
        }
    }
    if q.from_ms >= q.to_ms {
        return Err(bad("`from` must be before `to`"));
    }
    Ok(q)
}

const BOUND: &str =
    "`from` and `to` must be RFC 3339 times (2026-11-01T00:00:00Z) or dates (2026-11-01)";

fn bad(why: &str) -> GatewayError {
    GatewayError::BadQuery(why.to_string())
}

/// A bound in epoch milliseconds; a date `to` means the end of that day.
fn bound(value: &str, end: bool) -> Option<i64> {
    if let Ok(t) = value.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    let date: jiff::civil::Date = value.parse().ok()?;
    let date = if end { date.tomorrow().ok()? } else { date };
    let t = date.to_datetime(jiff::civil::Time::midnight());
    Some(
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-27T12:00:00Z
    const NOW: i64 = 1_795_780_800_000;

    #[test]
    fn defaults_are_this_month_to_now_by_key() {
        let q = parse("", NOW).expect("query");
        assert_eq!(rfc3339(q.from_ms), "2026-11-01T00:00:00Z");
        assert_eq!(q.to_ms, NOW + 1);
        assert_eq!(q.group_by, GroupBy::Key);
    }

    #[test]
    fn dates_and_times_bound_the_range() {
        let q = parse("from=2026-11-02&to=2026-11-03&group_by=day", NOW).expect("q");
        assert_eq!(rfc3339(q.from_ms), "2026-11-02T00:00:00Z");
        assert_eq!(
            rfc3339(q.to_ms),
            "2026-11-04T00:00:00Z",
            "a `to` date is inclusive"
        );
        assert_eq!(q.group_by, GroupBy::Day);
        let q = parse(
            "from=2026-11-02T10:00:00%2B01:00&to=2026-11-02T12:00:00Z",
            NOW,
        )
        .expect("q");
        assert_eq!(rfc3339(q.from_ms), "2026-11-02T09:00:00Z");
        assert_eq!(rfc3339(q.to_ms), "2026-11-02T12:00:00Z");
    }

    #[test]
    fn bad_queries_are_400s() {
        for bad in [
            "from=yesterday",
            "to=2026-13-01",
            "group_by=user",
            "from=2026-11-05&to=2026-11-01",
        ] {
            let e = parse(bad, NOW).expect_err(bad);
            assert_eq!(e.status(), 400, "{bad}");
        }
        assert!(
            parse("limit=5", NOW).is_ok(),
            "unknown parameters are ignored"
        );
    }
}
