//! The connections of the HTTP server: accepted while fewer than `server.max_connections` are
//! open, each served by hyper's HTTP/1 with a bounded read buffer, and closed when its client is
//! too slow. The routes read bodies themselves, within `server.body_timeout` ([`super::body`]).
//!
//! A connection's timeouts follow its [`Phase`]: a request's head must be complete within
//! `server.header_timeout` of the connection's start (the first request) or of its first byte
//! (a kept-alive connection's next one), and a kept-alive connection may wait
//! `server.idle_timeout` for its next request. hyper's own `header_read_timeout` is not used:
//! in hyper 1.12 its timer starts as soon as a kept-alive connection goes idle, so it would cut
//! the wait for the next request down to the header timeout.
//!
//! # Guarantees
//! - At most `max_connections` connections are open at once; the memory each holds is bounded
//!   (hyper's read buffer, [`READ_BUFFER`], and the body its route reads).
//! - No connection waits longer than the header timeout for a request's head, or than the idle
//!   timeout for the next request.
//! - [`serve`] stops accepting as soon as `shutdown` completes, closes the connections between
//!   requests, lets the others finish the request on its way, and waits up to `grace` for them
//!   and the commands in flight.
//!
//! # Caveats
//! A request pipelined behind another (sent before the first is answered) has its head timed
//! by the idle timeout, not the header timeout: its bytes arrive while the connection is busy.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::Limits;

/// The most hyper buffers of a connection's input, the least it allows: a request's head must
/// fit (Slack's and Discord's are about 1 KiB, with an ingress's forwarding headers a few);
/// bodies pass through it in pieces. Held by every open connection, so it counts a thousand
/// times over.
pub const READ_BUFFER: usize = 8 * 1024;

/// How long to wait before accepting again when `accept` fails for want of resources (file
/// descriptors, memory): the connections already open must close first.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

/// Where a connection is, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Accepted, nothing received yet, since the connection's start.
    Fresh(Instant),
    /// Reading a request's head, since the connection's start or the head's first byte.
    Head(Instant),
    /// Answering a request (its route reads the body within the body timeout).
    Answering,
    /// Kept alive between requests, since the last answer.
    Idle(Instant),
}

/// Serves `router` on `listener` until `shutdown` completes, then lets each connection finish
/// the request on its way and waits up to `grace` for the connections and then for the
/// commands in flight (`tasks`, where the pipelines run them).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tasks: TaskTracker,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // Past the cap, connections are not accepted: they wait in the kernel's backlog and are
    // served as soon as a slot frees, which the timeouts guarantee within seconds. Accepting
    // and closing them instead would refuse Slack's and Discord's own requests during a flood
    // that a short wait would have let through, and costs the same file descriptors and
    // syscalls the cap is there to bound.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let (closing, closed) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                connections.spawn(connection(
                    stream,
                    router.clone(),
                    limits,
                    closed.clone(),
                    slot,
                ));
            }
            // The client gave up before it was accepted: nothing to do.
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept connections; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let deadline = Instant::now() + grace;
    let _ = closing.send(true);
    if let Some(open) = finish(&connections, deadline).await {
        tracing::warn!(open, "connections still open at shutdown are closed");
    }
    if let Some(in_flight) = finish(&tasks, deadline).await {
        tracing::warn!(
            in_flight,
            "commands still running at shutdown; they stay in the inbox and run again at the next start"
        );
    }
}

/// Closes `tracker` and waits for its tasks until `deadline`; how many were left, if any.
async fn finish(tracker: &TaskTracker, deadline: Instant) -> Option<usize> {
    tracker.close();
    let ended = tokio::time::timeout_at(deadline, tracker.wait()).await;
    ended.is_err().then(|| tracker.len())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, times out, or shuts down; its `slot` is given back then.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let phase = Arc::new(watch::Sender::new(Phase::Fresh(Instant::now())));
    let mut phases = phase.subscribe();
    let current = Arc::clone(&phase);
    let io = TokioIo::new(Watched {
        stream,
        phase: Arc::clone(&phase),
    });
    let routes = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |request| {
        let answering = Answering::start(&phase);
        let answer = routes.call(request);
        async move {
            let answer = answer.await;
            drop(answering);
            answer
        }
    });
    let served = http1::Builder::new()
        .max_buf_size(READ_BUFFER)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(served);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            which = timed_out(&mut phases, limits) => {
                tracing::debug!("connection closed: its {which} timeout passed");
                return;
            }
            _ = closing.changed(), if !shutting_down => {
                // Between requests nothing is lost by closing at once; a request on its way
                // is answered first.
                if matches!(*current.borrow(), Phase::Fresh(_) | Phase::Idle(_)) {
                    return;
                }
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Completes when the connection has stayed too long in its phase; names the timeout.
async fn timed_out(phases: &mut watch::Receiver<Phase>, limits: Limits) -> &'static str {
    loop {
        let deadline = match *phases.borrow_and_update() {
            Phase::Fresh(since) | Phase::Head(since) => {
                Some((since + limits.header_timeout, "header"))
            }
            Phase::Idle(since) => Some((since + limits.idle_timeout, "idle")),
            Phase::Answering => None,
        };
        let changed = async {
            if phases.changed().await.is_err() {
                // The connection is gone; its future is being dropped.
                std::future::pending::<()>().await;
            }
        };
        match deadline {
            Some((at, which)) => tokio::select! {
                () = tokio::time::sleep_until(at) => return which,
                () = changed => {}
            },
            None => changed.await,
        }
    }
}

/// A request being answered: the connection is [`Phase::Answering`] until this is dropped
/// (the answer is ready, or the connection ended).
struct Answering(Arc<watch::Sender<Phase>>);

impl Answering {
    fn start(phase: &Arc<watch::Sender<Phase>>) -> Self {
        phase.send_replace(Phase::Answering);
        Self(Arc::clone(phase))
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.send_replace(Phase::Idle(Instant::now()));
    }
}

/// The connection's socket, noting the first byte of a kept-alive connection's next request.
struct Watched {
    stream: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.phase.send_if_modified(|phase| match *phase {
                // The first request's head is timed from the connection's start.
                Phase::Fresh(since) => {
                    *phase = Phase::Head(since);
                    true
                }
                Phase::Idle(_) => {
                    *phase = Phase::Head(Instant::now());
                    true
                }
                Phase::Head(_) | Phase::Answering => false,
            });
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
