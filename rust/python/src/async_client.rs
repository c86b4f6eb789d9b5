//! The bridge between Rust futures and asyncio: calls run as tasks of the
//! process-wide multi-thread runtime (`sagerun_client::runtime::get()`), no
//! thread per request, handed to it in batches; what they produce is handed
//! back to the event loop through a [`CompletionQueue`].
//!
//! A finished task never takes the GIL: it pushes its Rust result onto the
//! queue and, if the queue was empty, writes one byte to a socket the event
//! loop watches (`loop.add_reader`). The loop then drains every result that
//! arrived meanwhile in one callback, converting each to Python and settling
//! its asyncio future. Works with any loop that has `add_reader` (asyncio's
//! selector loops, uvloop).

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use sagerun_client::{runtime, ClientError, Response, StreamEvent, StreamStart};
use sagerun_core::panics::catch_panic;
use tokio::sync::Notify;

use crate::client::{response_tuple, stream_start_tuple, to_py_err};
use crate::events::ReaderState;
use crate::panics::internal_error;

/// What a finished task hands to the event loop (converted there).
pub(crate) enum Completion {
    Invoke(Result<Response, ClientError>),
    Stream(Result<StreamStart, ClientError>),
    /// A stream's batch (`None`: closed), kept for its reader to hand out;
    /// the loop gets whether there was one.
    Events(
        Arc<ReaderState>,
        Option<Result<Vec<StreamEvent>, ClientError>>,
    ),
    /// The work panicked (a bug): raised as `InternalError`, never a hang.
    Panicked(String),
}

impl Completion {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self {
            Completion::Invoke(r) => response_tuple(py, &r.map_err(to_py_err)?)?
                .into_any()
                .unbind(),
            Completion::Stream(r) => stream_start_tuple(py, r.map_err(to_py_err)?, runtime::get())?
                .into_any()
                .unbind(),
            Completion::Events(state, batch) => state
                .keep(batch)?
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind(),
            Completion::Panicked(message) => {
                return Err(internal_error("running an async call", &message))
            }
        })
    }
}

struct Pending {
    /// Finished tasks: (asyncio future, result).
    done: Vec<(Py<PyAny>, Completion)>,
    /// A wake-up byte was written and the loop has not drained since.
    woken: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    submissions: Mutex<Submissions>,
    /// Written (by tasks) to wake the loop.
    wake: UnixStream,
    /// Watched by the loop (`fileno()`); emptied by `drain()`.
    watched: UnixStream,
}

impl Shared {
    fn push(&self, future: Py<PyAny>, completion: Completion) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.done.push((future, completion));
        if !pending.woken {
            pending.woken = true;
            // A full socket buffer already holds a wake-up: nothing is lost.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// Hands finished calls over to one event loop (make one per loop, register
/// `fileno()` with `loop.add_reader(fd, queue.drain)`).
#[pyclass(frozen, module = "sagerun._native")]
pub struct CompletionQueue {
    shared: Arc<Shared>,
}

#[pymethods]
impl CompletionQueue {
    #[new]
    fn new() -> PyResult<Self> {
        let (wake, watched) = UnixStream::pair().map_err(|e| PyOSError::new_err(e.to_string()))?;
        for end in [&wake, &watched] {
            end.set_nonblocking(true)
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
        }
        Ok(CompletionQueue {
            shared: Arc::new(Shared {
                pending: Mutex::new(Pending {
                    done: Vec::new(),
                    woken: false,
                }),
                submissions: Mutex::new(Submissions::default()),
                wake,
                watched,
            }),
        })
    }

    /// The descriptor the event loop watches for readability.
    fn fileno(&self) -> i32 {
        self.shared.watched.as_raw_fd()
    }

    /// Settles the futures of every call finished since the last drain
    /// (a cancelled future is left alone). Returns how many were settled.
    fn drain(&self, py: Python<'_>) -> PyResult<usize> {
        // Empty the socket before taking the batch: a task that finishes
        // after the batch is taken sees `woken == false` and writes again.
        let mut sink = [0u8; 64];
        while matches!((&self.shared.watched).read(&mut sink), Ok(n) if n > 0) {}
        let done = {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            pending.woken = false;
            std::mem::take(&mut pending.done)
        };
        let mut settled = 0;
        for (future, completion) in done {
            let future = future.bind(py);
            if future
                .call_method0(pyo3::intern!(py, "done"))?
                .is_truthy()?
            {
                continue;
            }
            match completion.into_py(py) {
                Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
                Err(error) => future
                    .call_method1(pyo3::intern!(py, "set_exception"), (error.into_value(py),))?,
            };
            settled += 1;
        }
        Ok(settled)
    }
}

/// A call in flight: `cancel()` drops its Rust future (closing its
/// connection, which is never returned to the pool half-read).
#[pyclass(frozen, module = "sagerun._native")]
pub struct PendingCall {
    cancel: Arc<Notify>,
}

#[pymethods]
impl PendingCall {
    fn cancel(&self) {
        // A stored permit: a call not yet started never starts.
        self.cancel.notify_one();
    }
}

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Calls submitted by the event loop's thread, started in batches: one
/// hand-over to the runtime per batch rather than one per call (each
/// hand-over may wake a worker thread, which on a busy machine can cost the
/// event loop its CPU).
#[derive(Default)]
struct Submissions {
    jobs: Vec<Job>,
    /// A task that starts them is on its way.
    scheduled: bool,
}

/// Runs `work` on the multi-thread runtime; its result settles `future`
/// through `queue`.
pub(crate) fn spawn<F>(queue: &CompletionQueue, future: Py<PyAny>, work: F) -> PendingCall
where
    F: Future<Output = Completion> + Send + 'static,
{
    let shared = queue.shared.clone();
    let cancel = Arc::new(Notify::new());
    let cancelled = cancel.clone();
    let job: Job = Box::pin(async move {
        tokio::select! {
            biased;
            _ = cancelled.notified() => {}  // `work` is dropped here
            // A panic must still settle the asyncio future, or its awaiter
            // would wait forever.
            completion = catch_panic(work) => {
                shared.push(future, completion.unwrap_or_else(Completion::Panicked))
            }
        }
    });
    let start_batch = {
        let mut submissions = queue
            .shared
            .submissions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        submissions.jobs.push(job);
        !std::mem::replace(&mut submissions.scheduled, true)
    };
    if start_batch {
        let shared = queue.shared.clone();
        runtime::get().spawn(async move {
            let jobs = {
                let mut submissions = shared.submissions.lock().unwrap_or_else(|p| p.into_inner());
                submissions.scheduled = false;
                std::mem::take(&mut submissions.jobs)
            };
            for job in jobs {
                tokio::spawn(job);
            }
        });
    }
    PendingCall { cancel }
}

/// TEST-ONLY (never call it in real code): an async call whose Rust task
/// panics, to prove that its awaiter gets `InternalError`, not a hang.
#[pyfunction]
#[pyo3(name = "_panic_in_async_call_for_tests")]
fn panic_in_async_call_for_tests(queue: &CompletionQueue, future: Py<PyAny>) -> PendingCall {
    spawn(queue, future, async {
        tokio::task::yield_now().await;
        panic!("deliberate panic in an async call's task")
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CompletionQueue>()?;
    m.add_class::<PendingCall>()?;
    m.add_function(wrap_pyfunction!(panic_in_async_call_for_tests, m)?)?;
    Ok(())
}
