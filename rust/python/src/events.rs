//! The reader of a response stream's events, for the stream bodies
//! (`sagerun._stream`, `sagerun._async_stream`).
//!
//! A read (`fill`, `fill_async`) takes every event decodable so far into a
//! Rust-side batch; iterating the reader then hands them out one at a time,
//! making each event's Python objects only when it is asked for. So a batch
//! of a hundred events is never a hundred pairs of dicts alive at once:
//! each event's objects are usually freed before the next are made, which
//! keeps them from counting towards (and triggering) the garbage collector.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use sagerun_client::events::PartTimes;
use sagerun_client::{ClientError, EventReader, StreamEvent};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::async_client::{self, Completion, CompletionQueue, PendingCall};
use crate::client::{block_interruptibly, to_py_err, TransportError};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A stream's reader, its read-but-not-yet-handed-out events, and what lets
/// `close()` end a read in progress.
pub(crate) struct ReaderState {
    /// `None` once the stream is over or closed (and while an async read
    /// has the reader: its task owns it until the batch is read).
    reader: Mutex<Option<EventReader>>,
    /// Events read and not handed out yet (emptied by `close()`).
    ready: Mutex<VecDeque<StreamEvent>>,
    /// Set by `close()`; a read in progress drops the stream when it returns
    /// (close may be called while a read holds the lock: from another thread,
    /// or from a signal handler running during that read).
    closed: AtomicBool,
    /// Wakes a read in progress so that `close()` ends it at once.
    cancel: Notify,
    /// Set once the stream is over (its end read, or an error): the reader
    /// is gone and `fill` would only say so.
    ended: AtomicBool,
    /// PayloadParts are handed out as their bytes (see `hand_out_payloads`).
    payloads_only: AtomicBool,
}

type Batch = Result<Vec<StreamEvent>, ClientError>;

impl ReaderState {
    /// The next batch from `reader`; `None` if the stream was closed
    /// before or during the read.
    async fn read(&self, reader: &mut EventReader) -> Option<Batch> {
        let cancelled = self.cancel.notified();
        tokio::pin!(cancelled);
        // Registered before the flag is read, so no close is missed.
        cancelled.as_mut().enable();
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let result = tokio::select! {
            events = reader.next_batch() => Some(events),
            _ = cancelled => None,
        };
        result.filter(|_| !self.closed.load(Ordering::Acquire))
    }

    /// Keeps a batch for the iteration: `Ok(true)` if it holds events,
    /// `Ok(false)` at the end of the stream (or after `close()`).
    pub(crate) fn keep(&self, batch: Option<Batch>) -> PyResult<bool> {
        let events = batch.unwrap_or_else(|| Ok(Vec::new())).map_err(to_py_err)?;
        let mut ready = lock(&self.ready);
        // Checked under the lock that close() empties: a batch that arrives
        // after close() is never handed out.
        if events.is_empty() || self.closed.load(Ordering::Acquire) {
            return Ok(false);
        }
        if ready.is_empty() {
            *ready = events.into(); // the batch's buffer, not a copy
        } else {
            ready.extend(events);
        }
        Ok(true)
    }
}

/// Whether the stream is over after a read: its end, an error (over either
/// way), a close, or a batch that reached the end (its reader is done).
fn stream_over(result: &Option<Batch>, reader: &EventReader) -> bool {
    !matches!(result, Some(Ok(events)) if !events.is_empty()) || reader.is_finished()
}

/// Reads a response stream's events as they arrive.
#[pyclass(frozen, module = "sagerun._native")]
pub struct EventStreamReader {
    state: Arc<ReaderState>,
    /// The runtime the connection is registered with: a blocking read
    /// drives it, from whichever thread iterates.
    runtime: Arc<Runtime>,
    /// Timings (sagerun_client::timing), kept here: the reader is dropped
    /// at the end of the stream.
    request_sent_at: f64,
    first_byte_at: f64,
    part_times: PartTimes,
    /// Makes the exception an in-stream exception or error event raises
    /// (see `raise_events_with`).
    make_error: OnceLock<Py<PyAny>>,
}

