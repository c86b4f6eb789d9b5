//! `sagerun._native` SigV4 entry points: convert Python arguments to the
//! core signer's types and its errors to Python exceptions. The rules live
//! in `sagerun_core::sigv4`; the public wrapper is `sagerun.sigv4`.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use sagerun_core::protocol::header;
use sagerun_core::sigv4::{self, CredentialsRef, Payload, SignableRequest, SigningTime};
use smallvec::SmallVec;
use std::os::raw::c_char;
use std::sync::Mutex;

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
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

// Not declared by pyo3-ffi for abi3 builds below 3.10, but exported by every
// CPython 3 (and part of the stable ABI from 3.10).
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// A `str` argument's text, borrowed without copying: CPython keeps the
/// UTF-8 form inside the object (ASCII strings are their own UTF-8), where
/// PyO3's abi3 `to_cow` would allocate a bytes object and a String each.
pub(crate) fn text<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<&'a str> {
    let mut size: pyo3::ffi::Py_ssize_t = 0;
    // SAFETY: `obj` is a live object (the GIL is held). The call checks
    // that it is a str itself (so no type check first: under abi3 that is
    // one more call into CPython per string); it returns NULL with an
    // exception set (not a str, lone surrogates) or a pointer to `size`
    // bytes of UTF-8 owned by `obj`, valid while `obj` lives, which the
    // returned borrow cannot outlast.
    unsafe {
        let data = PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut size);
        if data.is_null() {
            let err = PyErr::fetch(obj.py());
            return Err(if obj.is_instance_of::<PyString>() {
                err
            } else {
                PyTypeError::new_err(format!("{what} must be str, not {}", type_name(obj)))
            });
        }
        let len = usize::try_from(size).expect("a str's UTF-8 size is not negative");
        Ok(std::str::from_utf8_unchecked(std::slice::from_raw_parts(
            data.cast::<u8>(),
            len,
        )))
    }
}

fn optional_text<'a>(obj: Option<&'a Bound<'_, PyAny>>, what: &str) -> PyResult<Option<&'a str>> {
    match obj {
        Some(o) if !o.is_none() => text(o, what).map(Some),
        _ => Ok(None),
    }
}

type HeaderPair<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);
/// Ordinary requests have a handful of headers: kept on the stack.
type HeaderPairs<'py> = SmallVec<[HeaderPair<'py>; 12]>;

/// `headers`: a dict, any mapping with `.items()` (botocore's HTTPHeaders
/// yields repeated names there), or an iterable of (name, value) pairs. The
/// objects are kept (alive) in `pairs`; `header_texts` borrows their text.
/// (Both fill the caller's buffers: returned, these large stack values
/// would be copied.)
fn header_pairs<'py>(headers: &Bound<'py, PyAny>, pairs: &mut HeaderPairs<'py>) -> PyResult<()> {
    if headers.is_none() {
        return Ok(());
    }
    if let Ok(dict) = headers.cast::<PyDict>() {
        pairs.extend(dict.iter());
        return Ok(());
    }
    if headers.is_instance_of::<PyString>() || headers.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "headers must be a mapping or a list of (name, value) pairs, not str/bytes",
        ));
    }
    let items = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
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
            Some((name, value)) => pairs.push((name?, value?)),
            None => {
                return Err(PyTypeError::new_err(format!(
                    "each header must be a (name, value) pair, not {}",
                    type_name(&item)
                )))
            }
        }
    }
    Ok(())
}

/// The headers' text, borrowed from the objects in `pairs`.
type HeaderTexts<'a> = SmallVec<[(&'a str, &'a str); 12]>;

/// The headers as text, plus `Host` from the URL when they have none.
fn header_texts<'a>(
    pairs: &'a [HeaderPair<'_>],
    url_host: &'a str,
    texts: &mut HeaderTexts<'a>,
) -> PyResult<()> {
    for (name, value) in pairs {
        texts.push((text(name, "header name")?, text(value, "header value")?));
    }
    if !texts.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        texts.push(("Host", url_host));
    }
    Ok(())
}

