//! Fault injection for the simulator: latency, 500 GeneralInternalRetryable, 429 with a
//! `Retry-After`, "commit then fail", and dropped connections — every Nth API request
//! or a seeded fraction of them, so a test run is repeatable.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Every Nth API request is delayed by `slow_ms` more (then carried out as usual:
    /// a client that gave up may find its change made).
    pub slow_every: u64,
    pub slow_ms: u64,
    /// Every Nth API request is answered 500 GeneralInternalRetryable (0: never).
    pub error_every: u64,
    /// This fraction of API requests is answered 500 GeneralInternalRetryable.
    pub error_rate: f64,
    /// Every Nth API request is answered 429 with a `Retry-After`.
    pub rate_limit_every: u64,
    pub rate_limit_rate: f64,
    /// How far ahead the injected `Retry-After` points (UNIX time in milliseconds).
    pub retry_after_ms: u64,
    /// Every Nth API request is carried out, then answered 500 as if it had failed.
    pub commit_then_fail_every: u64,
    /// Every Nth API request has its connection dropped before an answer.
    pub drop_every: u64,
    pub drop_rate: f64,
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            slow_every: 0,
            slow_ms: 0,
            error_every: 0,
            error_rate: 0.0,
            rate_limit_every: 0,
            rate_limit_rate: 0.0,
            retry_after_ms: 1000,
            commit_then_fail_every: 0,
            drop_every: 0,
            drop_rate: 0.0,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    Slow,
    None,
    Drop,
    RateLimited,
    Error,
    CommitThenFail,
}

#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    count: u64,
    rng: StdRng,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Faults {
            config,
            count: 0,
            rng,
        }
    }

    /// What happens to the next API request.
    pub fn decide(&mut self) -> Injected {
        self.count += 1;
        let n = self.count;
        let c = &self.config;
        let every = |k: u64| k > 0 && n.is_multiple_of(k);
        let (drop_rate, limit_rate, error_rate) = (c.drop_rate, c.rate_limit_rate, c.error_rate);
        let (drop_every, limit_every, error_every, commit_every) = (
            every(c.drop_every),
            every(c.rate_limit_every),
            every(c.error_every),
            every(c.commit_then_fail_every),
        );
        let mut roll = |p: f64| p > 0.0 && self.rng.random_bool(p.min(1.0));
        if drop_every || roll(drop_rate) {
            Injected::Drop
        } else if limit_every || roll(limit_rate) {
            Injected::RateLimited
        } else if error_every || roll(error_rate) {
            Injected::Error
        } else if commit_every {
            Injected::CommitThenFail
        } else if c.slow_every > 0 && n.is_multiple_of(c.slow_every) {
            Injected::Slow
        } else {
            Injected::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_is_exact_and_rates_are_seeded() {
        let mut f = Faults::new(FaultConfig {
            error_every: 3,
            ..Default::default()
        });
        let seen: Vec<Injected> = (0..6).map(|_| f.decide()).collect();
        assert_eq!(seen[2], Injected::Error);
        assert_eq!(seen[5], Injected::Error);
        assert_eq!(seen.iter().filter(|i| **i == Injected::Error).count(), 2);

        let config = FaultConfig {
            drop_rate: 0.3,
            seed: 7,
            ..Default::default()
        };
        let a: Vec<Injected> = (0..50)
            .map({
                let mut f = Faults::new(config.clone());
                move |_| f.decide()
            })
            .collect();
        let b: Vec<Injected> = (0..50)
            .map({
                let mut f = Faults::new(config);
                move |_| f.decide()
            })
            .collect();
        assert_eq!(a, b);
        assert!(a.contains(&Injected::Drop) && a.contains(&Injected::None));
    }
}
