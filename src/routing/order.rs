//! Candidate order per strategy, over the candidates usable right now.
//! Lock-free: a shared atomic counter picks the first candidate for the
//! rotating strategies (the rest follow in config order, so failover walks
//! each once); least-busy, least-usage and latency sort by live numbers
//! (in flight per instance, tokens today and time to first byte per
//! (instance, model)); cost sorts by prices worked out before the request.
//! Smooth weighted round-robin is precomputed at load as one cycle of
//! picks, so a request only does `fetch_add`.

use super::clock;
use super::cost::Cost;
use super::usage::utc_day;
use super::{Candidate, Health, Strategy};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Longest precomputed weighted cycle; weights are scaled down to fit.
const MAX_CYCLE: u64 = 4096;
/// Steps of the weighted cycle walked to find a usable pick.
const MAX_WALK: usize = 64;
/// Under `latency`, one request in this many first tries the candidate
/// measured longest ago, so a recovered (or never tried) one is measured again.
pub const EXPLORE_EVERY: usize = 16;

pub struct Order {
    kind: Kind,
    counter: AtomicUsize,
}

enum Kind {
    /// Config order every time.
    Fixed,
    /// Start one further along each request.
    Rotate,
    /// Start at `cycle[n % len]` (indices into the route's candidates).
    Weighted(Vec<usize>),
    /// Fewest in flight first; ties rotate.
    LeastBusy,
    /// Fewest tokens today (UTC) on that (instance, model) first; ties
    /// rotate, so keys equally used share the load instead of the first
    /// in config order taking it all until it pulls ahead.
    LeastUsage,
    /// Lowest time-to-first-byte average first, with exploration.
    Latency,
    /// Cheapest first; config order among equals, unpriced last.
    Cheapest,
}

impl Order {
    pub fn new(strategy: Strategy, weights: &[u32]) -> Self {
        let kind = match strategy {
            Strategy::Priority => Kind::Fixed,
            Strategy::RoundRobin => Kind::Rotate,
            Strategy::Weighted => Kind::Weighted(smooth_weighted_cycle(weights)),
            Strategy::LeastBusy => Kind::LeastBusy,
            Strategy::Latency => Kind::Latency,
            Strategy::LeastUsage => Kind::LeastUsage,
            Strategy::Cost => Kind::Cheapest,
        };
        Self {
            kind,
            counter: AtomicUsize::new(0),
        }
    }

    /// Whether [`Self::arrange`] reads the candidates' costs (otherwise
    /// they need not be worked out).
    pub fn by_cost(&self) -> bool {
        matches!(self.kind, Kind::Cheapest)
    }

    /// `usable` (indices into `all`, ascending) in the order to try them.
    /// `costs`: each of `all`'s, when [`Self::by_cost`] (a missing one
    /// counts as unpriced).
    pub fn arrange(
        &self,
        usable: &[usize],
        all: &[Candidate],
        costs: &[Cost],
        health: &Health,
    ) -> Vec<Candidate> {
        let n = usable.len();
        if n == 0 {
            return Vec::new();
        }
        let mut order: Vec<usize> = usable.to_vec();
        match &self.kind {
            Kind::Fixed => {}
            Kind::Rotate => order.rotate_left(self.counter.fetch_add(1, Relaxed) % n),
            Kind::Weighted(cycle) => self.weighted(&mut order, cycle),
            Kind::LeastBusy => {
                let in_flight = |k: usize| u64::from(health.in_flight(all[k].instance));
                order = self.fewest_first(order, in_flight);
            }
            Kind::LeastUsage => {
                let day = utc_day(clock::unix_secs());
                order = self.fewest_first(order, |k| health.tokens_on(all[k].slot, day));
            }
            Kind::Latency => order = self.latency(order, all, health),
            Kind::Cheapest => {
                let cost = |k: usize| costs.get(k).copied().unwrap_or(Cost::UNPRICED);
                // Stable: equal prices keep config order. Prices do not
                // move while sorting, unlike the live counts above.
                order.sort_by(|&a, &b| cost(a).compare(&cost(b)));
            }
        }
        order.into_iter().map(|k| all[k].clone()).collect()
    }

