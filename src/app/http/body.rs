//! Reading the body of a signed request (Slack's and Discord's): nothing is read from a request
//! that is over its route's limit or whose signing headers already fail; the rest is read
//! within `server.body_timeout`, never past the limit, and within one memory budget shared by
//! every request ([`BODY_BUDGET`]). The signature itself is checked by the route once the body
//! is in.
//!
//! # Guarantees
//! - A body announced (`Content-Length`) over the limit is answered 413 unread; a chunked one
//!   is answered 413 as soon as it passes the limit, so no more than the limit is ever held.
//! - A request whose signing headers are missing or stale is answered 401 unread.
//! - A body that has not arrived within the body timeout (its wait for the budget included)
//!   is answered 408.
//! - The bodies being read never hold more than the budget, however many connections send one.
//!
//! The connection of a request whose body was not read to its end is closed after the answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as _;
use tokio::sync::Semaphore;

use super::Refused;

/// The largest body Slack's and Discord's requests are taken with. Slack's slash commands are
/// forms of a dozen short fields and the typed text, a few KiB; its button presses carry the
/// message the button was on, and firewatch's messages are cut near 3 000 characters. Discord's
/// interactions are JSON with the caller, channel and guild, and options of at most 6 000
/// characters each. 64 KiB holds any of them with room to spare.
///
/// Each route passes its limit to [`Bodies::read`]: a route whose senders send more (alert
/// notifications) gets a limit of its own beside this one.
pub const CHAT_BODY_LIMIT: usize = 64 * 1024;

/// The most body bytes held at once across all requests: 128 chat bodies at their limit, or
/// thousands of the few KiB the platforms send. Without it, a slow body on every one of the
/// 1 024 connections holds 64 MiB, and the allocator keeps what they held after they close:
/// measured on a release build, 113 MiB resident after such a flood, against 55 MiB with this
/// budget and 8 KiB read buffers ([`super::connections::READ_BUFFER`]; 24 MiB idle).
pub const BODY_BUDGET: usize = 8 * 1024 * 1024;

/// Reads signed requests' bodies, each within the body timeout and all within one budget.
#[derive(Clone)]
pub struct Bodies {
    timeout: Duration,
    budget: Arc<Semaphore>,
}

impl Bodies {
    /// Bodies that must arrive within `timeout`, holding at most `budget` bytes together.
    pub fn new(timeout: Duration, budget: usize) -> Self {
        Self {
            timeout,
            budget: Arc::new(Semaphore::new(budget)),
        }
    }

    /// Reads `request`'s body after `check_headers` passed on its headers: at most `limit`
    /// bytes, within the timeout. A body takes its share of the budget before it is read (its
    /// announced length, or the whole limit when it is chunked) and gives it back once read.
    ///
    /// # Errors
    /// [`Refused`]: 413 over the limit, 401 when `check_headers` fails (its reason is logged),
    /// 408 past the timeout, 400 when the client broke off.
    pub async fn read(
        &self,
        request: Request,
        limit: usize,
        check_headers: impl FnOnce(&HeaderMap) -> Result<(), String>,
    ) -> Result<(HeaderMap, Bytes), Refused> {
        let (parts, body) = request.into_parts();
        let hint = body.size_hint();
        if hint.lower() > limit as u64 {
            return Err(Refused::TooLarge(limit));
        }
        check_headers(&parts.headers).map_err(Refused::Unsigned)?;
        let share = hint.exact().map_or(limit, |n| n as usize);
        let share = u32::try_from(share).expect("body limits are far below 4 GiB");
        let read = async {
            let _held = self
                .budget
                .acquire_many(share)
                .await
                .expect("the budget is never closed");
            collect(body, limit).await
        };
        let body = tokio::time::timeout(self.timeout, read)
            .await
            .map_err(|_| Refused::Slow(self.timeout))??;
        Ok((parts.headers, body))
    }
}

