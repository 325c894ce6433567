//! `serve --decisions DIR`: every answer recorded as one JSON line ([`Decision`]) for
//! `retainctl report`, written off the request path. A request only puts its decision on a
//! bounded queue (full: the decision is dropped and counted, the answer never waits); one
//! thread writes the lines, hands them to the operating system at least once a second
//! (a crash of the process loses at most the last second) and rotates the file at
//! [`ROTATE_BYTES`], keeping [`KEEP_FILES`] files (the folder stays under 1 GiB).
//!
//! Customers are written as an HMAC-SHA-256 of their original transaction id keyed with
//! the secret in `RETAINCTL_CUSTOMER_KEY` ([`CUSTOMER_KEY_VAR`]), the same key that
//! `notifications pull` hashes with: the two sides join, and the raw id is never written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::realtime::{Rule, split_salt};
use crate::serve::served::{self, Answer, Outcome, Served};

/// What a realtime request was answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AnswerKind {
    /// A text message.
    Message,
    /// A promotional-offer message with a signed offer.
    Offer,
    /// A switch-plan message.
    Plan,
    /// A split's control arm: 204, so Apple showed the default message.
    Control,
    /// No rule matched (or none had approved content): 204, Apple's default.
    Default,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Offer => "offer",
            Self::Plan => "plan",
            Self::Control => "control",
            Self::Default => "default",
        }
    }
}

/// One answer of `serve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// When it was answered, ms since the epoch.
    #[serde(rename = "t")]
    pub at_ms: i64,
    /// The app's bundle id.
    pub app: String,
    pub environment: String,
    pub product: String,
    /// The app locale the request resolved to (the user's locale when none did).
    pub locale: String,
    /// The rule's index in `realtime:` (from 0); none: no rule answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<u32>,
    /// The index of the first rule of the rule's split group, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<u32>,
    pub answer: AnswerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<uuid::Uuid>,
    /// The keyed hash of the original transaction id.
    pub customer: String,
}

/// The variable holding the key customers are hashed with.
pub const CUSTOMER_KEY_VAR: &str = "RETAINCTL_CUSTOMER_KEY";
/// The shortest key accepted, in bytes.
const MIN_KEY_BYTES: usize = 16;
/// Decisions waiting to be written before new ones are dropped.
const QUEUE: usize = 65_536;
/// The current file's size at which it is closed and a new one started.
pub const ROTATE_BYTES: u64 = 64 * 1024 * 1024;
/// Files kept (the current one included); the oldest go.
pub const KEEP_FILES: usize = 16;
/// The current file; closed ones are `decisions-<unix ms>.jsonl`.
pub const CURRENT: &str = "decisions.jsonl";

/// A customer key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{CUSTOMER_KEY_VAR} is not set: serve --decisions hashes customers with it (any secret of 16 bytes or more, the same for notifications pull)"
    )]
    Missing,
    #[error("{CUSTOMER_KEY_VAR} is shorter than {MIN_KEY_BYTES} bytes: use a longer secret")]
    TooShort,
}

/// The key customers are hashed with.
#[derive(Clone)]
pub struct CustomerKey(aws_lc_rs::hmac::Key);

impl CustomerKey {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<CustomerKey, KeyError> {
        let secret = lookup(CUSTOMER_KEY_VAR).ok_or(KeyError::Missing)?;
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(CustomerKey(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            secret.as_bytes(),
        )))
    }

    /// The customer as written: the first 16 bytes of the HMAC, in hex.
    pub fn customer(&self, original_transaction_id: &str) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.0, original_transaction_id.as_bytes());
        tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

enum Message {
    Decision(Box<Decision>),
    /// Write what is queued and answer when it is with the operating system (and, with
    /// an object store, there too).
    Flush(SyncSender<()>),
}

/// Where closed files are also written: an object store prefix, and this process's name
/// under it (replicas write side by side, never over each other).
pub struct Upload {
    pub to: crate::realtime::store::ObjectLocation,
    pub instance: String,
}

