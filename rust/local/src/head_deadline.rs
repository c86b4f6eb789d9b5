//! How long a connection may wait for a request head: a connection with no
//! request in progress is closed once the next head (or the first, TLS
//! handshake included) has not arrived within the timeout.
//!
//! hyper's `header_read_timeout` does the same, but arms, polls and drops
//! a timer for every request (about a twentieth of the server's
//! instructions for a small request). Here a connection keeps one timer:
//! a request only counts itself in and out (its response body carries the
//! guard, so a long stream is not cut), and the timer, when it fires,
//! works out from those marks whether the connection has waited too long
//! or when to look again.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

/// One connection's marks; cheap to clone (the service holds a copy).
#[derive(Clone)]
pub struct HeadDeadline {
    shared: Arc<Marks>,
    timeout: Duration,
}

struct Marks {
    opened: Instant,
    /// Requests whose head was read and whose response is not yet sent.
    in_flight: AtomicUsize,
    /// When the connection last had no request in progress (nanoseconds
    /// since `opened`): the wait for the next head began then.
    idle_since_ns: AtomicU64,
}

/// Held by a request from its head to the end of its response body.
pub struct InFlight(Arc<Marks>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let since = nanos(self.0.opened.elapsed());
        self.0.idle_since_ns.store(since, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HeadDeadline {
    pub fn new(timeout: Duration) -> HeadDeadline {
        HeadDeadline {
            shared: Arc::new(Marks {
                opened: Instant::now(),
                in_flight: AtomicUsize::new(0),
                idle_since_ns: AtomicU64::new(0),
            }),
            timeout,
        }
    }

    /// Marks a request head read; the wait for the next head begins when
    /// the returned guard is dropped.
    pub fn begin(&self) -> InFlight {
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.shared.clone())
    }

    /// Runs `conn` until it ends or has waited too long for a request head
    /// (then `conn` is dropped, which closes the connection). Polls the
    /// timer only when it has fired, not on every wake-up of the
    /// connection.
    pub async fn serve<F: Future<Output = ()>>(&self, conn: F) {
        let mut conn = pin!(conn);
        let mut timer = pin!(tokio::time::sleep_until(self.shared.opened + self.timeout));
        let mut armed = false;
        poll_fn(|cx| {
            if conn.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            while !armed || timer.is_elapsed() {
                if timer.is_elapsed() {
                    match self.next_check(Instant::now()) {
                        Some(at) => timer.as_mut().reset(at),
                        None => return Poll::Ready(()),
                    }
                }
                // Registers the timer (or finds it already due: look again).
                armed = timer.as_mut().poll(cx).is_pending();
            }
            Poll::Pending
        })
        .await
    }

    /// When the timer fires at `now`: the next time to look, or `None`
    /// when the connection has waited for a head longer than the timeout.
    fn next_check(&self, now: Instant) -> Option<Instant> {
        if self.shared.in_flight.load(Ordering::Relaxed) > 0 {
            return Some(now + self.timeout);
        }
        let idle_since = Duration::from_nanos(self.shared.idle_since_ns.load(Ordering::Relaxed));
        let due = self.shared.opened + idle_since + self.timeout;
        (due > now).then_some(due)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed_after_the_timeout() {
        let deadline = HeadDeadline::new(TIMEOUT);
        let started = Instant::now();
        deadline.serve(std::future::pending()).await;
        assert_eq!(started.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_counted_from_the_end_of_the_last_response() {
        let deadline = HeadDeadline::new(TIMEOUT);
        let started = Instant::now();
        let marks = deadline.clone();
        let requests = async move {
            // A request at 10 s whose response ends at 50 s (longer than
            // the timeout: a request in progress is never cut).
            tokio::time::sleep(Duration::from_secs(10)).await;
            let guard = marks.begin();
            tokio::time::sleep(Duration::from_secs(40)).await;
            drop(guard);
            std::future::pending::<()>().await
        };
        deadline.serve(requests).await;
        assert_eq!(started.elapsed(), Duration::from_secs(50) + TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_ends_first_is_not_waited_for() {
        let deadline = HeadDeadline::new(TIMEOUT);
        let started = Instant::now();
        deadline
            .serve(tokio::time::sleep(Duration::from_secs(1)))
            .await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
