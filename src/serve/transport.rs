//! The connections: HTTP/1.1 (hyper) over TCP or TLS, with a header deadline (which also
//! bounds how long a kept-alive connection may idle), a connection budget that closes the
//! longest-idle connection to admit a new one (so idle sockets cost real clients nothing;
//! a new connection is refused only when every one of the budget is answering), and a
//! shutdown that answers every request received before the signal, those still waiting
//! in the listen queue included.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::metrics::Metrics;

/// How long a client may take to send a request's headers; also how long a kept-alive
/// connection may stay idle, and how long a TLS handshake may take.
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);
/// The most connections open at once (less when the process may open fewer files).
pub const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for the requests in flight.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// File descriptors kept for everything but connections (snapshot, logs, key files).
const FD_RESERVE: u64 = 64;

/// Raises the soft limit of open files to the hard one (as nginx's
/// `worker_rlimit_nofile` and Go's runtime do) and returns the connection budget that
/// fits under it.
pub fn connection_budget() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit of this process.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                if limit.rlim_cur < limit.rlim_max {
                    let raised = libc::rlimit {
                        rlim_cur: limit.rlim_max,
                        rlim_max: limit.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        limit = raised;
                    }
                }
                let room = limit.rlim_cur.saturating_sub(FD_RESERVE).max(16);
                return MAX_CONNECTIONS.min(room as usize);
            }
        }
    }
    MAX_CONNECTIONS
}

/// One open connection, as the budget and the shutdown see it.
struct Connection {
    opened: Instant,
    /// Requests of this connection being answered now.
    busy: AtomicUsize,
    /// Bytes were read that no request has taken yet (headers on their way).
    unread: AtomicBool,
    /// Chosen to be closed to make room: not chosen again.
    shed: AtomicBool,
    close: Notify,
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl Connection {
    /// Whether closing the connection now loses no request received: none is on its way
    /// (one being answered finishes first, as hyper's graceful close does).
    fn may_close(&self) -> bool {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return true;
        }
        !self.unread.load(Ordering::SeqCst) && !self.bytes_waiting()
    }

    /// Bytes the kernel has received that the server has not read yet.
    fn bytes_waiting(&self) -> bool {
        #[cfg(unix)]
        {
            let mut byte = 0u8;
            // SAFETY: a one-byte peek on a socket this connection owns and keeps open
            // while it is registered; MSG_DONTWAIT never blocks.
            let n = unsafe {
                libc::recv(
                    self.fd,
                    (&raw mut byte).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            n > 0
        }
        #[cfg(not(unix))]
        false
    }
}

/// The connections open, for the budget and the shutdown.
struct Connections {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next: AtomicU64,
    closed: Notify,
    budget: usize,
    metrics: Arc<Metrics>,
}

impl Connections {
    /// Makes room for one more connection: true when there is room, or an idle connection
    /// was chosen to close (the one idle longest, preferring those that sent nothing).
    fn make_room(&self) -> bool {
        let open = self.open.lock().expect("connections lock");
        let live = open
            .values()
            .filter(|c| !c.shed.load(Ordering::SeqCst))
            .count();
        if live < self.budget {
            return true;
        }
        let victim = open
            .values()
            .filter(|c| !c.shed.load(Ordering::SeqCst) && c.busy.load(Ordering::SeqCst) == 0)
            .min_by_key(|c| (c.unread.load(Ordering::SeqCst), c.opened));
        match victim {
            Some(victim) => {
                victim.shed.store(true, Ordering::SeqCst);
                victim.close.notify_one();
                self.metrics.connections_shed.inc();
                true
            }
            None => false,
        }
    }

    fn register(&self, stream: &TcpStream) -> (u64, Arc<Connection>) {
        #[cfg(unix)]
        let fd = std::os::fd::AsRawFd::as_raw_fd(stream);
        #[cfg(not(unix))]
        let _ = stream;
        let connection = Arc::new(Connection {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            unread: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            close: Notify::new(),
            #[cfg(unix)]
            fd,
        });
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.open
            .lock()
            .expect("connections lock")
            .insert(id, connection.clone());
        self.metrics.connections_open.inc();
        (id, connection)
    }

    fn unregister(&self, id: u64) {
        self.open.lock().expect("connections lock").remove(&id);
        self.metrics.connections_open.dec();
        self.closed.notify_waiters();
    }

    async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.open.lock().expect("connections lock").is_empty() {
                return;
            }
            closed.await;
        }
    }
}

