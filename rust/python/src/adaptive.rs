//! Bindings for adaptive mode's rate limiter (`sagerun_client::adaptive`):
//! its state on a client, and the limiter's arithmetic on explicit
//! timestamps (`AdaptiveLimiterModel`), so that tests can drive it beside
//! botocore's own classes with the same inputs.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sagerun_client::adaptive::LimiterState;

use crate::client::NativeClient;

/// botocore's ClientRateLimiter on a caller-supplied clock (seconds).
#[pyclass(module = "sagerun._native")]
pub struct AdaptiveLimiterModel(LimiterState);

#[pymethods]
impl AdaptiveLimiterModel {
    #[new]
    fn new(now: f64) -> Self {
        AdaptiveLimiterModel(LimiterState::new(now))
    }

    /// Before an attempt: `None` if it may go now (a token was taken), else
    /// the seconds to wait before asking again.
    fn try_send(&mut self, now: f64) -> Option<f64> {
        self.0.try_send(now).err()
    }

    /// An attempt ended; `throttled`: with a throttling error code.
    fn on_response(&mut self, now: f64, throttled: bool) {
        self.0.on_response(now, throttled);
    }

    #[getter]
    fn enabled(&self) -> bool {
        self.0.enabled()
    }

    #[getter]
    fn measured_rate(&self) -> f64 {
        self.0.measured_rate()
    }

    #[getter]
    fn max_rate(&self) -> f64 {
        self.0.max_rate()
    }

    #[getter]
    fn capacity(&self) -> f64 {
        self.0.capacity()
    }
}

/// The rate limiter of a client in adaptive mode, as a dict (`enabled`,
/// `measured_rate`, `max_rate`, `capacity`, `delayed_sends`); `None` in the
/// other retry modes.
#[pyfunction]
fn rate_limiter_state<'py>(
    py: Python<'py>,
    client: &NativeClient,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(limiter) = client.client.retry_policy().rate_limiter() else {
        return Ok(None);
    };
    let state = limiter.snapshot();
    let dict = PyDict::new(py);
    dict.set_item("enabled", state.enabled())?;
    dict.set_item("measured_rate", state.measured_rate())?;
    dict.set_item("max_rate", state.max_rate())?;
    dict.set_item("capacity", state.capacity())?;
    dict.set_item("delayed_sends", limiter.delayed_sends())?;
    Ok(Some(dict))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AdaptiveLimiterModel>()?;
    m.add_function(wrap_pyfunction!(rate_limiter_state, m)?)?;
    Ok(())
}
