//! `sagerun._native` SigV4 entry points: convert Python arguments to the
//! core signer's types and its errors to Python exceptions. The rules live
//! in `sagerun_core::sigv4`; the public wrapper is `sagerun.sigv4`.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyMemoryView, PyString, PyTuple};
use sagerun_core::sigv4::{self, Credentials, Payload, SignableRequest, SigningParams, SigningTime};

create_exception!(
    sagerun.sigv4,
    SigningError,
    PyValueError,
    "A request could not be signed or verified (bad input, malformed Authorization/X-Amz-Date, or a signature mismatch)."
);

/// Bodies larger than this are hashed with the GIL released.
const GIL_RELEASE_BYTES: usize = 64 * 1024;

fn signing_error(e: sigv4::SigningError) -> PyErr {
    SigningError::new_err(e.to_string())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// The UTF-8 bytes of a `str` argument (kept alive while borrowed as &str).
fn utf8<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyBytes>> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be str, not {}", type_name(obj))))?;
    s.encode_utf8()
}

fn text<'a>(bytes: &'a Bound<'_, PyBytes>) -> &'a str {
    std::str::from_utf8(bytes.as_bytes()).expect("str.encode('utf-8') is UTF-8")
}

fn optional_utf8<'py>(obj: Option<&Bound<'py, PyAny>>, what: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
    match obj {
        Some(o) if !o.is_none() => utf8(o, what).map(Some),
        _ => Ok(None),
    }
}

type HeaderPair<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>);

fn header_pair<'py>(name: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> PyResult<HeaderPair<'py>> {
    Ok((utf8(name, "header name")?, utf8(value, "header value")?))
}

/// `headers`: a dict, any mapping with `.items()` (botocore's HTTPHeaders
/// yields repeated names there), or an iterable of (name, value) pairs.
fn header_pairs<'py>(headers: &Bound<'py, PyAny>) -> PyResult<Vec<HeaderPair<'py>>> {
    if headers.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(dict) = headers.cast::<PyDict>() {
        return dict.iter().map(|(n, v)| header_pair(&n, &v)).collect();
    }
    if headers.is_instance_of::<PyString>() || headers.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err("headers must be a mapping or a list of (name, value) pairs, not str/bytes"));
    }
    let items = if headers.hasattr("items")? { headers.call_method0("items")? } else { headers.clone() };
    let mut pairs = Vec::new();
    for item in items.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "headers must be a mapping or a list of (name, value) pairs, not {}",
            type_name(headers)
        ))
    })? {
        let item = item?;
        let pair = if let Ok(t) = item.cast::<PyTuple>() {
            (t.len() == 2).then(|| (t.get_item(0), t.get_item(1)))
        } else if let Ok(l) = item.cast::<PyList>() {
            (l.len() == 2).then(|| (l.get_item(0), l.get_item(1)))
        } else {
            None
        };
        match pair {
            Some((name, value)) => pairs.push(header_pair(&name?, &value?)?),
            None => {
                return Err(PyTypeError::new_err(format!(
                    "each header must be a (name, value) pair, not {}",
                    type_name(&item)
                )))
            }
        }
    }
    Ok(pairs)
}

/// The body's bytes: borrowed from `bytes` (and from `str` via its UTF-8
/// encoding), copied from mutable buffers so they cannot change under a
/// released GIL.
enum Body<'py> {
    Empty,
    Shared(Bound<'py, PyBytes>),
    Copied(Vec<u8>),
}

impl Body<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Empty => b"",
            Body::Shared(b) => b.as_bytes(),
            Body::Copied(v) => v,
        }
    }
}

