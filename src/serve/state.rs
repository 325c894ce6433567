//! The server's shared state and its reloads: what is served now (swapped whole), the
//! reloader that reads the sources again every interval (off the request path, retrying a
//! failed reload until it succeeds), and the trust re-check a refused chain asks for.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;

use super::metrics::Metrics;
use super::served::{
    Answer, Inputs, LoadError, Outcome, RootPolicy, Served, Sources, read_limited,
};
use super::verify::Refusal;
use crate::realtime::store::{Fetched, ObjectRead, SnapshotLocation, StoreError, block_on};

/// A file's identity for change detection: modification time, length and (on unix) inode.
/// File times have a coarse clock (a few ms), so a file changed within [`RACY`] of its read
/// is read again until it is older (as git does for a "racily clean" index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp(Option<SystemTime>, u64, u64);

/// Files written this close to their read are read again until they are older.
const RACY: Duration = Duration::from_secs(2);

pub(super) fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp(m.modified().ok(), m.len(), inode))
}

/// Whether a file time is within [`RACY`] of `now` (a time ahead counts only within it).
pub(super) fn is_racy(written: Option<SystemTime>, now: SystemTime) -> bool {
    match written {
        Some(written) => match now.duration_since(written) {
            Ok(age) => age < RACY,
            Err(ahead) => ahead.duration() < RACY,
        },
        None => false,
    }
}

/// The shortest and longest `--reload-interval`.
pub const RELOAD_INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(3600));

/// How long a request refused for an untrusted chain waits for the trust re-check it asked
/// for (the simulator writes a new root each time it starts).
const TRUST_RECHECK_WAIT: Duration = Duration::from_secs(1);
/// Re-checks asked for by refused chains run at most this often (a flood of forged chains
/// costs one file check per period, not one per request).
const TRUST_RECHECK_PERIOD: Duration = Duration::from_millis(100);

/// How the offer keys' variables are read on a reload (the process environment in
/// production).
pub type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the last pass saw of the snapshot file, to skip reading it when nothing changed.
#[derive(Debug, Default)]
struct PassMemory {
    snapshot_stamp: Option<Stamp>,
    roots_digest: String,
    racy: bool,
    /// An object's last read (its ETag, bytes and time), asked again with `If-None-Match`.
    object: Option<ObjectRead>,
    /// The last pass failed: the next one reads everything again.
    failing: bool,
}

/// The server's shared state: what is served now, and how to read it again.
pub struct ServeState {
    served: ArcSwapOption<Served>,
    pub sources: Sources,
    /// The last reload that failed (kept until one succeeds), for `/healthz`.
    last_error: Mutex<Option<String>>,
    /// Serializes reload passes and remembers what the last one saw.
    memory: Mutex<PassMemory>,
    pub metrics: Arc<Metrics>,
    /// Reload passes started and finished, for requests waiting on a trust re-check.
    passes_started: AtomicU64,
    passes_done: tokio::sync::watch::Sender<u64>,
    recheck: tokio::sync::Notify,
    lookup: Lookup,
    pub tls: Option<Arc<super::tls::ReloadingCert>>,
    /// SIGTERM arrived: `/readyz` says so while the requests in flight finish.
    pub stopping: AtomicBool,
    /// `--decisions`: where every answer is recorded.
    pub decisions: std::sync::OnceLock<super::decisions::DecisionLog>,
}

/// How a reload went.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The sources changed but cannot be served; what was served stays.
    Kept,
}

impl ServeState {
    /// The state serving `served`, reading offer keys from the process environment on
    /// reloads, with metrics of its own and no TLS.
    pub fn new(served: Served, sources: Sources) -> Arc<ServeState> {
        ServeState::with(
            Some(served),
            sources,
            Box::new(|name| std::env::var(name).ok()),
            Arc::new(Metrics::default()),
            None,
        )
    }