/// The body's bytes: borrowed from `bytes` (and from `str` via its UTF-8
/// encoding), copied from mutable buffers so they cannot change under a
/// released GIL.
enum Body<'py> {
    Empty,
    Shared(Bound<'py, PyBytes>),
    Text(Bound<'py, PyAny>),
    Copied(Vec<u8>),
}

impl Body<'_> {
    fn bytes(&self) -> PyResult<&[u8]> {
        Ok(match self {
            Body::Empty => b"",
            Body::Shared(b) => b.as_bytes(),
            Body::Text(s) => text(s, "body")?.as_bytes(),
            Body::Copied(v) => v,
        })
    }
}

fn body_of<'py>(body: &Bound<'py, PyAny>) -> PyResult<Body<'py>> {
    if body.is_none() {
        Ok(Body::Empty)
    } else if let Ok(b) = body.cast::<PyBytes>() {
        Ok(Body::Shared(b.clone()))
    } else if body.is_instance_of::<PyString>() {
        Ok(Body::Text(body.clone()))
    } else if let Ok(b) = body.cast::<PyByteArray>() {
        Ok(Body::Copied(b.to_vec()))
    } else if body.is_instance_of::<PyMemoryView>() {
        // The limited API has no buffer protocol before 3.11: bytes(view).
        Ok(Body::Shared(
            body.py()
                .get_type::<PyBytes>()
                .call1((body,))?
                .cast_into::<PyBytes>()?,
        ))
    } else {
        Err(PyTypeError::new_err(format!(
            "body must be bytes, bytearray, memoryview, str or None, not {}",
            type_name(body)
        )))
    }
}

/// `timestamp`: int unix seconds or None here; other types (datetime,
/// float) go through `sagerun.sigv4._unix_seconds`, the public wrapper's
/// own conversion, so every entry point reads them alike.
fn timestamp_of(timestamp: Option<&Bound<'_, PyAny>>) -> PyResult<Option<SigningTime>> {
    match timestamp {
        None => Ok(None),
        Some(t) if t.is_none() => Ok(None),
        Some(t) if t.is_instance_of::<PyInt>() && !t.is_instance_of::<PyBool>() => {
            let secs: i64 = t
                .extract()
                .map_err(|_| PyValueError::new_err("timestamp is out of range"))?;
            Ok(Some(SigningTime::from_unix(secs)))
        }
        Some(t) => {
            let seconds = t
                .py()
                .import("sagerun.sigv4")?
                .getattr("_unix_seconds")?
                .call1((t,))?;
            timestamp_of(Some(&seconds))
        }
    }
}

/// One request's arguments as Python objects: what every signing entry
/// point (`sign`, `sign_details`, `Signer`'s methods) converts alike.
struct RequestArgs<'a, 'py> {
    method: &'a Bound<'py, PyAny>,
    url: &'a Bound<'py, PyAny>,
    headers: &'a Bound<'py, PyAny>,
    body: &'a Bound<'py, PyAny>,
    timestamp: Option<&'a Bound<'py, PyAny>>,
}

impl RequestArgs<'_, '_> {
    /// Converts the request (all checks before any hashing) and runs
    /// `sign` on it at the signing time, with the GIL released for large
    /// bodies. The time is `timestamp`, else the request's X-Amz-Date,
    /// else now.
    fn sign<R: Send>(
        &self,
        sign: impl Fn(&SignableRequest<'_>, SigningTime) -> Result<R, sigv4::SigningError> + Sync,
    ) -> PyResult<R> {
        let method = text(self.method, "method")?;
        let url = text(self.url, "url")?;
        let explicit_time = timestamp_of(self.timestamp)?;
        let mut pairs = HeaderPairs::new();
        header_pairs(self.headers, &mut pairs)?;
        let body = body_of(self.body)?;
        let body = body.bytes()?;

        let split = sigv4::split_url(url).map_err(signing_error)?;
        let mut headers = HeaderTexts::new();
        header_texts(&pairs, &split.host, &mut headers)?;
        let time = match explicit_time {
            Some(t) => t,
            None => sigv4::time_from_headers(&headers)
                .map_err(signing_error)?
                .unwrap_or_else(SigningTime::now),
        };
        let req = SignableRequest {
            method,
            uri: &split.target,
            headers: &headers,
            payload: Payload::Bytes(body),
        };
        let signed = if body.len() > GIL_RELEASE_BYTES {
            self.method.py().detach(|| sign(&req, time))
        } else {
            sign(&req, time)
        };
        signed.map_err(signing_error)
    }
}

/// The credentials and scope of the free functions, as Python objects.
struct PrincipalArgs<'a, 'py> {
    region: &'a Bound<'py, PyAny>,
    service: &'a Bound<'py, PyAny>,
    access_key: &'a Bound<'py, PyAny>,
    secret_key: &'a Bound<'py, PyAny>,
    session_token: Option<&'a Bound<'py, PyAny>>,
}

/// The converted [`PrincipalArgs`].
struct Principal<'a> {
    credentials: CredentialsRef<'a>,
    region: &'a str,
    service: &'a str,
}

