//! Bindings for sagerun-client: converts Python values to an invocation and
//! the results back to Python objects, and maps client errors onto one
//! exception type the Python layer turns into botocore's classes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyInt, PyList, PySet, PyString, PyTuple};
use sagerun_client::connect::{Proxy, ProxyOptions};
use sagerun_client::{
    runtime, Client, ClientCert, ClientConfig, ClientError, Head, Invocation, Response,
    RetryConfig, RetryMode, RetryReport, StreamFault, StreamStart, TransportConfig, Verify,
};
use sagerun_core::eventstream::DecodeError;
use sagerun_core::protocol::{self, ErrorCode, HeaderMember, Operation};
use sagerun_core::sigv4::Credentials;
use tokio::runtime::Runtime;

use crate::async_client::{self, Completion, CompletionQueue, PendingCall};
use crate::events::EventStreamReader;
use crate::panics::guard;
use crate::sigv4::text;

pyo3::create_exception!(
    sagerun._native,
    TransportError,
    PyException,
    "A failure of the client itself: args are (kind, message, url)."
);

pub(crate) fn to_py_err(error: ClientError) -> PyErr {
    let (kind, url) = match &error {
        ClientError::InvalidRequest(_) => ("invalid_request", ""),
        ClientError::Config(_) => ("config", ""),
        ClientError::ProxyConfig(_) => ("proxy_config", ""),
        ClientError::Connect { url, .. } => ("connect", url.as_str()),
        ClientError::Tls { url, .. } => ("tls", url.as_str()),
        ClientError::ConnectTimeout { url } => ("connect_timeout", url.as_str()),
        ClientError::ReadTimeout { url } => ("read_timeout", url.as_str()),
        ClientError::ConnectionClosed { url, .. } => ("connection_closed", url.as_str()),
        ClientError::ResponseTooLarge { url, .. } => ("response_too_large", url.as_str()),
        ClientError::BodyCut { url, .. } => ("body_cut", url.as_str()),
        ClientError::Stream(StreamFault::Decode(DecodeError::ChecksumMismatch { .. })) => {
            ("stream_checksum", "")
        }
        ClientError::Stream(StreamFault::Decode(_)) => ("stream_corrupt", ""),
        ClientError::Stream(StreamFault::Truncated(_)) => ("stream_truncated", ""),
    };
    TransportError::new_err((kind, error.to_string(), url.to_string()))
}

pub(crate) fn operation(name: &str) -> PyResult<Operation> {
    Operation::ALL
        .into_iter()
        .find(|op| op.name() == name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown operation {name:?}")))
}

fn seconds(value: Option<f64>) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|e| PyValueError::new_err(format!("bad timeout {s}: {e}")))
        })
        .transpose()
}