fn body_of<'py>(body: &Bound<'py, PyAny>) -> PyResult<Body<'py>> {
    if body.is_none() {
        Ok(Body::Empty)
    } else if let Ok(b) = body.cast::<PyBytes>() {
        Ok(Body::Shared(b.clone()))
    } else if let Ok(s) = body.cast::<PyString>() {
        Ok(Body::Shared(s.encode_utf8()?))
    } else if let Ok(b) = body.cast::<PyByteArray>() {
        Ok(Body::Copied(b.to_vec()))
    } else if body.is_instance_of::<PyMemoryView>() {
        // The limited API has no buffer protocol before 3.11: bytes(view).
        Ok(Body::Shared(body.py().get_type::<PyBytes>().call1((body,))?.cast_into::<PyBytes>()?))
    } else {
        Err(PyTypeError::new_err(format!(
            "body must be bytes, bytearray, memoryview, str or None, not {}",
            type_name(body)
        )))
    }
}

fn timestamp_of(timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SigningTime>> {
    match timestamp {
        None => Ok(None),
        Some(t) if t.is_none() => Ok(None),
        Some(t) if t.is_instance_of::<PyInt>() && !t.is_instance_of::<PyBool>() => {
            let secs: i64 = t.extract().map_err(|_| PyValueError::new_err("timestamp is out of range"))?;
            Ok(Some(SigningTime::from_unix(secs)))
        }
        Some(t) => Err(PyTypeError::new_err(format!(
            "timestamp must be int unix seconds or None here, not {}",
            type_name(t)
        ))),
    }
}

/// Signs a request given as Python objects; the shared path of `sign` and
/// `sign_details`.
#[allow(clippy::too_many_arguments)]
fn sign_py(
    py: Python<'_>,
    method: &Bound<'_, PyAny>,
    url: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    body: &Bound<'_, PyAny>,
    region: &Bound<'_, PyAny>,
    service: &Bound<'_, PyAny>,
    access_key: &Bound<'_, PyAny>,
    secret_key: &Bound<'_, PyAny>,
    session_token: Option<&Bound<'_, PyAny>>,
    timestamp: Option<&Bound<'_, PyAny>>,
) -> PyResult<sigv4::SignatureDetails> {
    let method = utf8(method, "method")?;
    let url = utf8(url, "url")?;
    let region = utf8(region, "region")?;
    let service = utf8(service, "service")?;
    let access_key = utf8(access_key, "access_key")?;
    let secret_key = utf8(secret_key, "secret_key")?;
    let session_token = optional_utf8(session_token, "session_token")?;
    let explicit_time = timestamp_of(timestamp)?;
    let pairs = header_pairs(headers)?;
    let body = body_of(body)?;

    let split = sigv4::split_url(text(&url)).map_err(signing_error)?;
    let mut header_refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (text(n), text(v))).collect();
    if !header_refs.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        header_refs.push(("Host", &split.host));
    }
    let time = match explicit_time {
        Some(t) => t,
        None => sigv4::time_from_headers(&header_refs).map_err(signing_error)?.unwrap_or_else(SigningTime::now),
    };
    let credentials = Credentials {
        access_key: text(&access_key).to_owned(),
        secret_key: text(&secret_key).to_owned(),
        session_token: session_token.as_ref().map(|t| text(t).to_owned()),
    };
    let body = body.bytes();
    let req = SignableRequest { method: text(&method), uri: &split.target, headers: &header_refs, payload: Payload::Bytes(body) };
    let params = SigningParams { credentials: &credentials, region: text(&region), service: text(&service), time };
    let signed = if body.len() > GIL_RELEASE_BYTES {
        py.detach(|| sigv4::sign(&req, &params))
    } else {
        sigv4::sign(&req, &params)
    };
    signed.map_err(signing_error)
}

#[pyfunction]
#[pyo3(signature = (method, url, headers, body, region, service, access_key, secret_key, session_token=None, timestamp=None))]
#[allow(clippy::too_many_arguments)]
fn sigv4_sign<'py>(
    py: Python<'py>,
    method: &Bound<'py, PyAny>,
    url: &Bound<'py, PyAny>,
    headers: &Bound<'py, PyAny>,
    body: &Bound<'py, PyAny>,
    region: &Bound<'py, PyAny>,
    service: &Bound<'py, PyAny>,
    access_key: &Bound<'py, PyAny>,
    secret_key: &Bound<'py, PyAny>,
    session_token: Option<&Bound<'py, PyAny>>,
    timestamp: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let details = sign_py(
        py, method, url, headers, body, region, service, access_key, secret_key, session_token, timestamp,
    )?;
    headers_dict(py, &details.headers_to_add)
}

