//! The client-side rate limiter of botocore's `adaptive` retry mode
//! (`botocore/retries/adaptive.py`, `bucket.py`, `throttling.py`).
//!
//! Every attempt's end is recorded: the send rate is measured in half-second
//! buckets (smoothed), and a CUBIC curve sets the rate allowed next (cut to
//! 0.7 x the measured rate at a throttling error, growing back along the
//! cubic after it), never above twice the measured rate. Nothing is held
//! back until the first throttling error; from then on every attempt takes a
//! token from a bucket filled at the allowed rate (at least 0.5/s).
//!
//! [`LimiterState`] is the arithmetic, driven by explicit timestamps (so it
//! can be compared with botocore's classes on the same inputs);
//! [`RateLimiter`] is one client's limiter on the monotonic clock, shared by
//! its threads and tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use crate::timing::monotonic_seconds;

/// botocore's `RateClocker`: the measured send rate.
#[derive(Clone, Debug)]
struct RateClocker {
    measured_rate: f64,
    last_bucket: f64,
    count: f64,
}

const SMOOTHING: f64 = 0.8;
/// Buckets per second (a bucket is 0.5 s).
const BUCKETS_PER_SECOND: f64 = 2.0;

impl RateClocker {
    fn new(now: f64) -> Self {
        RateClocker {
            measured_rate: 0.0,
            // botocore starts from the whole second, not the half.
            last_bucket: now.floor(),
            count: 0.0,
        }
    }

    fn record(&mut self, now: f64) -> f64 {
        let bucket = (now * BUCKETS_PER_SECOND).floor() / BUCKETS_PER_SECOND;
        self.count += 1.0;
        if bucket > self.last_bucket {
            let current_rate = self.count / (bucket - self.last_bucket);
            self.measured_rate = current_rate * SMOOTHING + self.measured_rate * (1.0 - SMOOTHING);
            self.count = 0.0;
            self.last_bucket = bucket;
        }
        self.measured_rate
    }
}

/// botocore's `CubicCalculator`: the rate allowed next.
#[derive(Clone, Debug)]
struct Cubic {
    w_max: f64,
    k: f64,
    last_fail: f64,
}

const SCALE_CONSTANT: f64 = 0.4;
const BETA: f64 = 0.7;

impl Cubic {
    fn new(starting_max_rate: f64, start_time: f64) -> Self {
        Cubic {
            w_max: starting_max_rate,
            k: Self::zero_point(starting_max_rate),
            last_fail: start_time,
        }
    }

    fn zero_point(w_max: f64) -> f64 {
        // powf, as botocore's `** (1 / 3.0)` (cbrt rounds differently).
        (w_max * (1.0 - BETA) / SCALE_CONSTANT).powf(1.0 / 3.0)
    }

    fn success_received(&self, now: f64) -> f64 {
        SCALE_CONSTANT * (now - self.last_fail - self.k).powi(3) + self.w_max
    }

    fn error_received(&mut self, current_rate: f64, now: f64) -> f64 {
        self.w_max = current_rate;
        self.k = Self::zero_point(current_rate);
        self.last_fail = now;
        current_rate * BETA
    }
}

/// botocore's `TokenBucket` (one token per attempt).
#[derive(Clone, Debug)]
struct TokenBucket {
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last_timestamp: Option<f64>,
}

const MIN_FILL_RATE: f64 = 0.5;

impl TokenBucket {
    fn new(max_rate: f64, now: f64) -> Self {
        let mut bucket = TokenBucket {
            fill_rate: 0.0,
            max_capacity: 0.0,
            capacity: 0.0,
            last_timestamp: None,
        };
        bucket.set_max_rate(max_rate, now);
        bucket
    }

    fn set_max_rate(&mut self, value: f64, now: f64) {
        // Tokens due so far accrue at the old rate.
        self.refill(now);
        self.fill_rate = value.max(MIN_FILL_RATE);
        self.max_capacity = if value >= 1.0 { value } else { 1.0 };
        self.capacity = self.capacity.min(self.max_capacity);
    }

    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_timestamp {
            let filled = self.capacity + (now - last) * self.fill_rate;
            self.capacity = self.max_capacity.min(filled);
        }
        self.last_timestamp = Some(now);
    }

    /// Takes a token, or says how long until one is there.
    fn try_acquire(&mut self, now: f64) -> Result<(), f64> {
        self.refill(now);
        if self.capacity >= 1.0 {
            self.capacity -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.capacity) / self.fill_rate)
        }
    }
}

/// botocore's `ClientRateLimiter`, on explicit timestamps (seconds).
#[derive(Clone, Debug)]
pub struct LimiterState {
    clocker: RateClocker,
    cubic: Cubic,
    bucket: TokenBucket,
    /// A throttling error has been seen: sends take tokens from now on.
    enabled: bool,
}

/// At most this many times the measured rate is allowed.
const MAX_RATE_ADJUST_SCALE: f64 = 2.0;