/// The Rust client: one endpoint, pool and retry policy, shared by threads.
#[pyclass(frozen, module = "sagerun._native")]
pub struct NativeClient {
    /// Shared with the async calls' tasks and `invoke_endpoint_many`'s (many.rs).
    pub(crate) client: Arc<Client>,
}

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (*, endpoint_url, region, user_agent, connect_timeout, read_timeout,
                        max_pool_connections, verify, ca_bundle, proxy_url, proxy_authorization,
                        retry_mode, max_attempts, new_retries, client_cert=None,
                        proxy_ca_bundle=None, proxy_client_cert=None,
                        proxy_use_forwarding_for_https=false, unsigned=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoint_url: String,
        region: String,
        user_agent: String,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        max_pool_connections: usize,
        verify: bool,
        ca_bundle: Option<String>,
        proxy_url: Option<String>,
        proxy_authorization: Option<String>,
        retry_mode: &str,
        max_attempts: u32,
        new_retries: bool,
        client_cert: Option<(String, Option<String>)>,
        proxy_ca_bundle: Option<String>,
        proxy_client_cert: Option<(String, Option<String>)>,
        proxy_use_forwarding_for_https: bool,
        unsigned: bool,
    ) -> PyResult<Self> {
        let cert = |pair: Option<(String, Option<String>)>| {
            pair.map(|(cert, key)| ClientCert {
                cert: cert.into(),
                key: key.map(Into::into),
            })
        };
        let verify = match (verify, ca_bundle) {
            (false, _) => Verify::Off,
            (true, Some(path)) => Verify::SystemAndBundle(path.into()),
            (true, None) => Verify::System,
        };
        let proxy_options = ProxyOptions {
            verify: verify.clone(),
            ca_bundle: proxy_ca_bundle.map(Into::into),
            client_cert: cert(proxy_client_cert),
            use_forwarding_for_https: proxy_use_forwarding_for_https,
        };
        let proxy = proxy_url
            .map(|url| -> PyResult<_> {
                let uri = url
                    .parse()
                    .map_err(|_| PyValueError::new_err(format!("invalid proxy URL {url:?}")))?;
                let authorization = proxy_authorization
                    .map(|v| {
                        v.parse()
                            .map_err(|_| PyValueError::new_err("invalid proxy credentials"))
                    })
                    .transpose()?;
                Proxy::new(uri, authorization, &proxy_options).map_err(to_py_err)
            })
            .transpose()?;
        let mode = match retry_mode {
            "legacy" => RetryMode::Legacy,
            "standard" => RetryMode::Standard,
            "adaptive" => RetryMode::Adaptive,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown retry mode {other:?}"
                )))
            }
        };
        let config = ClientConfig {
            endpoint_url,
            region,
            user_agent,
            transport: TransportConfig {
                connect_timeout: seconds(connect_timeout)?,
                read_timeout: seconds(read_timeout)?,
                max_pool_connections,
                verify,
                proxy,
                client_cert: cert(client_cert),
            },
            retry: RetryConfig {
                mode,
                max_attempts: max_attempts.max(1),
                new_retries,
            },
            unsigned,
        };
        Ok(NativeClient {
            client: Arc::new(guard("creating a client", || {
                Client::new(config).map_err(to_py_err)
            })?),
        })
    }

    /// Sends one call and reads the whole response: `(status, response
    /// dict without Body, body)` (see `response_dict`); service errors are
    /// returned too.
    fn invoke<'py>(
        &self,
        py: Python<'py>,
        operation_name: &str,
        call: CallArgs,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (call, credentials) = call.into_parts(operation_name)?;
        let runtime = runtime::local();
        let response = py
            .detach(|| {
                // Boxed: the call's future is kilobytes, and would otherwise
                // be copied by value into each layer that runs it.
                block_interruptibly(&runtime, Box::pin(self.client.invoke(call, &credentials)))
            })?
            .map_err(to_py_err)?;
        response_tuple(py, &response)
    }

    /// Like `invoke`, but a successful answer is an event stream:
    /// `(status, response dict without Body, EventStreamReader)`; an error
    /// answer comes back like `invoke`'s, with its body as bytes.
    fn invoke_stream<'py>(
        &self,
        py: Python<'py>,
        operation_name: &str,
        call: CallArgs,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (call, credentials) = call.into_parts(operation_name)?;
        let runtime = runtime::local();
        let start = py
            .detach(|| {
                let start = Box::pin(self.client.invoke_stream(call, &credentials));
                block_interruptibly(&runtime, start)
            })?
            .map_err(to_py_err)?;
        stream_start_tuple(py, start, runtime)
    }

    /// `invoke` as a task of the multi-thread runtime: its result (or
    /// error) settles the asyncio `future` through `queue`.
    fn invoke_async(
        &self,
        queue: &CompletionQueue,
        future: Py<PyAny>,
        operation_name: &str,
        call: CallArgs,
    ) -> PyResult<PendingCall> {
        self.spawn_call(
            queue,
            future,
            operation_name,
            call,
            |client, call, credentials| async move {
                Completion::Invoke(client.invoke(call, &credentials).await)
            },
        )
    }

    /// `invoke_stream` as a task of the multi-thread runtime (see
    /// `invoke_async`); the reader's `fill_async` reads the events.
    fn invoke_stream_async(
        &self,
        queue: &CompletionQueue,
        future: Py<PyAny>,
        operation_name: &str,
        call: CallArgs,
    ) -> PyResult<PendingCall> {
        self.spawn_call(
            queue,
            future,
            operation_name,
            call,
            |client, call, credentials| async move {
                Completion::Stream(client.invoke_stream(call, &credentials).await)
            },
        )
    }

    /// Closes the idle connections of the async calls' pool (`AsyncClient.close`).
    fn close_async_pool(&self, py: Python<'_>) {
        py.detach(|| self.client.close_shared_pool());
    }

    /// Retry quota left (standard mode), for tests and diagnostics.
    #[getter]
    fn retry_quota(&self) -> u32 {
        self.client.retry_policy().quota()
    }
}

