//! Accepting HTTP connections with limits a slow or hostile client cannot get around: at most
//! `max_connections` open at once (more wait in the listen backlog), a request's head due within
//! `header_timeout` of the connection waiting for it, and keep-alive connections without a
//! request for `idle_timeout` closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// The address a request's connection comes from (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Serves `router` until `stop`; then stops accepting, lets each connection finish the request
/// it is on, and returns once every connection is closed.
pub async fn serve(listener: TcpListener, router: Router, limits: ConnectionLimits, stop: CancellationToken) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let epoch = Instant::now();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = stop.cancelled() => break,
        };
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            connection((stream, peer), router, limits, epoch, stop).await;
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// What the watchdog of one connection knows: milliseconds since `epoch`.
#[derive(Default)]
struct Activity {
    /// When the connection last read or wrote a byte.
    last_io: AtomicU64,
    /// When a request's head began to be awaited or to arrive (0: none is pending).
    head_since: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicUsize,
}

fn ms_since(epoch: Instant) -> u64 {
    // Over 584 million years before this wraps.
    epoch.elapsed().as_millis() as u64
}

async fn connection(
    (stream, peer): (TcpStream, std::net::SocketAddr),
    router: Router,
    limits: ConnectionLimits,
    epoch: Instant,
    stop: CancellationToken,
) {
    let activity = Arc::new(Activity::default());
    let now = ms_since(epoch).max(1);
    activity.last_io.store(now, Ordering::Relaxed);
    // A new connection owes its first request's head at once.
    activity.head_since.store(now, Ordering::Relaxed);
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone(), epoch });
    let tower = TowerToHyperService::new(router);
    let seen = activity.clone();
    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ClientAddr(peer));
        seen.head_since.store(0, Ordering::Relaxed);
        seen.in_flight.fetch_add(1, Ordering::Relaxed);
        let answer = hyper::service::Service::call(&tower, req);
        let seen = seen.clone();
        async move {
            let response = answer.await;
            seen.in_flight.fetch_sub(1, Ordering::Relaxed);
            seen.last_io.store(ms_since(epoch), Ordering::Relaxed);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let wait = if closing { Duration::from_secs(3600) } else { next_check(&activity, limits, epoch) };
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
                continue;
            }
        }
        if closing {
            continue;
        }
        match verdict(&activity, limits, ms_since(epoch)) {
            Verdict::Keep => {}
            // The head never came whole: nothing was asked, so nothing is owed an answer.
            Verdict::HeadTimedOut => return,
            Verdict::Idle => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    HeadTimedOut,
    Idle,
}

fn verdict(a: &Activity, limits: ConnectionLimits, now: u64) -> Verdict {
    if a.in_flight.load(Ordering::Relaxed) > 0 {
        return Verdict::Keep;
    }
    let head_since = a.head_since.load(Ordering::Relaxed);
    if head_since != 0 {
        return if now.saturating_sub(head_since) >= limits.header_timeout.as_millis() as u64 {
            Verdict::HeadTimedOut
        } else {
            Verdict::Keep
        };
    }
    if now.saturating_sub(a.last_io.load(Ordering::Relaxed)) >= limits.idle_timeout.as_millis() as u64 {
        Verdict::Idle
    } else {
        Verdict::Keep
    }
}

/// How long until the earliest deadline that could close the connection.
fn next_check(a: &Activity, limits: ConnectionLimits, epoch: Instant) -> Duration {
    let now = ms_since(epoch);
    let head_since = a.head_since.load(Ordering::Relaxed);
    let due = if a.in_flight.load(Ordering::Relaxed) > 0 {
        now + limits.idle_timeout.as_millis() as u64
    } else if head_since != 0 {
        head_since + limits.header_timeout.as_millis() as u64
    } else {
        a.last_io.load(Ordering::Relaxed) + limits.idle_timeout.as_millis() as u64
    };
    Duration::from_millis(due.saturating_sub(now).max(10))
}

/// The socket, noting when bytes pass and when a request's head begins to arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    epoch: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = ms_since(self.epoch).max(1);
            let a = &self.activity;
            a.last_io.store(now, Ordering::Relaxed);
            if a.in_flight.load(Ordering::Relaxed) == 0 {
                // Bytes while no request is being answered: the next head is on its way.
                let _ = a.head_since.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last_io.store(ms_since(self.epoch), Ordering::Relaxed);
        }
        polled
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last_io.store(ms_since(self.epoch), Ordering::Relaxed);
        }
        polled
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        max_connections: 10,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
    };

    #[test]
    fn a_pending_head_times_out_an_idle_connection_closes_a_busy_one_stays() {
        let a = Activity::default();
        a.head_since.store(1_000, Ordering::Relaxed);
        a.last_io.store(1_000, Ordering::Relaxed);
        assert_eq!(verdict(&a, LIMITS, 10_999), Verdict::Keep);
        assert_eq!(verdict(&a, LIMITS, 11_000), Verdict::HeadTimedOut);
        a.head_since.store(0, Ordering::Relaxed);
        assert_eq!(verdict(&a, LIMITS, 60_999), Verdict::Keep);
        assert_eq!(verdict(&a, LIMITS, 61_000), Verdict::Idle);
        a.in_flight.store(1, Ordering::Relaxed);
        assert_eq!(verdict(&a, LIMITS, 1_000_000), Verdict::Keep, "a request being answered is never cut");
    }
}
