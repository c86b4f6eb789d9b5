//! Retries as botocore does them.
//!
//! - legacy mode (botocore's `_retry.json` `__default__` policies): HTTP 429,
//!   500, 502, 503, 504, 509; 400 with Throttling, ThrottlingException,
//!   ThrottledException, RequestThrottledException or
//!   ProvisionedThroughputExceededException; connection errors (timeouts
//!   included). Delay `rand() * 2^(attempt-1)` seconds; no quota.
//! - standard mode (`botocore/retries/standard.py`): transient codes
//!   (RequestTimeout, RequestTimeoutException, PriorRequestNotComplete),
//!   HTTP 500/502/503/504, connection errors, throttling codes; delay
//!   `rand() * min(scale * 2^(attempt-1), 20)`; a retry quota of 500 shared by
//!   the client (a retry costs 5, 10 after a timeout; a first-try success
//!   gives 1 back; a success after retries gives back what its last retry took).
//!   With `new_retries` (AWS_NEW_RETRIES_2026), throttling retries cost 5 and
//!   others 14, and non-throttling delays are scaled by 0.05; and an
//!   `x-amz-retry-after` header (milliseconds) raises a delay `t` to its
//!   value, capped at `t + 5 s` (botocore's `ExponentialBackoff`, on when
//!   new retries are: always since botocore 1.44, opt-in in 1.43).
//! - adaptive mode: standard mode's retries, plus botocore's client-side
//!   rate limiter ([`crate::adaptive`]): every attempt waits for the
//!   limiter once a throttling error has been seen.

use std::sync::Mutex;
use std::time::Duration;

use crate::adaptive::RateLimiter;
use crate::error::ClientError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryMode {
    Legacy,
    Standard,
    /// Standard retries plus the client-side rate limiter.
    Adaptive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    pub mode: RetryMode,
    /// Total attempts, the first one included (botocore's total_max_attempts).
    pub max_attempts: u32,
    pub new_retries: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            mode: RetryMode::Legacy,
            max_attempts: 5,
            new_retries: false,
        }
    }
}

/// How an attempt ended, as far as retrying is concerned.
pub enum Outcome<'a> {
    /// An HTTP response with this status (and error code, for errors).
    Response {
        status: u16,
        code: Option<&'a str>,
        /// The `x-amz-retry-after` header, if any.
        retry_after: Option<&'a str>,
    },
    Failed(&'a ClientError),
}

const LEGACY_STATUS: [u16; 6] = [429, 500, 502, 503, 504, 509];
const LEGACY_CODES_ON_400: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
];
const TRANSIENT_STATUS: [u16; 4] = [500, 502, 503, 504];
const TRANSIENT_CODES: [&str; 3] = [
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
];
const THROTTLING_CODES: [&str; 14] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

const MAX_BACKOFF_SECS: f64 = 20.0;
/// `x-amz-retry-after` may add at most this much to the computed delay.
const RETRY_AFTER_MAX_ADDITIONAL_SECS: f64 = 5.0;
const QUOTA_CAPACITY: u32 = 500;

/// Decides retries and keeps the client's retry quota (standard mode).
pub struct RetryPolicy {
    config: RetryConfig,
    quota: Mutex<u32>,
    /// Adaptive mode's rate limiter (one per client).
    limiter: Option<RateLimiter>,
}

/// A decision to retry: how long to wait and what quota it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub delay: Duration,
    pub quota_taken: u32,
}

/// What botocore reports about a decision in `ResponseMetadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `MaxAttemptsReached`: standard mode sets it whenever the attempt
    /// limit is reached (even on success); legacy mode only when a
    /// retryable answer hits the limit.
    pub max_attempts_reached: bool,
    /// `RetryQuotaReached`: a retry was due but the quota was spent.
    pub retry_quota_reached: bool,
}

impl RetryPolicy {
    pub fn new(config: RetryConfig) -> RetryPolicy {
        RetryPolicy {
            config,
            quota: Mutex::new(QUOTA_CAPACITY),
            limiter: (config.mode == RetryMode::Adaptive).then(RateLimiter::default),
        }
    }

    /// Standard and adaptive modes retry by the standard rules.
    fn standard_rules(&self) -> bool {
        self.config.mode != RetryMode::Legacy
    }