/// How often a blocking wait looks for Python signals.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `work` to completion on `runtime` (called with the GIL released).
/// Every 100 ms of waiting it briefly takes the GIL to run Python's signal
/// handlers, so Ctrl-C interrupts a long call as it would a socket read in
/// Python; the work is then dropped (its connection closed).
/// A panic in `work` (a bug) raises `InternalError` (see `panics`).
pub(crate) fn block_interruptibly<F: Future>(runtime: &Runtime, work: F) -> PyResult<F::Output> {
    guard("sending a request or reading its response", || {
        runtime.block_on(async {
            tokio::pin!(work);
            // One timer on the stack, re-armed after each check (an
            // `Interval` would allocate its timer on every call).
            let check = tokio::time::sleep(SIGNAL_CHECK_INTERVAL);
            tokio::pin!(check);
            loop {
                tokio::select! {
                    biased;
                    out = &mut work => return Ok(out),
                    () = &mut check => {
                        Python::attach(|py| py.check_signals())?;
                        check
                            .as_mut()
                            .reset(tokio::time::Instant::now() + SIGNAL_CHECK_INTERVAL);
                    }
                }
            }
        })
    })
}

/// One call as the Python layer prepares it (`ClientBase._prepare`):
/// `(endpoint_name, header members, body, access_key, secret_key,
/// session_token)`.
pub(crate) struct CallArgs(
    String,
    Vec<(String, String)>,
    PyBackedBytes,
    String,
    String,
    Option<String>,
);

impl<'a, 'py> FromPyObject<'a, 'py> for CallArgs {
    type Error = PyErr;

    /// By hand rather than derived: each str is read in place (`text`)
    /// instead of through a temporary bytes object, a measurable share of
    /// a small call.
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let call = obj.cast::<PyTuple>()?;
        if call.len() != 6 {
            return Err(PyTypeError::new_err(
                "a call is (endpoint_name, members, body, access_key, secret_key, session_token)",
            ));
        }
        let item = |i| call.get_borrowed_item(i);
        let owned = |i, what| -> PyResult<String> { Ok(text(&*item(i)?, what)?.to_owned()) };
        let members = item(1)?;
        let members = members.cast::<PyList>()?;
        let mut pairs = Vec::with_capacity(members.len());
        for pair in members.iter() {
            let pair = pair.cast_into::<PyTuple>()?;
            if pair.len() != 2 {
                return Err(PyTypeError::new_err("a header member is (name, value)"));
            }
            pairs.push((
                text(&*pair.get_borrowed_item(0)?, "a member name")?.to_owned(),
                text(&*pair.get_borrowed_item(1)?, "a member value")?.to_owned(),
            ));
        }
        let token = item(5)?;
        Ok(CallArgs(
            owned(0, "EndpointName")?,
            pairs,
            item(2)?.extract()?,
            owned(3, "the access key")?,
            owned(4, "the secret key")?,
            if token.is_none() {
                None
            } else {
                Some(text(&token, "the session token")?.to_owned())
            },
        ))
    }
}

impl NativeClient {
    /// The async entry points' common part: `run(client, call, credentials)`
    /// becomes a task of the multi-thread runtime whose `Completion` settles
    /// the asyncio `future` through `queue`.
    fn spawn_call<Fut>(
        &self,
        queue: &CompletionQueue,
        future: Py<PyAny>,
        operation_name: &str,
        call: CallArgs,
        run: impl FnOnce(Arc<Client>, Invocation, Credentials) -> Fut,
    ) -> PyResult<PendingCall>
    where
        Fut: Future<Output = Completion> + Send + 'static,
    {
        let (call, credentials) = call.into_parts(operation_name)?;
        Ok(async_client::spawn(
            queue,
            future,
            run(self.client.clone(), call, credentials),
        ))
    }
}

impl CallArgs {
    /// The invocation of `operation_name` and the credentials to sign it with.
    fn into_parts(self, operation_name: &str) -> PyResult<(Invocation, Credentials)> {
        let CallArgs(endpoint_name, members, body, access_key, secret_key, session_token) = self;
        let call = invocation(operation(operation_name)?, endpoint_name, members, body);
        let credentials = Credentials {
            access_key,
            secret_key,
            session_token,
        };
        Ok((call, credentials))
    }
}

pub(crate) fn invocation(
    op: Operation,
    endpoint_name: String,
    members: Vec<(String, String)>,
    body: PyBackedBytes,
) -> Invocation {
    // The Python bytes object stays alive (and unmoved) as the buffer's owner.
    Invocation {
        op,
        endpoint_name,
        members,
        body: Bytes::from_owner(body),
    }
}