impl EventStreamReader {
    pub(crate) fn new(reader: EventReader, runtime: Arc<Runtime>) -> EventStreamReader {
        EventStreamReader {
            request_sent_at: reader.request_sent_at,
            first_byte_at: reader.first_byte_at,
            part_times: reader.part_times(),
            state: Arc::new(ReaderState {
                reader: Mutex::new(Some(reader)),
                ready: Mutex::new(VecDeque::new()),
                closed: AtomicBool::new(false),
                cancel: Notify::new(),
                ended: AtomicBool::new(false),
                payloads_only: AtomicBool::new(false),
            }),
            runtime,
            make_error: OnceLock::new(),
        }
    }

    /// The next event read and not handed out yet (see `__next__`).
    fn next_ready<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(event) = lock(&self.state.ready).pop_front() else {
            return Ok(None);
        };
        let is_part = matches!(event, StreamEvent::PayloadPart(_));
        let object = match event {
            StreamEvent::PayloadPart(bytes) if self.state.payloads_only.load(Ordering::Relaxed) => {
                PyBytes::new(py, &bytes).into_any()
            }
            event => event_object(py, event)?,
        };
        match self.make_error.get() {
            Some(make_error) if !is_part => {
                Err(PyErr::from_value(make_error.bind(py).call1((object,))?))
            }
            _ => Ok(Some(object)),
        }
    }
}

#[pymethods]
impl EventStreamReader {
    /// Iterating hands out the events read so far, one at a time, and
    /// stops when they are used up (it never reads: `fill` does).
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next event read and not handed out yet. A PayloadPart comes as
    /// `{"PayloadPart": {"Bytes": b"..."}}`; an in-stream exception as
    /// `("exception", type, payload)`, an unmodeled error message as
    /// `("error", code, message)`, or, after `raise_events_with`, raised.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.next_ready(py)
    }

    /// The iteration of a sync stream body (`for event in body`), one
    /// native call per event: events read so far are handed out as
    /// `__next__` does, and once they are used up the next batch is read
    /// (`fill`) within the same call. A transport error is raised as
    /// `map_error(error)` makes it. The stream is closed when the iteration
    /// ends, fails, or is dropped unfinished (a `break`).
    fn iterate(slf: Py<Self>, map_error: Py<PyAny>) -> BlockingEvents {
        BlockingEvents {
            reader: slf,
            map_error,
        }
    }

    /// From now on, an in-stream exception or error event is not handed
    /// out but raised: as the exception `make_error(event)` returns (the
    /// event as `__next__` describes it). Set once.
    fn raise_events_with(&self, make_error: Py<PyAny>) {
        let _ = self.make_error.set(make_error);
    }

    /// From now on, a PayloadPart is handed out as its payload (`bytes`)
    /// rather than as an event dict: for the payload helpers, which would
    /// only take the bytes out of the two dicts.
    fn hand_out_payloads(&self) {
        self.state.payloads_only.store(true, Ordering::Relaxed);
    }

    /// Reads the events decodable now (waiting for at least one) for the
    /// iteration to hand out: True if there are some, False at the end of
    /// the stream or after `close()`.
    fn fill(&self, py: Python<'_>) -> PyResult<bool> {
        let batch = py.detach(|| -> PyResult<_> {
            let mut slot = lock(&self.state.reader);
            if self.state.closed.load(Ordering::Acquire) {
                *slot = None;
            }
            let Some(reader) = slot.as_mut() else {
                return Ok(None);
            };
            // Interrupted: the reader stays as it was (nothing was lost).
            let result = block_interruptibly(&self.runtime, self.state.read(reader))?;
            if stream_over(&result, reader) {
                *slot = None;
                self.state.ended.store(true, Ordering::Release);
            }
            Ok(result)
        })?;
        self.state.keep(batch)
    }

    /// False once `fill` could not give more events: the stream's end was
    /// read (often with its last batch), it failed, or it was closed.
    #[getter]
    fn readable(&self) -> bool {
        !(self.state.ended.load(Ordering::Acquire) || self.state.closed.load(Ordering::Acquire))
    }

    /// `fill` as a task of the multi-thread runtime: True or False (or the
    /// error) settles the asyncio `future` through `queue`. Cancelling it
    /// drops the stream. One read at a time.
    fn fill_async(&self, queue: &CompletionQueue, future: Py<PyAny>) -> PendingCall {
        let taken = lock(&self.state.reader).take();
        let state = self.state.clone();
        async_client::spawn(queue, future, async move {
            let Some(mut reader) = taken else {
                return Completion::Events(state, None);
            };
            let result = state.read(&mut reader).await;
            if stream_over(&result, &reader) {
                state.ended.store(true, Ordering::Release);
            } else {
                let mut slot = lock(&state.reader);
                if !state.closed.load(Ordering::Acquire) {
                    *slot = Some(reader);
                }
            }
            Completion::Events(state, result)
        })
    }

    /// When the call started (before the first attempt), on the clock of
    /// `time.monotonic()`/`time.perf_counter()`.
    #[getter]
    fn request_sent_at(&self) -> f64 {
        self.request_sent_at
    }

    /// When the response head arrived (same clock).
    #[getter]
    fn first_byte_at(&self) -> f64 {
        self.first_byte_at
    }

    /// The decode times of PayloadParts `start..` read so far (same clock).
    #[pyo3(signature = (start=0))]
    fn part_times(&self, start: usize) -> Vec<f64> {
        let times = lock(&self.part_times);
        times.get(start..).unwrap_or_default().to_vec()
    }

    /// Stops reading and drops the connection; events read and not handed
    /// out yet are dropped too.
    fn close(&self, py: Python<'_>) {
        self.state.closed.store(true, Ordering::Release);
        self.state.cancel.notify_waiters();
        py.detach(|| {
            lock(&self.state.ready).clear();
            // If a read holds the lock, it drops the stream when it returns.
            if let Ok(mut slot) = self.state.reader.try_lock() {
                slot.take();
            }
        });
    }
}

