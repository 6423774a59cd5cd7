//! Accepting and serving HTTP/1 connections with every resource bounded (driving hyper directly:
//! `axum::serve` offers none of these bounds):
//!
//! * at most [`ConnLimits::max_connections`] at once: past that the server stops accepting, and new
//!   connections wait in the kernel's listen backlog until one closes;
//! * a request head must arrive within [`ConnLimits::header_read_timeout`] (hyper's timer, which
//!   starts when the connection is ready for the next request);
//! * a connection with no request in progress and no byte moving for
//!   [`ConnLimits::idle_timeout`] is closed (idle keep-alive, a stalled head, a client that stopped
//!   reading its response);
//! * request bodies stall at most [`ConnLimits::body_idle_timeout`] (`router.rs`), and whole
//!   requests last at most `REQUEST_TIMEOUT_SECS`.
//!
//! On shutdown, accepting stops, in-flight requests get `SHUTDOWN_GRACE` to finish, and idle
//! connections are closed at once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::app::App;
use crate::config::ConnLimits;

/// After a shutdown signal, in-flight requests get this long to finish before the server stops
/// anyway (a publish normally takes well under a second; 30 s is also what most orchestrators
/// allow between SIGTERM and SIGKILL).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long to wait before accepting again after `accept` failed for lack of resources (file
/// descriptors): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// When the connection last moved a byte, and how many of its requests are being handled.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Marks one request as being handled for as long as it lives (dropped also when cancelled).
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(a: &Arc<Activity>) -> Self {
        a.busy.fetch_add(1, Ordering::Relaxed);
        a.touch();
        Busy(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records when bytes move.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves once the connection has had no request in progress and no byte moving for `limit`.
async fn idle(activity: &Activity, limit: Duration) {
    loop {
        let idle_for = activity.idle_for();
        let busy = activity.busy.load(Ordering::Relaxed) > 0;
        if !busy && idle_for >= limit {
            return;
        }
        let wait = if busy { limit } else { limit - idle_for };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// Errors of one connection's `accept` that say nothing about the listener (the peer gave up).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` until `signal` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    app: Arc<App>,
    signal: impl Future<Output = ()>,
) {
    let limits: ConnLimits = app.config.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(signal);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        activity.touch();
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let tower = TowerToHyperService::new(router.clone());
        let per_request = activity.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = Busy::enter(&per_request);
            let response = hyper::service::Service::call(&tower, req);
            async move {
                let r = response.await;
                drop(busy);
                r
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        let app = app.clone();
        let idle_limit = limits.idle_timeout;
        tokio::spawn(async move {
            app.metrics.connection_opened();
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = idle(&activity, idle_limit) => {
                    tracing::debug!("closing an idle connection");
                }
            }
            app.metrics.connection_closed();
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("no longer accepting connections; finishing in-flight requests");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running {}s after the shutdown signal; stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        );
    }
}