/// The response dict of boto3 without its payload: `ResponseMetadata` as
/// botocore builds it (its retry handlers add `MaxAttemptsReached` and
/// `RetryQuotaReached`), then, for a success, the members bound to response
/// headers. The one place that shapes it: the sync, async and fan-out calls
/// all come through here. An error answer gets `ResponseMetadata` only: the
/// Python layer has botocore parse the error and takes the retry fields from
/// it.
fn response_dict<'py>(
    py: Python<'py>,
    op: Operation,
    head: &Head,
    retries: &RetryReport,
) -> PyResult<Bound<'py, PyDict>> {
    let headers = PyDict::new(py);
    // The headers as botocore reports them, their values as Python
    // strings: a member bound to a header shares its string.
    let mut entries = Vec::with_capacity(head.headers.keys_len());
    for (name, value) in head.entries() {
        let value = PyString::new(py, &value);
        match common_header_name(py, name) {
            Some(interned) => headers.set_item(interned, &value)?,
            None => headers.set_item(name, &value)?,
        }
        entries.push((name, value));
    }
    let value_of = |header: &str| {
        entries
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(header))
            .map(|(_, value)| value)
    };
    let metadata = PyDict::new(py);
    if let Some(request_id) = value_of(protocol::header::REQUEST_ID) {
        metadata.set_item(pyo3::intern!(py, "RequestId"), request_id)?;
    }
    metadata.set_item(pyo3::intern!(py, "HTTPStatusCode"), head.status)?;
    metadata.set_item(pyo3::intern!(py, "HTTPHeaders"), headers)?;
    if retries.flags.max_attempts_reached {
        metadata.set_item(pyo3::intern!(py, "MaxAttemptsReached"), true)?;
    }
    if retries.flags.retry_quota_reached {
        metadata.set_item(pyo3::intern!(py, "RetryQuotaReached"), true)?;
    }
    metadata.set_item(
        pyo3::intern!(py, "RetryAttempts"),
        retries.attempts.saturating_sub(1),
    )?;
    let response = PyDict::new(py);
    response.set_item(pyo3::intern!(py, "ResponseMetadata"), metadata)?;
    if head.is_success() {
        let names = member_names(py, op);
        for (member, name) in op.response_headers().iter().zip(names) {
            if let Some(value) = value_of(member.header) {
                if member.is_integer {
                    // Python's own int(), as botocore's parser converts it.
                    let int = py.get_type::<PyInt>().call1((value,))?;
                    response.set_item(name.bind(py), int)?;
                } else {
                    response.set_item(name.bind(py), value)?;
                }
            }
        }
    }
    Ok(response)
}

/// The names of `op`'s response members as Python strings, made once.
fn member_names(py: Python<'_>, op: Operation) -> &[Py<PyString>] {
    static NAMES: PyOnceLock<Vec<Vec<Py<PyString>>>> = PyOnceLock::new();
    let all = NAMES.get_or_init(py, || {
        Operation::ALL
            .iter()
            .map(|op| {
                op.response_headers()
                    .iter()
                    .map(|m| PyString::intern(py, m.member).unbind())
                    .collect()
            })
            .collect()
    });
    &all[op.index()]
}

/// The header names of nearly every answer as interned Python strings
/// (made once instead of once per response). Only a speed-up: any other
/// name is converted as usual.
fn common_header_name<'py>(py: Python<'py>, name: &str) -> Option<&'py Bound<'py, PyString>> {
    Some(match name {
        "content-type" => pyo3::intern!(py, "content-type"),
        "content-length" => pyo3::intern!(py, "content-length"),
        "date" => pyo3::intern!(py, "date"),
        "x-amzn-requestid" => pyo3::intern!(py, "x-amzn-requestid"),
        "x-amzn-invoked-production-variant" => {
            pyo3::intern!(py, "x-amzn-invoked-production-variant")
        }
        _ => return None,
    })
}

/// `(status, response dict, EventStreamReader)` for a stream that started
/// (its connection a task of `runtime`), or `response_tuple` for an error
/// answer.
pub(crate) fn stream_start_tuple(
    py: Python<'_>,
    start: StreamStart,
    runtime: Arc<Runtime>,
) -> PyResult<Bound<'_, PyTuple>> {
    match start {
        StreamStart::Complete(response) => response_tuple(py, &response),
        StreamStart::Events {
            op,
            head,
            retries,
            reader,
        } => {
            let response = response_dict(py, op, &head, &retries)?;
            let reader = Bound::new(py, EventStreamReader::new(*reader, runtime))?;
            PyTuple::new(
                py,
                [
                    head.status.into_pyobject(py)?.into_any(),
                    response.into_any(),
                    reader.into_any(),
                ],
            )
        }
    }
}

