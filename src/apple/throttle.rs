//! How many requests are in flight at once: a limit shared by every client of a run
//! (`--parallelism`), and per endpoint a gate that a 429 narrows (halving down to one
//! request at a time) and closes until Apple's `Retry-After`, so concurrency never
//! hammers an endpoint that Apple is already refusing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::endpoints::Endpoint;

/// Requests one endpoint of one app may have in flight before any 429.
const ENDPOINT_START: usize = 64;

#[derive(Debug)]
struct Gate {
    permits: Arc<Semaphore>,
    limit: AtomicUsize,
    /// Permits to forget as they come back, after the limit was lowered.
    debt: AtomicUsize,
    not_before: Mutex<Option<Instant>>,
}

impl Gate {
    fn new() -> Self {
        Gate {
            permits: Arc::new(Semaphore::new(ENDPOINT_START)),
            limit: AtomicUsize::new(ENDPOINT_START),
            debt: AtomicUsize::new(0),
            not_before: Mutex::new(None),
        }
    }

    fn lower(&self, until: Option<Instant>) {
        let old = self.limit.load(Ordering::SeqCst);
        let new = (old / 2).max(1);
        if new < old
            && self
                .limit
                .compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let owed = old - new;
            let forgotten = self.permits.forget_permits(owed);
            self.debt.fetch_add(owed - forgotten, Ordering::SeqCst);
        }
        if let Some(until) = until {
            let mut not_before = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
            *not_before = Some(not_before.map_or(until, |t| t.max(until)));
        }
    }
}

/// Held while a request is in flight; gives its permits back (or pays the gate's debt).
pub struct InFlight {
    endpoint: Option<(Arc<Gate>, OwnedSemaphorePermit)>,
    _shared: Option<OwnedSemaphorePermit>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((gate, permit)) = self.endpoint.take() {
            let paid = gate
                .debt
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
                .is_ok();
            if paid {
                permit.forget();
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Throttle {
    shared: Option<Arc<Semaphore>>,
    gates: Mutex<HashMap<Endpoint, Arc<Gate>>>,
}

impl Throttle {
    /// `shared`: the run's limit on requests in flight across all clients, if any.
    pub fn new(shared: Option<Arc<Semaphore>>) -> Self {
        Throttle {
            shared,
            gates: Mutex::new(HashMap::new()),
        }
    }

    fn gate(&self, endpoint: Endpoint) -> Arc<Gate> {
        self.gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(endpoint)
            .or_insert_with(|| Arc::new(Gate::new()))
            .clone()
    }

    /// Waits for the endpoint's gate (and any `Retry-After` it is closed until), then
    /// for a slot of the shared limit.
    pub async fn acquire(&self, endpoint: Endpoint) -> InFlight {
        let gate = self.gate(endpoint);
        let permit = gate
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("gates are never closed");
        loop {
            let until = *gate.not_before.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => break,
            }
        }
        let shared = match &self.shared {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .expect("the shared limit is never closed"),
            ),
            None => None,
        };
        InFlight {
            endpoint: Some((gate, permit)),
            _shared: shared,
        }
    }

    /// Apple answered 429: halve the endpoint's concurrency and hold it until `wait` ends.
    /// How long a request to `endpoint` would wait for a `Retry-After` now (zero: none).
    pub fn held_for(&self, endpoint: Endpoint) -> Duration {
        let until = *self
            .gate(endpoint)
            .not_before
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        until.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    pub fn rate_limited(&self, endpoint: Endpoint, wait: Option<Duration>) {
        self.gate(endpoint).lower(wait.map(|w| Instant::now() + w));
    }

    /// The endpoint's current concurrency limit.
    pub fn limit(&self, endpoint: Endpoint) -> usize {
        self.gate(endpoint).limit.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    async fn peak_concurrency(throttle: Arc<Throttle>, requests: usize) -> usize {
        peak_concurrency_on(throttle, Endpoint::UploadMessage, requests).await
    }

    #[tokio::test]
    async fn the_shared_limit_bounds_requests_in_flight() {
        let throttle = Arc::new(Throttle::new(Some(Arc::new(Semaphore::new(3)))));
        assert_eq!(peak_concurrency(throttle, 12).await, 3);
    }

    #[tokio::test]
    async fn a_429_narrows_the_endpoint_to_one_request_at_a_time_and_holds_it() {
        let throttle = Arc::new(Throttle::new(Some(Arc::new(Semaphore::new(16)))));
        for _ in 0..8 {
            throttle.rate_limited(Endpoint::UploadMessage, None);
        }
        assert_eq!(throttle.limit(Endpoint::UploadMessage), 1);
        assert_eq!(peak_concurrency(throttle.clone(), 6).await, 1);
        assert_eq!(throttle.limit(Endpoint::GetMessageList), ENDPOINT_START);

        throttle.rate_limited(Endpoint::UploadImage, Some(Duration::from_millis(150)));
        let start = Instant::now();
        drop(throttle.acquire(Endpoint::UploadImage).await);
        assert!(start.elapsed() >= Duration::from_millis(140));
    }

    #[tokio::test]
    async fn permits_in_flight_when_the_limit_drops_are_not_given_back() {
        let throttle = Arc::new(Throttle::new(None));
        let held: Vec<InFlight> = futures_util::future::join_all(
            (0..ENDPOINT_START).map(|_| throttle.acquire(Endpoint::UploadImage)),
        )
        .await;
        throttle.rate_limited(Endpoint::UploadImage, None);
        drop(held);
        assert_eq!(
            peak_concurrency_on(throttle, Endpoint::UploadImage, 64).await,
            ENDPOINT_START / 2
        );
    }

    async fn peak_concurrency_on(throttle: Arc<Throttle>, endpoint: Endpoint, n: usize) -> usize {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (throttle, now, peak) = (throttle.clone(), now.clone(), peak.clone());
                tokio::spawn(async move {
                    let _in_flight = throttle.acquire(endpoint).await;
                    let c = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(c, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        peak.load(Ordering::SeqCst)
    }

    #[test]
    fn a_retry_after_holds_its_endpoint_only_and_says_for_how_long() {
        let throttle = Throttle::new(None);
        assert_eq!(throttle.held_for(Endpoint::DeleteMessage), Duration::ZERO);
        throttle.rate_limited(Endpoint::DeleteMessage, Some(Duration::from_secs(600)));
        let held = throttle.held_for(Endpoint::DeleteMessage);
        assert!(
            held > Duration::from_secs(590) && held <= Duration::from_secs(600),
            "{held:?}"
        );
        assert_eq!(throttle.held_for(Endpoint::DeleteImage), Duration::ZERO);
    }
}