impl<'a> PrincipalArgs<'a, '_> {
    fn texts(&self) -> PyResult<Principal<'a>> {
        Ok(Principal {
            region: text(self.region, "region")?,
            service: text(self.service, "service")?,
            credentials: CredentialsRef {
                access_key: text(self.access_key, "access_key")?,
                secret_key: text(self.secret_key, "secret_key")?,
                session_token: optional_text(self.session_token, "session_token")?,
            },
        })
    }
}

/// `sign_headers`' answer without its borrow of the token (whose Python
/// object the caller has).
struct Added {
    amz_date: Option<sigv4::AmzDate>,
    token_added: bool,
    authorization: String,
}

impl From<sigv4::HeadersToAdd<'_>> for Added {
    fn from(added: sigv4::HeadersToAdd<'_>) -> Added {
        Added {
            amz_date: added.amz_date,
            token_added: added.security_token.is_some(),
            authorization: added.authorization,
        }
    }
}

impl Added {
    /// The headers to add, in wire order; `date`: the X-Amz-Date's str,
    /// `token`: the session token's str.
    fn into_dict<'py>(
        self,
        py: Python<'py>,
        date: impl FnOnce(sigv4::AmzDate) -> Bound<'py, PyString>,
        token: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if let Some(amz_date) = self.amz_date {
            dict.set_item(pyo3::intern!(py, header::AMZ_DATE), date(amz_date))?;
        }
        if self.token_added {
            dict.set_item(pyo3::intern!(py, header::SECURITY_TOKEN), token()?)?;
        }
        dict.set_item(
            pyo3::intern!(py, header::AUTHORIZATION),
            PyString::new(py, &self.authorization),
        )?;
        Ok(dict)
    }
}

/// The token as the value of its header: the caller's own str object when
/// it is exactly a str (the value is exactly the token), else a new one.
fn token_value<'py>(token: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if token.is_exact_instance_of::<PyString>() {
        Ok(token.clone())
    } else {
        Ok(PyString::new(token.py(), text(token, "session_token")?).into_any())
    }
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
    let who = PrincipalArgs {
        region,
        service,
        access_key,
        secret_key,
        session_token,
    }
    .texts()?;
    let request = RequestArgs {
        method,
        url,
        headers,
        body,
        timestamp,
    };
    let added = request.sign(|req, time| {
        sigv4::sign_headers(req, who.credentials, who.region, who.service, time).map(Added::from)
    })?;
    added.into_dict(
        py,
        |date| PyString::new(py, date.as_str()),
        || token_value(session_token.expect("a token was added, so there is one")),
    )
}

fn headers_dict<'py>(
    py: Python<'py>,
    headers: &[(String, String)],
) -> PyResult<Bound<'py, PyDict>> {
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
    let who = PrincipalArgs {
        region,
        service,
        access_key,
        secret_key,
        session_token,
    }
    .texts()?;
    let request = RequestArgs {
        method,
        url,
        headers,
        body,
        timestamp,
    };
    let d = request
        .sign(|req, time| sigv4::sign_with(req, who.credentials, who.region, who.service, time))?;
    Ok(d.into())
}

impl From<sigv4::SignatureDetails> for PySignatureDetails {
    fn from(d: sigv4::SignatureDetails) -> PySignatureDetails {
        PySignatureDetails {
            canonical_request: d.canonical_request,
            string_to_sign: d.string_to_sign,
            signature: d.signature,
            authorization: d.authorization,
            headers_to_add: d.headers_to_add,
        }
    }
}

/// `sagerun.sigv4.Signer`: signs requests for one set of credentials and
/// one region/service, like botocore's `SigV4Auth`. Its repr shows the
/// access key id and scope, never the secret or the token.
#[pyclass(frozen, name = "Signer", module = "sagerun.sigv4")]
struct PySigner {
    core: sigv4::Signer,
    /// The token's str, put into the headers as it is.
    token: Option<Py<PyAny>>,
    /// The last X-Amz-Date's str: requests signed in one second share it.
    last_date: Mutex<Option<(sigv4::AmzDate, Py<PyString>)>>,
}

