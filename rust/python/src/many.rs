//! Bindings for the fan-out engine (`sagerun_client::many`): a `ManyRun`
//! carries one `Client.invoke_endpoint_many` batch. Python validates each
//! request and shapes each result; the requests run as futures on the
//! process-wide runtime, and Python waits for them with the GIL released.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyList;
use sagerun_client::{runtime, Client, ClientError, FanOut, Response};
use sagerun_core::protocol::Operation;
use sagerun_core::sigv4::Credentials;

use crate::client::{invocation, operation, response_tuple, to_py_err, NativeClient};
use crate::panics::internal_error;

/// A request as the Python layer prepared it: (endpoint name, header
/// members, body); `None` for an item it finished itself (a validation
/// error), which still takes its place in the order.
type Prepared = Option<(String, Vec<(String, String)>, PyBackedBytes)>;

/// One batch of calls of one operation on one client.
#[pyclass(module = "sagerun._native")]
pub struct ManyRun {
    client: Arc<Client>,
    operation: Operation,
    fan_out: FanOut<Result<Response, ClientError>>,
    /// A batch started before a fork has no runtime threads in the child.
    generation: u64,
}

impl ManyRun {
    fn check_process(&self) -> PyResult<()> {
        if runtime::process_generation() != self.generation {
            return Err(PyRuntimeError::new_err(
                "invoke_endpoint_many: the batch was started in the parent process",
            ));
        }
        Ok(())
    }
}

#[pymethods]
impl ManyRun {
    /// `concurrency` calls run at once; `window` more may wait, finished,
    /// behind a slower earlier one (see `FanOut`).
    #[new]
    #[pyo3(signature = (client, operation_name, *, concurrency, window))]
    fn new(
        client: PyRef<'_, NativeClient>,
        operation_name: &str,
        concurrency: usize,
        window: usize,
    ) -> PyResult<Self> {
        if concurrency == 0 {
            return Err(PyValueError::new_err("concurrency must be at least 1"));
        }
        // Multi-threaded: the calls progress while Python shapes results
        // (twice the throughput of driving them from the calling thread).
        let runtime = runtime::get();
        Ok(ManyRun {
            client: client.client.clone(),
            operation: operation(operation_name)?,
            fan_out: FanOut::new(runtime, concurrency, window),
            generation: runtime::process_generation(),
        })
    }

    /// How many more items `submit` takes now.
    #[getter]
    fn capacity(&self) -> usize {
        self.fan_out.capacity()
    }

    /// Calls submitted whose outcome has not been collected yet.
    #[getter]
    fn pending(&self) -> usize {
        self.fan_out.pending()
    }

    /// Starts the prepared requests, signed with these credentials; they
    /// take the next indices in order. Returns the index of the first.
    #[pyo3(signature = (items, access_key, secret_key, session_token=None))]
    fn submit(
        &mut self,
        items: Vec<Prepared>,
        access_key: String,
        secret_key: String,
        session_token: Option<String>,
    ) -> PyResult<u64> {
        self.check_process()?;
        let room = self.fan_out.capacity();
        if items.len() > room {
            return Err(PyValueError::new_err(format!(
                "{} items submitted with room for {room}",
                items.len()
            )));
        }
        let credentials = Arc::new(Credentials {
            access_key,
            secret_key,
            session_token,
        });
        let first = self.fan_out.next_index();
        for item in items {
            match item {
                None => {
                    self.fan_out.settle();
                }
                Some((endpoint_name, members, body)) => {
                    let call = invocation(self.operation, endpoint_name, members, body);
                    let (client, credentials) = (self.client.clone(), credentials.clone());
                    self.fan_out
                        .submit(async move { client.invoke(call, &credentials).await });
                }
            }
        }
        Ok(first)
    }

    /// The calls that have finished, in completion order, as
    /// `[(index, outcome)]`: the outcome is `NativeClient.invoke`'s tuple
    /// or the `TransportError` it would have raised. Waits up to `max_wait`
    /// seconds for the first (GIL released); `[]` if none finished by then.
    fn next_completed<'py>(
        &mut self,
        py: Python<'py>,
        max_wait: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        self.check_process()?;
        let max_wait = Duration::try_from_secs_f64(max_wait)
            .map_err(|e| PyValueError::new_err(format!("bad max_wait {max_wait}: {e}")))?;
        let fan_out = &mut self.fan_out;
        let done = py.detach(|| fan_out.wait(max_wait));
        let list = PyList::empty(py);
        for (index, result) in done {
            let outcome = match result {
                Ok(Ok(response)) => response_tuple(py, &response)?.into_any(),
                Ok(Err(error)) => to_py_err(error).into_value(py).into_bound(py).into_any(),
                Err(panicked) => internal_error("running invoke_endpoint_many", &panicked.0)
                    .into_value(py)
                    .into_bound(py)
                    .into_any(),
            };
            list.append((index, outcome))?;
        }
        Ok(list)
    }

    /// Stops every call still running or queued (their connections close).
    fn close(&mut self) {
        self.fan_out.abort_all();
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ManyRun>()
}