    /// The state serving `served` (`None`: nothing yet, the reloader reads at once);
    /// `lookup` reads the offer keys' variables on reloads;
    /// `tls`, the certificate the same passes reload.
    pub fn with(
        served: Option<Served>,
        sources: Sources,
        lookup: Lookup,
        metrics: Arc<Metrics>,
        tls: Option<Arc<super::tls::ReloadingCert>>,
    ) -> Arc<ServeState> {
        let roots_digest = Inputs::with_roots(&sources, vec![], None).roots_digest();
        let snapshot_stamp = sources.snapshot.as_file().and_then(stamp);
        let racy = is_racy(snapshot_stamp.and_then(|s| s.0), SystemTime::now());
        if let Some(served) = &served {
            metrics.snapshot_loaded(served, &sources.snapshot);
        }
        let failing = served.is_none();
        Arc::new(ServeState {
            served: ArcSwapOption::from(served.map(Arc::new)),
            sources,
            last_error: Mutex::new(None),
            memory: Mutex::new(PassMemory {
                snapshot_stamp,
                roots_digest,
                racy,
                object: None,
                failing,
            }),
            metrics,
            passes_started: AtomicU64::new(0),
            passes_done: tokio::sync::watch::Sender::new(0),
            recheck: tokio::sync::Notify::new(),
            lookup,
            tls,
            stopping: AtomicBool::new(false),
            decisions: std::sync::OnceLock::new(),
        })
    }

    pub fn served(&self) -> Option<Arc<Served>> {
        self.served.load_full()
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("error lock").clone()
    }

    /// Reads the sources again: the trust roots always (they are small), the snapshot file
    /// when its stamp changed, when it was written recently, or after a failed pass.
    /// Blocking file I/O: the reloader runs it on a blocking thread, never a request's task.
    pub fn reload_if_changed(&self) -> Reload {
        match &self.sources.snapshot {
            SnapshotLocation::File(path) => self.reload_file(path),
            SnapshotLocation::Object(object) => {
                let unless = self.object_etag();
                // blocking callers (tests); `serve` reads objects on its runtime (`pass`)
                let fetched =
                    block_on(object.fetch(unless.as_deref(), crate::realtime::MAX_SNAPSHOT_BYTES))
                        .unwrap_or_else(|reason| {
                            Err(StoreError::Read {
                                url: object.url.clone(),
                                reason,
                            })
                        });
                self.reload_object(fetched)
            }
        }
    }