    /// Adaptive mode's limiter (`None` in the other modes).
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_ref()
    }

    /// Waits, in adaptive mode, until the rate limiter lets an attempt go.
    pub async fn before_send(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
    }

    pub fn config(&self) -> RetryConfig {
        self.config
    }

    /// Whether this kind of outcome is retryable at all (attempts aside).
    pub fn is_retryable(&self, outcome: &Outcome<'_>) -> bool {
        match (self.config.mode, outcome) {
            (_, Outcome::Failed(e)) => e.is_connection_error(),
            (RetryMode::Legacy, Outcome::Response { status, code, .. }) => {
                LEGACY_STATUS.contains(status)
                    || (*status == 400 && code.is_some_and(|c| LEGACY_CODES_ON_400.contains(&c)))
            }
            (RetryMode::Standard | RetryMode::Adaptive, Outcome::Response { status, code, .. }) => {
                TRANSIENT_STATUS.contains(status)
                    || code.is_some_and(|c| {
                        TRANSIENT_CODES.contains(&c) || THROTTLING_CODES.contains(&c)
                    })
            }
        }
    }

    /// A throttling error code (botocore's ThrottledRetryableChecker list).
    pub fn is_throttling(outcome: &Outcome<'_>) -> bool {
        matches!(outcome, Outcome::Response { code: Some(c), .. } if THROTTLING_CODES.contains(c))
    }

    /// Called after attempt number `attempt` (1-based) ended with `outcome`.
    pub fn decide(&self, attempt: u32, outcome: &Outcome<'_>) -> Option<Retry> {
        self.decide_with_flags(attempt, outcome).0
    }

    /// `decide`, plus the flags botocore would add to the response metadata.
    /// Called once for each attempt that did not succeed (it feeds the rate
    /// limiter as botocore's `needs-retry` hook does).
    pub fn decide_with_flags(&self, attempt: u32, outcome: &Outcome<'_>) -> (Option<Retry>, Flags) {
        if let Some(limiter) = &self.limiter {
            limiter.record(Self::is_throttling(outcome));
        }
        let at_max = attempt >= self.config.max_attempts;
        let retryable = self.is_retryable(outcome);
        let mut flags = Flags {
            max_attempts_reached: at_max && (retryable || self.standard_rules()),
            retry_quota_reached: false,
        };
        if at_max || !retryable {
            return (None, flags);
        }
        let retry = self.next_retry(attempt, outcome);
        flags.retry_quota_reached = retry.is_none();
        (retry, flags)
    }

    /// Flags for a successful attempt (standard mode checks the attempt
    /// limit before anything else, so a success on the last attempt is
    /// reported as having reached it).
    pub fn success_flags(&self, attempt: u32) -> Flags {
        Flags {
            max_attempts_reached: self.standard_rules() && attempt >= self.config.max_attempts,
            retry_quota_reached: false,
        }
    }

    fn next_retry(&self, attempt: u32, outcome: &Outcome<'_>) -> Option<Retry> {
        let jitter: f64 = rand::random();
        let exp = 2f64.powi(attempt.saturating_sub(1).min(62) as i32);
        match self.config.mode {
            RetryMode::Legacy => Some(Retry {
                delay: Duration::from_secs_f64(jitter * exp),
                quota_taken: 0,
            }),
            RetryMode::Standard | RetryMode::Adaptive => {
                let throttling = Self::is_throttling(outcome);
                let cost = match (self.config.new_retries, outcome) {
                    (true, _) if throttling => 5,
                    (true, _) => 14,
                    (false, Outcome::Failed(e)) if e.is_timeout() => 10,
                    (false, _) => 5,
                };
                {
                    let mut quota = self.quota.lock().unwrap_or_else(|p| p.into_inner());
                    if *quota < cost {
                        return None;
                    }
                    *quota -= cost;
                }
                let scale = if self.config.new_retries && !throttling {
                    0.05
                } else {
                    1.0
                };
                let mut delay = jitter * (scale * exp).min(MAX_BACKOFF_SECS);
                if let (true, Some(after)) = (self.config.new_retries, retry_after(outcome)) {
                    delay = delay.max(after.min(delay + RETRY_AFTER_MAX_ADDITIONAL_SECS));
                }
                Some(Retry {
                    delay: Duration::from_secs_f64(delay),
                    quota_taken: cost,
                })
            }
        }
    }

    /// A call ended with a 2xx response: give quota back (standard mode),
    /// and tell the rate limiter (adaptive mode) that an attempt ended.
    pub fn on_success(&self, last_retry_cost: Option<u32>) {
        if let Some(limiter) = &self.limiter {
            limiter.record(false);
        }
        if !self.standard_rules() {
            return;
        }
        let mut quota = self.quota.lock().unwrap_or_else(|p| p.into_inner());
        *quota = (*quota + last_retry_cost.unwrap_or(1)).min(QUOTA_CAPACITY);
    }

    pub fn quota(&self) -> u32 {
        *self.quota.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `x-amz-retry-after` in seconds: a whole, non-negative number of
/// milliseconds; anything else is ignored (as botocore ignores it).
fn retry_after(outcome: &Outcome<'_>) -> Option<f64> {
    let Outcome::Response {
        retry_after: Some(value),
        ..
    } = outcome
    else {
        return None;
    };
    // Python's int() also takes surrounding whitespace, a sign and `_`s.
    let digits: String = value.trim().chars().filter(|c| *c != '_').collect();
    let millis: i128 = digits.strip_prefix('+').unwrap_or(&digits).parse().ok()?;
    (millis >= 0).then(|| millis as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: RetryMode, max_attempts: u32) -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            mode,
            max_attempts,
            new_retries: false,
        })
    }

    fn resp(status: u16, code: Option<&str>) -> Outcome<'_> {
        Outcome::Response {
            status,
            code,
            retry_after: None,
        }
    }

    fn new_retries(mode: RetryMode) -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            mode,
            max_attempts: 3,
            new_retries: true,
        })
    }

    fn after<'a>(status: u16, code: Option<&'a str>, header: &'a str) -> Outcome<'a> {
        Outcome::Response {
            status,
            code,
            retry_after: Some(header),
        }
    }

    #[test]
    fn retry_after_raises_the_delay_up_to_five_seconds_more() {
        for mode in [RetryMode::Standard, RetryMode::Adaptive] {
            let p = new_retries(mode);
            // 503: t <= 0.05 s, so 1.5 s is the delay.
            let d = p.decide(1, &after(503, None, "1500")).unwrap().delay;
            assert_eq!(d, Duration::from_millis(1500));
            // Throttling: t <= 1 s; 60 s is capped at t + 5 s.
            let d = p
                .decide(1, &after(400, Some("ThrottlingException"), "60000"))
                .unwrap()
                .delay;
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_secs(6),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_ignored_when_bad_or_without_new_retries() {
        let p = new_retries(RetryMode::Standard);
        for bad in ["-5", "1.5", "soon", ""] {
            let d = p.decide(1, &after(503, None, bad)).unwrap().delay;
            assert!(d <= Duration::from_millis(50), "{bad}: {d:?}");
        }
        let old = policy(RetryMode::Standard, 3);
        assert!(old.decide(1, &after(503, None, "9000")).unwrap().delay <= Duration::from_secs(1));
        let legacy = policy(RetryMode::Legacy, 3);
        assert!(
            legacy.decide(1, &after(503, None, "9000")).unwrap().delay <= Duration::from_secs(1)
        );
    }

    #[test]
    fn legacy_follows_the_default_policies() {
        let p = policy(RetryMode::Legacy, 5);
        for status in [429, 500, 502, 503, 504, 509] {
            assert!(p.is_retryable(&resp(status, None)), "{status}");
        }
        assert!(p.is_retryable(&resp(400, Some("ThrottlingException"))));
        assert!(!p.is_retryable(&resp(400, Some("ValidationError"))));
        assert!(!p.is_retryable(&resp(424, Some("ModelError"))));
        assert!(!p.is_retryable(&resp(530, Some("InternalDependencyException"))));
        let e = ClientError::ReadTimeout { url: "u".into() };
        assert!(p.is_retryable(&Outcome::Failed(&e)));
        let e = ClientError::InvalidRequest("x".into());
        assert!(!p.is_retryable(&Outcome::Failed(&e)));
    }

    #[test]
    fn standard_does_not_retry_429_without_a_throttling_code() {
        let p = policy(RetryMode::Standard, 3);
        assert!(!p.is_retryable(&resp(429, Some("ModelNotReadyException"))));
        assert!(p.is_retryable(&resp(400, Some("ThrottlingException"))));
        assert!(p.is_retryable(&resp(503, Some("ServiceUnavailable"))));
    }

    #[test]
    fn attempts_are_capped_and_delays_bounded() {
        let p = policy(RetryMode::Legacy, 3);
        let d1 = p.decide(1, &resp(500, None)).unwrap().delay;
        let d2 = p.decide(2, &resp(500, None)).unwrap().delay;
        assert!(d1 < Duration::from_secs(1) && d2 < Duration::from_secs(2));
        assert_eq!(p.decide(3, &resp(500, None)), None);
    }

    #[test]
    fn flags_follow_each_mode() {
        let legacy = policy(RetryMode::Legacy, 2);
        assert!(
            legacy
                .decide_with_flags(2, &resp(500, None))
                .1
                .max_attempts_reached
        );
        assert!(
            !legacy
                .decide_with_flags(2, &resp(400, Some("ValidationError")))
                .1
                .max_attempts_reached
        );
        assert!(!legacy.success_flags(2).max_attempts_reached);
        let standard = policy(RetryMode::Standard, 2);
        assert!(
            standard
                .decide_with_flags(2, &resp(400, Some("ValidationError")))
                .1
                .max_attempts_reached
        );
        assert!(standard.success_flags(2).max_attempts_reached);
        assert!(!standard.success_flags(1).max_attempts_reached);
    }

    #[test]
    fn standard_quota_drains_and_refills() {
        let p = policy(RetryMode::Standard, 1000);
        let mut retries = 0;
        while p.decide(1, &resp(500, None)).is_some() {
            retries += 1;
        }
        assert_eq!(retries, 100); // 500 / 5
        assert_eq!(p.quota(), 0);
        p.on_success(Some(5));
        p.on_success(None);
        assert_eq!(p.quota(), 6);
    }
}
