//! A panic while serving one request (a bug) must neither drop the
//! connection without an answer nor stop the server: the handler runs
//! under [`catch_panic`] and a panic becomes a 500 InternalFailure answer.
//! Also the test-only hook that makes the next requests panic, so the
//! tests can prove it.

use std::sync::atomic::{AtomicUsize, Ordering};

pub use sagerun_core::panics::{catch_panic, panic_message};

/// Requests left to fail by a deliberate panic (test-only hook).
static PANICS_ARMED: AtomicUsize = AtomicUsize::new(0);

/// TEST-ONLY: the next `count` requests handled by any local server in
/// this process panic inside the handler (before routing). Lets the test
/// suite prove that a panic becomes a 500 and that serving goes on.
pub fn panic_in_next_requests_for_tests(count: usize) {
    PANICS_ARMED.store(count, Ordering::SeqCst);
}

/// Panics if the test hook is armed (one armed panic per call).
pub(crate) fn injected_panic_point() {
    let armed = PANICS_ARMED.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if armed.is_ok() {
        panic!("panic injected by panic_in_next_requests_for_tests");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_poll_becomes_an_error_with_its_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(catch_panic(async {
            tokio::task::yield_now().await;
            panic!("boom {}", 7);
        }));
        assert_eq!(out, Err::<(), _>("boom 7".to_owned()));
        assert_eq!(rt.block_on(catch_panic(async { 5 })), Ok(5));
    }
}