    fn reload_file(&self, path: &Path) -> Reload {
        let mut memory = self.memory.lock().expect("reload lock");
        if let Some(tls) = &self.tls {
            tls.reload_if_changed(&self.metrics);
        }
        let current = self.served.load_full();
        let snapshot_stamp = stamp(path);
        let probe = Inputs::with_roots(&self.sources, vec![], None);
        let roots_now = probe.roots_digest();
        if !memory.failing
            && current.is_some()
            && !memory.racy
            && snapshot_stamp == memory.snapshot_stamp
            && roots_now == memory.roots_digest
        {
            return Reload::Unchanged;
        }
        let read = read_limited(path, crate::realtime::MAX_SNAPSHOT_BYTES);
        memory.snapshot_stamp = snapshot_stamp;
        memory.racy = is_racy(snapshot_stamp.and_then(|s| s.0), SystemTime::now());
        memory.roots_digest = roots_now;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return self.failed(&mut memory, e),
        };
        let inputs = Inputs::new(bytes, snapshot_stamp.and_then(|s| s.0), probe.roots);
        self.consider(&mut memory, current, inputs)
    }

    /// The ETag to read the object again with: none after a failed pass (read it whole).
    fn object_etag(&self) -> Option<String> {
        let memory = self.memory.lock().expect("reload lock");
        if memory.failing || self.served.load().is_none() {
            return None;
        }
        memory.object.as_ref().and_then(|o| o.etag.clone())
    }

    /// Serves what a read of the object found (blocking: the trust roots are files).
    fn reload_object(&self, fetched: Result<Fetched, StoreError>) -> Reload {
        let mut memory = self.memory.lock().expect("reload lock");
        if let Some(tls) = &self.tls {
            tls.reload_if_changed(&self.metrics);
        }
        let current = self.served.load_full();
        let probe = Inputs::with_roots(&self.sources, vec![], None);
        let roots_now = probe.roots_digest();
        let roots_changed = roots_now != memory.roots_digest;
        memory.roots_digest = roots_now;
        let read = match fetched {
            Err(e) => return self.failed(&mut memory, LoadError::Store(e)),
            Ok(Fetched::Missing) => {
                let error = LoadError::Unreadable {
                    path: self.sources.snapshot.to_string(),
                    reason: format!(
                        "no such object: write it with `retainctl apply --snapshot {}`",
                        self.sources.snapshot
                    ),
                };
                return self.failed(&mut memory, error);
            }
            Ok(Fetched::NotModified) if !roots_changed && !memory.failing => {
                return Reload::Unchanged;
            }
            Ok(Fetched::NotModified) => match memory.object.clone() {
                Some(read) => read,
                None => return Reload::Unchanged,
            },
            Ok(Fetched::Read(read)) => {
                memory.object = Some(read.clone());
                read
            }
        };
        let inputs = Inputs::new(read.bytes, read.written, probe.roots);
        self.consider(&mut memory, current, inputs)
    }

    /// Serves `inputs` unless they are what is served already or cannot be served.
    fn consider(
        &self,
        memory: &mut PassMemory,
        current: Option<Arc<Served>>,
        inputs: Inputs,
    ) -> Reload {
        let content = inputs.content_digest();
        if let Some(current) = &current
            && current.content == content
        {
            // the same content (a racy stamp, or a bad file put back): nothing to
            // announce, and no error left to report
            memory.failing = false;
            *self.last_error.lock().expect("error lock") = None;
            return Reload::Unchanged;
        }
        match Served::build(
            &inputs,
            &self.sources,
            RootPolicy::DropUnreadable,
            &*self.lookup,
        ) {
            Ok(next) => {
                tracing::info!(
                    snapshot = %self.sources.snapshot,
                    version = &next.digest[..12],
                    apps = next.snapshot.apps.len(),
                    trusted_roots = next.trusted_roots,
                    "snapshot reloaded"
                );
                for warning in &next.warnings {
                    tracing::warn!("{warning}");
                }
                self.metrics.snapshot_loaded(&next, &self.sources.snapshot);
                self.served.store(Some(Arc::new(next)));
                memory.failing = false;
                *self.last_error.lock().expect("error lock") = None;
                Reload::Reloaded
            }
            Err(e) => self.failed(memory, e),
        }
    }

    fn failed(&self, memory: &mut PassMemory, error: LoadError) -> Reload {
        let text = error.to_string();
        self.metrics.reload_failures.inc();
        let mut last = self.last_error.lock().expect("error lock");
        if last.as_deref() != Some(&text) {
            let what = if self.served.load().is_some() {
                "keeping the snapshot served"
            } else {
                "nothing to serve yet"
            };
            tracing::warn!("{what}: {text} (retried every reload interval)");
        }
        *last = Some(text);
        memory.failing = true;
        Reload::Kept
    }

    /// Answers a request. A chain refused as untrusted asks the reloader for a trust
    /// re-check and waits for it (bounded); the re-check never runs on this task.
    /// `None` while nothing is served yet.
    pub async fn answer(&self, body: &[u8]) -> Option<(Arc<Served>, Answer)> {
        let now = SystemTime::now();
        let served = self.served.load_full()?;
        let answer = served.answer(body, now);
        if answer.outcome != Outcome::Refused(Refusal::UntrustedChain) {
            return Some((served, answer));
        }
        // a pass that starts from now on sees the files as they are now
        let wanted = self.passes_started.load(Ordering::SeqCst) + 1;
        let mut done = self.passes_done.subscribe();
        self.recheck.notify_one();
        let _ = tokio::time::timeout(TRUST_RECHECK_WAIT, done.wait_for(|n| *n >= wanted)).await;
        match self.served.load_full() {
            Some(latest) if !Arc::ptr_eq(&served, &latest) => {
                let again = latest.answer(body, now);
                Some((latest, again))
            }
            _ => Some((served, answer)),
        }
    }

    /// One reload pass (file reads on a blocking thread; an object read asynchronously),
    /// counted for the requests waiting on one.
    async fn pass(self: &Arc<Self>) {
        let id = self.passes_started.fetch_add(1, Ordering::SeqCst) + 1;
        let state = self.clone();
        match &self.sources.snapshot {
            SnapshotLocation::File(_) => {
                let _ = tokio::task::spawn_blocking(move || state.reload_if_changed()).await;
            }
            SnapshotLocation::Object(object) => {
                let unless = self.object_etag();
                let fetched = object
                    .fetch(unless.as_deref(), crate::realtime::MAX_SNAPSHOT_BYTES)
                    .await;
                let _ = tokio::task::spawn_blocking(move || state.reload_object(fetched)).await;
            }
        }
        self.passes_done.send_if_modified(|done| {
            let newer = id > *done;
            if newer {
                *done = id;
            }
            newer
        });
    }
}