async fn collect(body: Body, limit: usize) -> Result<Bytes, Refused> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(Refused::TooLarge(limit)),
        Err(e) => Err(Refused::BrokenOff(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};

    use hyper::body::{Frame, SizeHint};

    use super::*;

    const LIMIT: usize = 1024;
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// A body that announces `length` bytes and never sends one; notes whether it was read.
    struct Announced {
        length: u64,
        read: Arc<AtomicBool>,
    }

    impl hyper::body::Body for Announced {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.read.store(true, Ordering::SeqCst);
            Poll::Pending
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.length)
        }
    }

    fn announcing(length: u64) -> (Request, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(false));
        let body = Body::new(Announced {
            length,
            read: Arc::clone(&read),
        });
        (Request::new(body), read)
    }

    /// A chunked body (no announced length) of `chunks`, then `end`.
    fn chunked(chunks: Vec<&'static [u8]>, end: Option<std::io::Error>) -> Request {
        let frames = chunks
            .into_iter()
            .map(|c| Ok(Bytes::from_static(c)))
            .chain(end.map(Err));
        Request::new(Body::from_stream(futures::stream::iter(frames)))
    }

    fn signed(_: &HeaderMap) -> Result<(), String> {
        Ok(())
    }

    #[tokio::test]
    async fn a_body_announced_over_the_limit_or_with_bad_headers_is_refused_unread() {
        let (request, read) = announcing(LIMIT as u64 + 1);
        let refused = Bodies::new(TIMEOUT, BODY_BUDGET)
            .read(request, LIMIT, signed)
            .await;
        assert!(matches!(refused, Err(Refused::TooLarge(LIMIT))));
        assert!(!read.load(Ordering::SeqCst));
        let (request, read) = announcing(10);
        let unsigned = |_: &HeaderMap| Err("missing x-slack-signature header".to_owned());
        let refused = Bodies::new(TIMEOUT, BODY_BUDGET)
            .read(request, LIMIT, unsigned)
            .await;
        assert!(matches!(refused, Err(Refused::Unsigned(reason)) if reason.contains("missing")));
        assert!(!read.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_body_that_never_comes_is_refused_when_the_timeout_passes() {
        let (request, read) = announcing(10);
        let timeout = Duration::from_millis(50);
        let refused = Bodies::new(timeout, BODY_BUDGET)
            .read(request, LIMIT, signed)
            .await;
        assert!(matches!(refused, Err(Refused::Slow(t)) if t == timeout));
        assert!(read.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_chunked_body_is_read_up_to_the_limit_and_refused_past_it() {
        let half: &[u8] = &[b'a'; LIMIT / 2];
        let whole = Bodies::new(TIMEOUT, BODY_BUDGET)
            .read(chunked(vec![half, half], None), LIMIT, signed)
            .await;
        assert_eq!(whole.unwrap().1.len(), LIMIT);
        let over = chunked(vec![half, half, b"a"], None);
        let refused = Bodies::new(TIMEOUT, BODY_BUDGET)
            .read(over, LIMIT, signed)
            .await;
        assert!(matches!(refused, Err(Refused::TooLarge(LIMIT))));
        let cut = chunked(vec![half], Some(std::io::ErrorKind::ConnectionReset.into()));
        let refused = Bodies::new(TIMEOUT, BODY_BUDGET)
            .read(cut, LIMIT, signed)
            .await;
        assert!(matches!(refused, Err(Refused::BrokenOff(_))));
    }

    #[tokio::test]
    async fn bodies_past_the_budget_wait_for_room_within_their_timeout() {
        // A budget of one body at its limit, held by a body that does not come for a minute.
        let bodies = Bodies::new(Duration::from_millis(100), LIMIT);
        let holder = Bodies {
            timeout: Duration::from_secs(60),
            budget: Arc::clone(&bodies.budget),
        };
        let (stalled, _) = announcing(LIMIT as u64);
        let holding = tokio::spawn(async move { holder.read(stalled, LIMIT, signed).await });
        while bodies.budget.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // A small body finds no room within its timeout; once the stalled one is gone it does.
        let small: &'static [u8] = b"text=hi";
        let waited = bodies.read(chunked(vec![small], None), 10, signed).await;
        assert!(matches!(waited, Err(Refused::Slow(_))));
        holding.abort();
        let _ = holding.await;
        assert_eq!(bodies.budget.available_permits(), LIMIT);
        let read = bodies.read(chunked(vec![small], None), 10, signed).await;
        assert_eq!(read.unwrap().1, small);
    }
}
