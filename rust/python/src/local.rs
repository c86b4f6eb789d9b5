//! Bindings for the local SageMaker Runtime: start and stop a
//! `sagerun_local::LocalServer`. The server runs on its own Tokio threads
//! and never touches the GIL; start/stop release it while they wait.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use sagerun_local::{LocalServer, ServerOptions, StartError};

use crate::panics::guard;

fn to_py_err(e: StartError) -> PyErr {
    match e {
        StartError::Config(c) => PyValueError::new_err(c.0),
        StartError::Tls(msg) => PyValueError::new_err(msg),
        other => PyOSError::new_err(other.to_string()),
    }
}

#[pyclass(module = "sagerun.local", name = "_LocalServer")]
pub struct PyLocalServer {
    inner: Option<LocalServer>,
    url: String,
    port: u16,
}

#[pymethods]
impl PyLocalServer {
    #[new]
    #[pyo3(signature = (endpoints_json, *, host, port, region, credentials, verify_signatures,
                        tls_cert=None, tls_key=None, data_dir=None, session_ttl_seconds=1200.0,
                        account_id="123456789012".to_owned(), worker_threads=2))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        endpoints_json: String,
        host: String,
        port: u16,
        region: String,
        credentials: Vec<(String, String)>,
        verify_signatures: bool,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        session_ttl_seconds: f64,
        account_id: String,
        worker_threads: usize,
    ) -> PyResult<PyLocalServer> {
        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "tls_cert and tls_key must be given together",
                ))
            }
        };
        if !session_ttl_seconds.is_finite() || session_ttl_seconds < 0.0 {
            return Err(PyValueError::new_err(
                "session_ttl_seconds must be a non-negative number",
            ));
        }
        let opts = ServerOptions {
            host,
            port,
            region,
            credentials,
            verify_signatures,
            tls,
            data_dir,
            session_ttl: Duration::from_secs_f64(session_ttl_seconds),
            account_id,
            worker_threads,
            ..ServerOptions::default()
        };
        let server = py.detach(|| {
            guard("starting the local runtime", || {
                LocalServer::start(&endpoints_json, opts).map_err(to_py_err)
            })
        })?;
        Ok(PyLocalServer {
            url: server.url(),
            port: server.local_addr().port(),
            inner: Some(server),
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner.is_some()
    }

    /// Stops the server (idempotent).
    fn stop(&mut self, py: Python<'_>) {
        if let Some(mut server) = self.inner.take() {
            py.detach(move || server.stop());
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLocalServer>()
}