/// Reads the sources every `interval`, and at once (at most every
/// [`TRUST_RECHECK_PERIOD`]) when a refused chain asks for a trust re-check.
pub fn spawn_reloader(state: Arc<ServeState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // nothing served yet (an object store that could not be read at start): at once
        let mut next_tick = if state.served().is_none() {
            Instant::now()
        } else {
            Instant::now() + interval
        };
        let mut last_recheck = Instant::now() - TRUST_RECHECK_PERIOD;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_tick.into()) => {
                    next_tick = Instant::now() + interval;
                }
                () = state.recheck.notified() => {
                    let since = last_recheck.elapsed();
                    if since < TRUST_RECHECK_PERIOD {
                        tokio::time::sleep(TRUST_RECHECK_PERIOD - since).await;
                    }
                    last_recheck = Instant::now();
                }
            }
            state.pass().await;
        }
    })
}

/// What is served at start, read strictly: a snapshot file or a trust root that cannot
/// be read stops `serve` with its name. An object that cannot be read yet is `None`
/// (said, then retried every interval while `/readyz` says so); one that is read but
/// cannot be served stops `serve` like a file.
pub async fn load_at_start_async(
    sources: &Sources,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Served>, LoadError> {
    match &sources.snapshot {
        SnapshotLocation::File(_) => load_at_start(sources, lookup).map(Some),
        SnapshotLocation::Object(object) => {
            let fetched = object
                .fetch(None, crate::realtime::MAX_SNAPSHOT_BYTES)
                .await;
            let read = match fetched {
                Ok(Fetched::Read(read)) => read,
                Ok(Fetched::Missing | Fetched::NotModified) => {
                    tracing::warn!(
                        "nothing to serve yet: {} does not exist (write it with `retainctl apply --snapshot {}`); retried every reload interval",
                        object.url,
                        object.url
                    );
                    return Ok(None);
                }
                Err(e) => {
                    tracing::warn!("nothing to serve yet: {e} (retried every reload interval)");
                    return Ok(None);
                }
            };
            let inputs = Inputs::with_roots(sources, read.bytes, read.written);
            Served::build(&inputs, sources, RootPolicy::Strict, lookup).map(Some)
        }
    }
}

/// [`load_at_start_async`] for a snapshot file.
pub fn load_at_start(
    sources: &Sources,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Served, LoadError> {
    let path = match &sources.snapshot {
        SnapshotLocation::File(path) => path,
        SnapshotLocation::Object(_) => {
            let unreadable = |reason: String| LoadError::Unreadable {
                path: sources.snapshot.to_string(),
                reason,
            };
            return block_on(load_at_start_async(sources, lookup))
                .map_err(unreadable)??
                .ok_or_else(|| unreadable("it cannot be read yet".into()));
        }
    };
    let written = stamp(path).and_then(|s| s.0);
    let bytes = read_limited(path, crate::realtime::MAX_SNAPSHOT_BYTES)?;
    let inputs = Inputs::with_roots(sources, bytes, written);
    Served::build(&inputs, sources, RootPolicy::Strict, lookup)
}