fn headers_dict<'py>(py: Python<'py>, headers: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in headers {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// What `sagerun.sigv4.sign_details` returns.
#[pyclass(frozen, name = "SignatureDetails", module = "sagerun.sigv4")]
struct PySignatureDetails {
    #[pyo3(get)]
    canonical_request: String,
    #[pyo3(get)]
    string_to_sign: String,
    #[pyo3(get)]
    signature: String,
    #[pyo3(get)]
    authorization: String,
    headers_to_add: Vec<(String, String)>,
}

#[pymethods]
impl PySignatureDetails {
    /// The headers to add to the request (a new dict on each access).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        headers_dict(py, &self.headers_to_add)
    }

    fn __repr__(&self) -> String {
        format!("SignatureDetails(authorization={:?})", self.authorization)
    }
}

#[pyfunction]
#[pyo3(signature = (method, url, headers, body, region, service, access_key, secret_key, session_token=None, timestamp=None))]
#[allow(clippy::too_many_arguments)]
fn sigv4_sign_details<'py>(
    py: Python<'py>,
    method: &Bound<'py, PyAny>,
    url: &Bound<'py, PyAny>,
    headers: &Bound<'py, PyAny>,
    body: &Bound<'py, PyAny>,
    region: &Bound<'py, PyAny>,
    service: &Bound<'py, PyAny>,
    access_key: &Bound<'py, PyAny>,
    secret_key: &Bound<'py, PyAny>,
    session_token: Option<&Bound<'py, PyAny>>,
    timestamp: Option<&Bound<'py, PyAny>>,
) -> PyResult<PySignatureDetails> {
    let d = sign_py(
        py, method, url, headers, body, region, service, access_key, secret_key, session_token, timestamp,
    )?;
    Ok(PySignatureDetails {
        canonical_request: d.canonical_request,
        string_to_sign: d.string_to_sign,
        signature: d.signature,
        authorization: d.authorization,
        headers_to_add: d.headers_to_add,
    })
}

/// Verifies a received request's `Authorization` against `secret_key`;
/// returns the access key it names.
#[pyfunction]
fn sigv4_verify(
    py: Python<'_>,
    method: &Bound<'_, PyAny>,
    url: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    body: &Bound<'_, PyAny>,
    secret_key: &Bound<'_, PyAny>,
) -> PyResult<String> {
    let method = utf8(method, "method")?;
    let url = utf8(url, "url")?;
    let secret_key = utf8(secret_key, "secret_key")?;
    let pairs = header_pairs(headers)?;
    let body = body_of(body)?;
    let split = sigv4::split_url(text(&url)).map_err(signing_error)?;
    let mut header_refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (text(n), text(v))).collect();
    if !header_refs.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        header_refs.push(("Host", &split.host));
    }
    let body = body.bytes();
    let req = SignableRequest { method: text(&method), uri: &split.target, headers: &header_refs, payload: Payload::Bytes(body) };
    let secret = text(&secret_key);
    let verified = if body.len() > GIL_RELEASE_BYTES {
        py.detach(|| sigv4::verify_request(&req, secret))
    } else {
        sigv4::verify_request(&req, secret)
    };
    verified.map(|auth| auth.access_key).map_err(signing_error)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SigningError", m.py().get_type::<SigningError>())?;
    m.add_class::<PySignatureDetails>()?;
    m.add_function(wrap_pyfunction!(sigv4_sign, m)?)?;
    m.add_function(wrap_pyfunction!(sigv4_sign_details, m)?)?;
    m.add_function(wrap_pyfunction!(sigv4_verify, m)?)?;
    Ok(())
}
