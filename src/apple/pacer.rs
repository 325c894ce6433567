//! Client-side pacing: Apple enforces each endpoint's rate per rolling hour, and the
//! pacer keeps the same budget ([`Endpoint::hourly_budget`], from the endpoint table) so
//! normal runs never meet a 429, and says when the budget frees up if waiting for it
//! would take too long.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::endpoints::Endpoint;

const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct Pacer {
    sandbox: bool,
    enabled: bool,
    sent: Mutex<HashMap<Endpoint, VecDeque<Instant>>>,
}

impl Pacer {
    pub fn new(sandbox: bool, enabled: bool) -> Self {
        Pacer {
            sandbox,
            enabled,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves a request slot at `now`: `Ok(Duration::ZERO)` to go now, `Ok(wait)` when
    /// the slot frees after `wait` (the slot is reserved for then), or `Err(wait)` when
    /// `wait` exceeds `max_wait` (nothing is reserved).
    pub fn reserve(
        &self,
        endpoint: Endpoint,
        now: Instant,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        if !self.enabled {
            return Ok(Duration::ZERO);
        }
        let budget = endpoint.hourly_budget(self.sandbox) as usize;
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let window = sent.entry(endpoint).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        if window.len() < budget {
            window.push_back(now);
            return Ok(Duration::ZERO);
        }
        let frees_at = window[window.len() - budget] + WINDOW;
        let wait = frees_at.saturating_duration_since(now);
        if wait > max_wait {
            return Err(wait);
        }
        window.push_back(frees_at);
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_budget_is_a_tenth_and_reports_the_wait() {
        let pacer = Pacer::new(true, true);
        let start = Instant::now();
        for _ in 0..360 {
            assert_eq!(
                pacer.reserve(Endpoint::UploadMessage, start, Duration::ZERO),
                Ok(Duration::ZERO)
            );
        }
        let later = start + Duration::from_secs(600);
        assert_eq!(
            pacer.reserve(Endpoint::UploadMessage, later, Duration::from_secs(60)),
            Err(Duration::from_secs(3000))
        );
        // other endpoints have budgets of their own
        assert_eq!(
            pacer.reserve(Endpoint::UploadImage, later, Duration::ZERO),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            pacer.reserve(Endpoint::UploadMessage, later, Duration::from_secs(3600)),
            Ok(Duration::from_secs(3000))
        );
    }

    #[test]
    fn disabled_pacer_never_waits() {
        let pacer = Pacer::new(true, false);
        for _ in 0..1000 {
            assert_eq!(
                pacer.reserve(Endpoint::UploadMessage, Instant::now(), Duration::ZERO),
                Ok(Duration::ZERO)
            );
        }
    }
}
