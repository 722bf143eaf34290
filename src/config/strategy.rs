//! The order in which a request's candidates are tried.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Config order: free tiers first, paid last.
    Priority,
    /// Rotate the starting candidate per request.
    RoundRobin,
    /// Smooth weighted round-robin by target `weight`.
    Weighted,
    /// Fewest requests in flight first.
    LeastBusy,
    /// Lowest recent time to first byte first.
    Latency,
    /// Fewest tokens used today (UTC) on that instance for that model first.
    LeastUsage,
    /// Cheapest price first; config order among equals.
    Cost,
}

impl Strategy {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::RoundRobin => "round-robin",
            Self::Weighted => "weighted",
            Self::LeastBusy => "least-busy",
            Self::Latency => "latency",
            Self::LeastUsage => "least-usage",
            Self::Cost => "cost",
        }
    }
}
