//! Panics kept inside: a panic while polling a future (a bug) becomes an
//! error value its caller can report, instead of unwinding through a Tokio
//! task (which would leave whoever waits on that task without an answer).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// Runs `work`, turning a panic in any of its polls into `Err(message)`.
pub async fn catch_panic<F: Future>(work: F) -> Result<F::Output, String> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()).to_owned())),
        }
    })
    .await
}

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic with a non-text payload"
    }
}