/// `(status, response dict, body)`: what `invoke` returns (see `response_dict`).
pub(crate) fn response_tuple<'py>(
    py: Python<'py>,
    response: &Response,
) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            response.head.status.into_pyobject(py)?.into_any(),
            response_dict(py, response.op, &response.head, &response.retries)?.into_any(),
            PyBytes::new(py, &response.body).into_any(),
        ],
    )
}

fn members_list<'py>(py: Python<'py>, members: &[HeaderMember]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for m in members {
        list.append((m.member, m.header, m.is_integer))?;
    }
    Ok(list)
}

/// The protocol tables of `sagerun_core::protocol`, for the Python layer:
/// `{"operations": {name: {"path_suffix", "success_status", "request_headers",
/// "response_headers", "errors"}}, "error_codes": [(code, status, modeled)]}`.
#[pyfunction]
fn protocol_tables(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let operations = PyDict::new(py);
    for op in Operation::ALL {
        let entry = PyDict::new(py);
        entry.set_item("path_suffix", op.path_suffix())?;
        entry.set_item("success_status", op.success_status())?;
        entry.set_item("request_headers", members_list(py, op.request_headers())?)?;
        entry.set_item("response_headers", members_list(py, op.response_headers())?)?;
        let errors: Vec<&str> = op.errors().iter().map(|e| e.as_str()).collect();
        entry.set_item("errors", errors)?;
        operations.set_item(op.name(), entry)?;
    }
    let codes: Vec<(&str, u16, bool)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.http_status(), c.is_modeled()))
        .collect();
    let tables = PyDict::new(py);
    tables.set_item("operations", operations)?;
    tables.set_item("error_codes", codes)?;
    tables.set_item("max_body_bytes", sagerun_core::protocol::MAX_BODY_BYTES)?;
    tables.set_item(
        "max_async_inline_body_bytes",
        sagerun_core::protocol::MAX_ASYNC_INLINE_BODY_BYTES,
    )?;
    Ok(tables)
}

/// The validator's common case, without a Python frame per member
/// (`_validation.OperationValidator.__call__`): `params` has every
/// `required` name, every member is in `members` (name -> `(is_uri,
/// is_blob, known_good)`), every str value is exactly a str already in its
/// member's known-good set (values that passed every check before), and
/// the body is exactly bytes within `body_limit`: then `(endpoint_name,
/// [(member, value)], body)`. Anything else is `None`, and the Python
/// validator checks (and remembers, or reports) it.
#[pyfunction]
fn validate_known<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyDict>,
    members: &Bound<'py, PyDict>,
    required: &Bound<'py, PyTuple>,
    body_limit: usize,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    for name in required.iter() {
        if !params.contains(name)? {
            return Ok(None);
        }
    }
    let mut endpoint_name = None;
    let mut body = None;
    let pairs = PyList::empty(py);
    for (name, value) in params.iter() {
        let Some(member) = members.get_item(&name)? else {
            return Ok(None);
        };
        let (is_uri, is_blob, known_good): (bool, bool, Bound<'py, PySet>) = member.extract()?;
        if value.is_exact_instance_of::<PyString>() {
            if is_blob || !known_good.contains(&value)? {
                return Ok(None);
            }
            if is_uri {
                endpoint_name = Some(value);
            } else {
                pairs.append((name, value))?;
            }
        } else if is_blob && value.is_exact_instance_of::<PyBytes>() && value.len()? <= body_limit {
            body = Some(value);
        } else {
            return Ok(None);
        }
    }
    let endpoint_name = endpoint_name.unwrap_or_else(|| PyString::new(py, "").into_any());
    let body = body.unwrap_or_else(|| PyBytes::new(py, b"").into_any());
    Ok(Some(PyTuple::new(
        py,
        [endpoint_name, pairs.into_any(), body],
    )?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add("TransportError", m.py().get_type::<TransportError>())?;
    m.add_function(wrap_pyfunction!(protocol_tables, m)?)?;
    m.add_function(wrap_pyfunction!(validate_known, m)?)?;
    Ok(())
}