/// How long a file stays open before it is closed and uploaded, with an object store.
pub const UPLOAD_EVERY: Duration = Duration::from_secs(60);

/// The recorder: the queue's sending end, and what was dropped.
pub struct DecisionLog {
    queue: SyncSender<Message>,
    key: CustomerKey,
    pub dropped: AtomicU64,
    pub written: std::sync::Arc<AtomicU64>,
}

impl DecisionLog {
    /// Starts the writer thread on `dir` (made if missing); refuses a folder it cannot
    /// write in.
    pub fn start(
        dir: &Path,
        key: CustomerKey,
        upload: Option<Upload>,
    ) -> std::io::Result<DecisionLog> {
        std::fs::create_dir_all(dir)?;
        let mut writer = Writer::open(dir)?;
        writer.upload = upload;
        let (queue, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let written = std::sync::Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        std::thread::Builder::new()
            .name("decisions".into())
            .spawn(move || writer.run(receiver, &counter))?;
        Ok(DecisionLog {
            queue,
            key,
            dropped: AtomicU64::new(0),
            written,
        })
    }

    /// Queues the decision of `answer` (refused requests are not decisions).
    pub fn record(&self, served: &Served, answer: &Answer) {
        let Some(decision) = decision(served, answer, &self.key) else {
            return;
        };
        match self.queue.try_send(Message::Decision(Box::new(decision))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (at most `within`) until every queued decision is with the operating system.
    pub fn flush(&self, within: Duration) -> bool {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let deadline = Instant::now() + within;
        let mut message = Message::Flush(done);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TrySendError::Full(_)) => return false,
            }
        }
        wait.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

/// The decision of an answer: when, which app, product, locale, rule, split and answer.
fn decision(served: &Served, answer: &Answer, key: &CustomerKey) -> Option<Decision> {
    let (request, at) = answer.request.as_ref()?;
    let (app, rule, kind, message) = match answer.outcome {
        Outcome::Answered {
            app,
            rule,
            kind,
            message_id,
        } => {
            let kind = match kind {
                served::AnswerKind::Message => AnswerKind::Message,
                served::AnswerKind::PromotionalOffer => AnswerKind::Offer,
                served::AnswerKind::AlternateProduct => AnswerKind::Plan,
            };
            (app, Some(rule), kind, Some(message_id))
        }
        Outcome::Control { app, rule } => (app, Some(rule), AnswerKind::Control, None),
        Outcome::Fallback { app } => (app, None, AnswerKind::Default, None),
        Outcome::Refused(_) => return None,
    };
    let realtime = &served.snapshot.apps[app];
    Some(Decision {
        at_ms: at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        app: realtime.bundle_id.clone(),
        environment: served.snapshot.environment.to_string(),
        product: request.product_id.clone(),
        // The app locale the user's locale resolved to, else the user's locale.
        locale: crate::realtime::resolve_locale(realtime, &request.user_locale)
            .unwrap_or(&request.user_locale)
            .to_string(),
        rule: rule.map(|r| r as u32),
        split: rule
            .and_then(|r| split_of(&realtime.rules, r))
            .map(|s| s as u32),
        answer: kind,
        message,
        customer: key.customer(&request.original_transaction_id),
    })
}

/// The first rule of rule `i`'s split group, if it is in one: the run of consecutive
/// rules with buckets and the same salt that holds it.
pub fn split_of(rules: &[Rule], i: usize) -> Option<usize> {
    rules.get(i)?.buckets?;
    let salt = split_salt(&rules[i]);
    let mut first = i;
    while first > 0 && rules[first - 1].buckets.is_some() && split_salt(&rules[first - 1]) == salt {
        first -= 1;
    }
    Some(first)
}

struct Writer {
    dir: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    size: u64,
    upload: Option<Upload>,
    /// Closed files not yet in the object store (an upload failed): tried again.
    pending: Vec<PathBuf>,
    opened: Instant,
}

impl Writer {
    fn open(dir: &Path) -> std::io::Result<Writer> {
        let path = dir.join(CURRENT);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        Ok(Writer {
            dir: dir.to_path_buf(),
            file: std::io::BufWriter::with_capacity(256 * 1024, file),
            size,
            upload: None,
            pending: Vec::new(),
            opened: Instant::now(),
        })
    }

    fn run(mut self, queue: Receiver<Message>, written: &AtomicU64) {
        let mut last_flush = Instant::now();
        loop {
            let message = queue.recv_timeout(Duration::from_secs(1));
            match message {
                Ok(Message::Decision(d)) => {
                    let mut line = serde_json::to_vec(&d).expect("a decision serializes");
                    line.push(b'\n');
                    if let Err(e) = self.write(&line) {
                        tracing::warn!("cannot write a decision to {}: {e}", self.dir.display());
                    } else {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Message::Flush(done)) => {
                    self.flush();
                    if self.upload.is_some() && self.size > 0 {
                        self.close_and_upload();
                    }
                    last_flush = Instant::now();
                    let _ = done.send(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    if self.upload.is_some() && self.size > 0 {
                        self.close_and_upload();
                    }
                    return;
                }
            }
            if self.upload.is_some() && self.size > 0 && self.opened.elapsed() >= UPLOAD_EVERY {
                self.close_and_upload();
            }
            if last_flush.elapsed() >= Duration::from_secs(1) {
                self.flush();
                last_flush = Instant::now();
            }
        }
    }

    fn flush(&mut self) {
        if let Err(e) = self.file.flush() {
            tracing::warn!("cannot write decisions to {}: {e}", self.dir.display());
        }
    }

    /// Closes the current file and writes it (and any earlier one that failed) to the
    /// object store; a failure is logged and tried again at the next close.
    fn close_and_upload(&mut self) {
        match self.rotate() {
            Ok(closed) => self.pending.push(closed),
            Err(e) => {
                tracing::warn!("cannot close {}: {e}", self.dir.join(CURRENT).display());
                return;
            }
        }
        let Some(upload) = &self.upload else {
            return;
        };
        let mut failed = Vec::new();
        for file in std::mem::take(&mut self.pending) {
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let name = format!("{}/{name}", upload.instance);
            let sent = std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    crate::realtime::store::block_on(upload.to.put_under(&name, bytes))
                        .and_then(|r| r.map_err(|e| e.to_string()))
                });
            if let Err(e) = sent {
                tracing::warn!(
                    "cannot write {name} to {}: {e} (tried again at the next close)",
                    upload.to.url
                );
                failed.push(file);
            }
        }
        self.pending = failed;
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.size + line.len() as u64 > ROTATE_BYTES && self.size > 0 {
            let closed = self.rotate()?;
            if self.upload.is_some() {
                self.pending.push(closed);
            }
        }
        self.file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Closes the current file under a name of its own (returned), starts a new one, and
    /// removes the oldest closed files past [`KEEP_FILES`].
    fn rotate(&mut self) -> std::io::Result<PathBuf> {
        self.file.flush()?;
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let closed = self.dir.join(format!("decisions-{ms:013}.jsonl"));
        std::fs::rename(self.dir.join(CURRENT), &closed)?;
        let fresh = Writer::open(&self.dir)?;
        self.file = fresh.file;
        self.size = fresh.size;
        self.opened = fresh.opened;
        let mut closed: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("decisions-") && n.ends_with(".jsonl"))
            })
            .collect();
        closed.sort();
        let excess = (closed.len() + 1).saturating_sub(KEEP_FILES);
        for old in closed.into_iter().take(excess) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(
                    "cannot remove the old decisions file {}: {e}",
                    old.display()
                );
            }
        }
        Ok(closed_now(&self.dir, ms))
    }
}

fn closed_now(dir: &Path, ms: u128) -> PathBuf {
    dir.join(format!("decisions-{ms:013}.jsonl"))
}