impl PySigner {
    /// `date`'s str, the last one's again when it is the same.
    fn date_str<'py>(&self, py: Python<'py>, date: sigv4::AmzDate) -> Bound<'py, PyString> {
        let mut last = self
            .last_date
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*last {
            Some((held, text)) if *held == date => text.bind(py).clone(),
            _ => {
                let text = PyString::new(py, date.as_str());
                *last = Some((date, text.clone().unbind()));
                text
            }
        }
    }
}

#[pymethods]
impl PySigner {
    #[new]
    #[pyo3(signature = (*, region, service, access_key, secret_key, session_token=None))]
    fn new(
        region: &Bound<'_, PyAny>,
        service: &Bound<'_, PyAny>,
        access_key: &Bound<'_, PyAny>,
        secret_key: &Bound<'_, PyAny>,
        session_token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySigner> {
        let who = PrincipalArgs {
            region,
            service,
            access_key,
            secret_key,
            session_token,
        }
        .texts()?;
        let core =
            sigv4::Signer::new(who.credentials, who.region, who.service).map_err(signing_error)?;
        let token = match session_token {
            Some(t) if core.has_session_token() => Some(token_value(t)?.unbind()),
            _ => None,
        };
        Ok(PySigner {
            core,
            token,
            last_date: Mutex::new(None),
        })
    }

    /// Signs a request; returns the headers to add (as `sagerun.sigv4.sign`).
    #[pyo3(signature = (method, url, headers, body, *, timestamp=None))]
    fn sign<'py>(
        &self,
        py: Python<'py>,
        method: &Bound<'py, PyAny>,
        url: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        body: &Bound<'py, PyAny>,
        timestamp: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let request = RequestArgs {
            method,
            url,
            headers,
            body,
            timestamp,
        };
        let added = request.sign(|req, time| self.core.sign_headers(req, time).map(Added::from))?;
        added.into_dict(
            py,
            |date| self.date_str(py, date),
            || {
                Ok(self
                    .token
                    .as_ref()
                    .expect("a token was added, so the signer has one")
                    .bind(py)
                    .clone())
            },
        )
    }

    /// Like `sign`, with the intermediate strings (as `sagerun.sigv4.sign_details`).
    #[pyo3(signature = (method, url, headers, body, *, timestamp=None))]
    fn sign_details(
        &self,
        method: &Bound<'_, PyAny>,
        url: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        body: &Bound<'_, PyAny>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySignatureDetails> {
        let request = RequestArgs {
            method,
            url,
            headers,
            body,
            timestamp,
        };
        Ok(request
            .sign(|req, time| self.core.sign_details(req, time))?
            .into())
    }

    #[getter]
    fn region(&self) -> &str {
        self.core.region()
    }

    #[getter]
    fn service(&self) -> &str {
        self.core.service()
    }

    #[getter]
    fn access_key(&self) -> &str {
        self.core.access_key()
    }

    fn __repr__(&self) -> String {
        format!(
            "Signer(region={:?}, service={:?}, access_key={:?}, session_token={})",
            self.core.region(),
            self.core.service(),
            self.core.access_key(),
            if self.core.has_session_token() {
                "<set>"
            } else {
                "None"
            },
        )
    }
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
    let method = text(method, "method")?;
    let url = text(url, "url")?;
    let secret = text(secret_key, "secret_key")?;
    let mut pairs = HeaderPairs::new();
    header_pairs(headers, &mut pairs)?;
    let body = body_of(body)?;
    let body = body.bytes()?;
    let split = sigv4::split_url(url).map_err(signing_error)?;
    let mut headers = HeaderTexts::new();
    header_texts(&pairs, &split.host, &mut headers)?;
    let req = SignableRequest {
        method,
        uri: &split.target,
        headers: &headers,
        payload: Payload::Bytes(body),
    };
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
    m.add("SigV4Signer", m.py().get_type::<PySigner>())?;
    m.add_function(wrap_pyfunction!(sigv4_sign, m)?)?;
    m.add_function(wrap_pyfunction!(sigv4_sign_details, m)?)?;
    m.add_function(wrap_pyfunction!(sigv4_verify, m)?)?;
    Ok(())
}