    /// Walk the cycle from this request's position to the first usable
    /// pick, so a cooling candidate's share spreads evenly.
    fn weighted(&self, order: &mut Vec<usize>, cycle: &[usize]) {
        if cycle.is_empty() {
            return;
        }
        let at = self.counter.fetch_add(1, Relaxed);
        // Bounded: with a heavy target cooling, give up after a while and
        // keep the usable ones in config order.
        let first = (0..cycle.len().min(MAX_WALK))
            .map(|k| cycle[(at + k) % cycle.len()])
            .find_map(|pick| order.iter().position(|&u| u == pick));
        if let Some(pos) = first {
            let chosen = order.remove(pos);
            order.insert(0, chosen);
        }
    }

    /// Smallest `count` first; equal counts in an order rotated one
    /// further each request, so they share the load.
    fn fewest_first(&self, mut order: Vec<usize>, count: impl Fn(usize) -> u64) -> Vec<usize> {
        let n = order.len();
        order.rotate_left(self.counter.fetch_add(1, Relaxed) % n);
        // Snapshot first: counts change under a sort's feet, and sorting
        // by a moving key can panic on an inconsistent order.
        let mut counted: Vec<(u64, usize)> = order.iter().map(|&k| (count(k), k)).collect();
        counted.sort_by_key(|&(c, _)| c);
        counted.into_iter().map(|(_, k)| k).collect()
    }

    fn latency(&self, order: Vec<usize>, all: &[Candidate], health: &Health) -> Vec<usize> {
        let at = self.counter.fetch_add(1, Relaxed);
        let stats: Vec<_> = order.iter().map(|&k| health.latency(all[k].slot)).collect();
        let mut ranked: Vec<(usize, (Option<u64>, u64))> =
            order.iter().copied().zip(stats).collect();
        // Never measured sorts first (`None < Some`), then fastest.
        ranked.sort_by_key(|&(_, (avg, _))| avg);
        if at % EXPLORE_EVERY == EXPLORE_EVERY - 1 && ranked.len() > 1 {
            // The leader is measured all the time; explore the others.
            let stalest = (1..ranked.len()).min_by_key(|&i| ranked[i].1 .1);
            if let Some(i) = stalest {
                let r = ranked.remove(i);
                ranked.insert(0, r);
            }
        }
        ranked.into_iter().map(|(k, _)| k).collect()
    }
}

/// nginx's smooth weighted round-robin, run for one full cycle.
pub fn smooth_weighted_cycle(weights: &[u32]) -> Vec<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return Vec::new();
    }
    let scale = total.div_ceil(MAX_CYCLE).max(1);
    let w: Vec<i64> = weights
        .iter()
        .map(|&x| (u64::from(x) / scale).max(1) as i64)
        .collect();
    let sum: i64 = w.iter().sum();
    let mut current = vec![0i64; w.len()];
    let mut cycle = Vec::with_capacity(sum as usize);
    for _ in 0..sum {
        let mut best = 0;
        for i in 0..w.len() {
            current[i] += w[i];
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= sum;
        cycle.push(best);
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_weighted_interleaves() {
        assert_eq!(smooth_weighted_cycle(&[5, 1, 1]), vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(smooth_weighted_cycle(&[3, 1]), vec![0, 0, 1, 0]);
        let big = smooth_weighted_cycle(&[1_000_000, 1_000_000]);
        assert!(big.len() <= 2 * MAX_CYCLE as usize);
        assert_eq!(big.iter().filter(|&&i| i == 0).count(), big.len() / 2);
        assert!(smooth_weighted_cycle(&[]).is_empty());
    }
}
