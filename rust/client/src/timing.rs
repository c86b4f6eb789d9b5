//! Timestamps for response streams, on the clock Python's
//! `time.monotonic()` and `time.perf_counter()` read (CLOCK_MONOTONIC on
//! Linux, CLOCK_UPTIME_RAW on macOS), as seconds in an `f64`, so that a
//! Python caller can subtract its own readings from them.

/// Seconds on the monotonic clock (see the module docs).
pub fn monotonic_seconds() -> f64 {
    #[cfg(target_os = "macos")]
    const CLOCK: libc::clockid_t = libc::CLOCK_UPTIME_RAW;
    #[cfg(not(target_os = "macos"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(CLOCK, &mut now) };
    debug_assert_eq!(rc, 0, "the monotonic clock is always available");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_forward_with_instant() {
        let (a, start) = (monotonic_seconds(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (b, elapsed) = (monotonic_seconds(), start.elapsed().as_secs_f64());
        assert!(b - a >= 0.019, "{a} -> {b}");
        assert!((b - a - elapsed).abs() < 0.01, "{} vs {elapsed}", b - a);
    }
}