/// A stream that notes when bytes arrive for a request not yet taken.
struct Tracked<S> {
    inner: S,
    connection: Arc<Connection>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.connection.unread.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as being answered while it lives.
struct Busy(Arc<Connection>);

impl Busy {
    fn enter(connection: &Arc<Connection>) -> Busy {
        connection.busy.fetch_add(1, Ordering::SeqCst);
        connection.unread.store(false, Ordering::SeqCst);
        Busy(connection.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves one connection until it ends, is shed, or shutdown finds it with no request
/// on its way.
async fn drive<S>(
    io: S,
    connection: Arc<Connection>,
    router: axum::Router,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inner = TowerToHyperService::new(router);
    let tracked = connection.clone();
    let service = hyper::service::service_fn(move |request| {
        let busy = Busy::enter(&tracked);
        let answer = hyper::service::Service::call(&inner, request);
        async move {
            let response = answer.await;
            drop(busy);
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_DEADLINE);
    let served = http.serve_connection(
        TokioIo::new(Tracked {
            inner: io,
            connection: connection.clone(),
        }),
        service,
    );
    tokio::pin!(served);
    let mut closing = false;
    let mut draining = *stopping.borrow();
    loop {
        if draining && !closing && connection.may_close() {
            served.as_mut().graceful_shutdown();
            closing = true;
        }
        tokio::select! {
            _ = served.as_mut() => return,
            () = connection.close.notified(), if !closing => {
                served.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = stopping.wait_for(|s| *s), if !draining => draining = true,
            () = tokio::time::sleep(Duration::from_millis(5)), if draining && !closing => {}
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then answers what was received and
/// waits at most [`SHUTDOWN_DEADLINE`] for it. `tls`: a TLS acceptor, for `--tls-cert`.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let connections = Arc::new(Connections {
        open: Mutex::new(HashMap::new()),
        next: AtomicU64::new(0),
        closed: Notify::new(),
        budget: connection_budget(),
        metrics,
    });
    let (stop, stopping) = watch::channel(false);
    let admit = |stream: TcpStream| {
        if !connections.make_room() {
            connections.metrics.connections_refused.inc();
            tracing::warn!(
                "{} connections open and every one is answering: a new one is closed",
                connections.budget
            );
            return;
        }
        let _ = stream.set_nodelay(true);
        let (id, connection) = connections.register(&stream);
        let connections = connections.clone();
        let router = router.clone();
        let tls = tls.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            match tls {
                None => drive(stream, connection, router, stopping).await,
                Some(acceptor) => {
                    let mut stop = stopping.clone();
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(HEADER_DEADLINE, acceptor.accept(stream)) => done.ok().and_then(Result::ok),
                        () = connection.close.notified() => None,
                        _ = stop.wait_for(|s| *s) => None,
                    };
                    if let Some(stream) = handshake {
                        drive(stream, connection, router, stopping).await;
                    }
                }
            }
            connections.unregister(id);
        });
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => admit(stream),
                Err(e) => {
                    // out of file descriptors, most often: wait for connections to close
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // connections the kernel completed before the signal may hold whole requests
    while let Some(Ok((stream, _))) = futures_util::FutureExt::now_or_never(listener.accept()) {
        admit(stream);
    }
    drop(listener);
    let _ = stop.send(true);
    if tokio::time::timeout(SHUTDOWN_DEADLINE, connections.all_closed())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still open {}s after the signal: stopping without them",
            SHUTDOWN_DEADLINE.as_secs()
        );
    }
}
