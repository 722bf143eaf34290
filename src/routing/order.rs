//! Candidate order per strategy, lock-free: a shared atomic counter picks the
//! first candidate and the rest follow in config order, so failover always
//! walks every candidate once. Smooth weighted round-robin is precomputed at
//! load as one cycle of picks, so a request only does `fetch_add`.

use super::{Candidate, Strategy};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Longest precomputed weighted cycle; weights are scaled down to fit.
const MAX_CYCLE: u64 = 4096;

pub struct Order {
    kind: Kind,
    counter: AtomicUsize,
}

enum Kind {
    /// Config order every time.
    Fixed,
    /// Start one further along each request.
    Rotate,
    /// Start at `cycle[n % len]`.
    Weighted(Vec<usize>),
}

impl Order {
    pub fn new(strategy: Strategy, weights: &[u32]) -> Self {
        let kind = match strategy {
            // least-busy and latency need live per-instance signals (routing
            // issue #3); until then they keep config order, announced at load.
            Strategy::Priority | Strategy::LeastBusy | Strategy::Latency => Kind::Fixed,
            Strategy::RoundRobin => Kind::Rotate,
            Strategy::Weighted => Kind::Weighted(smooth_weighted_cycle(weights)),
        };
        Self {
            kind,
            counter: AtomicUsize::new(0),
        }
    }

    pub fn arrange(&self, candidates: &[Candidate]) -> Vec<Candidate> {
        let n = candidates.len();
        if n == 0 {
            return Vec::new();
        }
        let first = match &self.kind {
            Kind::Fixed => 0,
            Kind::Rotate => self.counter.fetch_add(1, Relaxed) % n,
            Kind::Weighted(cycle) if cycle.is_empty() => 0,
            Kind::Weighted(cycle) => cycle[self.counter.fetch_add(1, Relaxed) % cycle.len()] % n,
        };
        let mut out = Vec::with_capacity(n);
        out.push(candidates[first].clone());
        out.extend(
            candidates
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != first)
                .map(|(_, c)| c.clone()),
        );
        out
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
    use std::sync::Arc;

    fn cands(n: usize) -> Vec<Candidate> {
        (0..n)
            .map(|i| Candidate {
                instance: i,
                model: Arc::from("m"),
            })
            .collect()
    }

    fn firsts(order: &Order, n: usize, times: usize) -> Vec<usize> {
        (0..times)
            .map(|_| order.arrange(&cands(n))[0].instance)
            .collect()
    }

    #[test]
    fn priority_keeps_config_order() {
        let o = Order::new(Strategy::Priority, &[1, 1, 1]);
        let got: Vec<usize> = o.arrange(&cands(3)).iter().map(|c| c.instance).collect();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn round_robin_rotates_and_keeps_everyone() {
        let o = Order::new(Strategy::RoundRobin, &[1, 1, 1]);
        assert_eq!(firsts(&o, 3, 6), vec![0, 1, 2, 0, 1, 2]);
        let all: Vec<usize> = o.arrange(&cands(3)).iter().map(|c| c.instance).collect();
        assert_eq!(all, vec![0, 1, 2]);
        let next: Vec<usize> = o.arrange(&cands(3)).iter().map(|c| c.instance).collect();
        assert_eq!(next, vec![1, 0, 2]);
    }

    #[test]
    fn smooth_weighted_interleaves() {
        assert_eq!(smooth_weighted_cycle(&[5, 1, 1]), vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(smooth_weighted_cycle(&[3, 1]), vec![0, 0, 1, 0]);
        let big = smooth_weighted_cycle(&[1_000_000, 1_000_000]);
        assert!(big.len() <= 2 * MAX_CYCLE as usize);
        assert_eq!(big.iter().filter(|&&i| i == 0).count(), big.len() / 2);
    }

    #[test]
    fn empty_is_empty() {
        let o = Order::new(Strategy::RoundRobin, &[]);
        assert!(o.arrange(&[]).is_empty());
    }
}
