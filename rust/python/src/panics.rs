//! Rust panics at the Python boundary. PyO3 turns a panic escaping a
//! binding into `pyo3_runtime.PanicException`, a BaseException that
//! `except Exception` does not catch (a worker loop would die on it).
//! The client's and the local runtime's entry points run their Rust work
//! through [`guard`] instead: a panic there raises
//! `sagerun._native.InternalError`, a RuntimeError whose message says it is
//! a sagerun bug, and the client stays usable.
//!
//! Also the test-only hook `_panic_for_tests(where)` that triggers a real
//! panic at each kind of place, so the tests can prove it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use sagerun_client::runtime;
use sagerun_core::panics::panic_message;
use sagerun_local::panics::panic_in_next_requests_for_tests;

pyo3::create_exception!(
    sagerun._native,
    InternalError,
    PyRuntimeError,
    "A bug in sagerun: its Rust code panicked. The message says where; please report it."
);

/// Runs `work`; a panic inside it (in this thread, including futures polled
/// by `block_on`) becomes `InternalError` naming `what`.
pub fn guard<T>(what: &str, work: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(work))
        .unwrap_or_else(|payload| Err(internal_error(what, panic_message(payload.as_ref()))))
}

/// The `InternalError` for a panic with `message` while doing `what`.
pub fn internal_error(what: &str, message: &str) -> PyErr {
    InternalError::new_err(format!(
        "sagerun internal error while {what}: {message} (this is a bug in sagerun; please report it)"
    ))
}

/// TEST-ONLY (never call it in real code): triggers a real panic at the
/// place named by `where_`:
/// - `"call"`: in the binding itself, inside the boundary guard;
/// - `"block_on"`: inside a future run by this thread's runtime (where
///   every sync call's I/O runs);
/// - `"task"`: inside a task spawned on the process-wide runtime, whose
///   panic reaches the call awaiting it;
/// - `"server"`: in the local runtime's request handler, for the next
///   request any local server in this process receives (returns at once).
#[pyfunction]
#[pyo3(name = "_panic_for_tests")]
fn panic_for_tests(py: Python<'_>, where_: &str) -> PyResult<()> {
    let what = format!("running _panic_for_tests({where_:?})");
    match where_ {
        "call" => guard(&what, || panic!("deliberate panic in a call")),
        "block_on" => py.detach(|| {
            guard(&what, || {
                runtime::local().block_on(async {
                    tokio::task::yield_now().await;
                    panic!("deliberate panic in a future run by block_on")
                })
            })
        }),
        "task" => py.detach(|| {
            guard(&what, || {
                let task = runtime::get().spawn(async {
                    panic!("deliberate panic in a spawned task");
                });
                // A task's panic is caught by Tokio and handed to whoever
                // awaits it: carry it on to this call's boundary.
                match runtime::local().block_on(task) {
                    Ok(()) => Ok(()),
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => Err(PyRuntimeError::new_err(e.to_string())),
                }
            })
        }),
        "server" => {
            panic_in_next_requests_for_tests(1);
            Ok(())
        }
        other => Err(PyValueError::new_err(format!(
            "unknown panic place {other:?}: call, block_on, task or server"
        ))),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InternalError", m.py().get_type::<InternalError>())?;
    m.add_function(wrap_pyfunction!(panic_for_tests, m)?)?;
    Ok(())
}