/// `for event in body` over a sync stream (see `EventStreamReader.iterate`).
/// Frozen: nothing in it changes, so a call borrows it without a borrow flag.
#[pyclass(frozen, module = "sagerun._native")]
pub struct BlockingEvents {
    reader: Py<EventStreamReader>,
    /// Makes the exception a `TransportError` is raised as.
    map_error: Py<PyAny>,
}

impl BlockingEvents {
    /// The next event, reading a batch when those read are used up;
    /// `None` at the end of the stream.
    fn next_event<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let reader = self.reader.get();
        loop {
            if let Some(event) = reader.next_ready(py)? {
                return Ok(Some(event));
            }
            // The last batch may have brought the end with it: no read.
            if !reader.readable() {
                return Ok(None);
            }
            match reader.fill(py) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) if e.is_instance_of::<TransportError>(py) => {
                    let mapped = self.map_error.bind(py).call1((e.value(py),))?;
                    return Err(PyErr::from_value(mapped));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[pymethods]
impl BlockingEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let next = self.next_event(py);
        // Over (its end, an in-stream exception, a failure): the connection
        // is dropped now, as a generator's `finally` would.
        if !matches!(next, Ok(Some(_))) {
            self.reader.get().close(py);
        }
        next
    }
}

impl Drop for BlockingEvents {
    /// An iteration given up early (`break`) closes the stream, as the
    /// generator it replaces did when collected.
    fn drop(&mut self) {
        Python::attach(|py| self.reader.get().close(py));
    }
}

/// One event as the Python object `__next__` describes.
fn event_object(py: Python<'_>, event: StreamEvent) -> PyResult<Bound<'_, PyAny>> {
    Ok(match event {
        StreamEvent::PayloadPart(bytes) => {
            // Interned keys: made once, not twice per event.
            let part = PyDict::new(py);
            part.set_item(intern!(py, "Bytes"), PyBytes::new(py, &bytes))?;
            let wrapper = PyDict::new(py);
            wrapper.set_item(intern!(py, "PayloadPart"), part)?;
            wrapper.into_any()
        }
        StreamEvent::Exception {
            exception_type,
            payload,
        } => ("exception", exception_type, PyBytes::new(py, &payload))
            .into_pyobject(py)?
            .into_any(),
        StreamEvent::Error { code, message } => {
            ("error", code, message).into_pyobject(py)?.into_any()
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EventStreamReader>()?;
    m.add_class::<BlockingEvents>()?;
    Ok(())
}