impl LimiterState {
    /// A new client's limiter, as `adaptive.register_retry_handler` makes it.
    pub fn new(now: f64) -> Self {
        LimiterState {
            cubic: Cubic::new(0.0, now),
            bucket: TokenBucket::new(1.0, now),
            clocker: RateClocker::new(now),
            enabled: false,
        }
    }

    /// Before an attempt is sent: `Ok` to send now (a token was taken, or
    /// the limiter is not on yet), or `Err(seconds)` to wait, then ask again.
    pub fn try_send(&mut self, now: f64) -> Result<(), f64> {
        if !self.enabled {
            return Ok(());
        }
        self.bucket.try_acquire(now)
    }

    /// An attempt ended (any response or failure); `throttled`: with a
    /// throttling error code.
    pub fn on_response(&mut self, now: f64, throttled: bool) {
        let measured = self.clocker.record(now);
        let new_rate = if throttled {
            let rate = if self.enabled {
                measured.min(self.bucket.fill_rate)
            } else {
                measured
            };
            self.enabled = true;
            self.cubic.error_received(rate, now)
        } else {
            self.cubic.success_received(now)
        };
        self.bucket
            .set_max_rate(new_rate.min(MAX_RATE_ADJUST_SCALE * measured), now);
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The smoothed send rate measured so far (requests/s).
    pub fn measured_rate(&self) -> f64 {
        self.clocker.measured_rate
    }

    /// The bucket's fill rate: the send rate allowed (botocore's `max_rate`).
    pub fn max_rate(&self) -> f64 {
        self.bucket.fill_rate
    }

    /// Tokens in the bucket at its last update.
    pub fn capacity(&self) -> f64 {
        self.bucket.capacity
    }
}

/// One client's limiter: its threads and async tasks share it.
pub struct RateLimiter {
    state: Mutex<LimiterState>,
    /// Wakes a waiting sender when the allowed rate changed (as botocore's
    /// bucket notifies its condition), so it need not sleep out a wait
    /// computed at the old rate.
    rate_changed: Notify,
    /// Attempts that had to wait, for diagnostics and tests.
    delayed: AtomicU64,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            state: Mutex::new(LimiterState::new(monotonic_seconds())),
            rate_changed: Notify::new(),
            delayed: AtomicU64::new(0),
        }
    }
}

impl RateLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until this attempt may be sent.
    pub async fn acquire(&self) {
        let mut counted = false;
        loop {
            let notified = self.rate_changed.notified();
            let Err(wait) = self.lock().try_send(monotonic_seconds()) else {
                return;
            };
            if !counted {
                self.delayed.fetch_add(1, Ordering::Relaxed);
                counted = true;
            }
            // A wait is finite: the bucket fills at 0.5 tokens/s at least.
            let wait = Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(2));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = notified => {}
            }
        }
    }

    /// An attempt ended.
    pub fn record(&self, throttled: bool) {
        self.lock().on_response(monotonic_seconds(), throttled);
        self.rate_changed.notify_one();
    }

    pub fn snapshot(&self) -> LimiterState {
        self.lock().clone()
    }

    /// How many attempts have had to wait for a token.
    pub fn delayed_sends(&self) -> u64 {
        self.delayed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends until one goes, the clock moving by each wait (at least by a
    /// tick: a real clock moves on even when a wait's last sliver rounds
    /// away in a float); returns the time spent waiting.
    fn send(state: &mut LimiterState, now: &mut f64) -> f64 {
        let start = *now;
        while let Err(wait) = state.try_send(*now) {
            assert!(wait > 0.0 && wait <= 2.0, "{wait}");
            *now += wait.max(*now * f64::EPSILON);
        }
        *now - start
    }

    #[test]
    fn nothing_waits_until_a_throttling_error() {
        let mut now = 1000.0;
        let mut state = LimiterState::new(now);
        for _ in 0..1000 {
            assert_eq!(send(&mut state, &mut now), 0.0);
            state.on_response(now, false);
            now += 0.001;
        }
        assert!(!state.enabled());
        state.on_response(now, true);
        assert!(state.enabled());
        let waited: f64 = (0..5).map(|_| send(&mut state, &mut now)).sum();
        assert!(waited > 0.0);
    }

    #[test]
    fn a_throttle_cuts_the_rate_to_beta_of_the_measured_rate() {
        let mut now = 10.0;
        let mut state = LimiterState::new(now);
        // 20 responses per half second for 5 s: the measured rate nears 40/s.
        for _ in 0..200 {
            state.on_response(now, false);
            now += 0.025;
        }
        let measured = state.measured_rate();
        assert!((measured - 40.0).abs() < 1.0, "{measured}");
        state.on_response(now, true);
        let cut = state.max_rate();
        assert!((cut - state.measured_rate() * BETA).abs() < 1e-9, "{cut}");
    }

    #[test]
    fn the_fill_rate_never_drops_below_half_a_token_per_second() {
        let mut now = 0.0;
        let mut state = LimiterState::new(now);
        state.on_response(now, true);
        assert_eq!(state.max_rate(), MIN_FILL_RATE);
        // An empty bucket: the first token is two seconds away at most.
        assert!(send(&mut state, &mut now) <= 2.0 + 1e-9);
    }
}
