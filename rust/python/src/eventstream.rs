//! Bindings for the event-stream codec: converts between `sagerun_core`'s
//! borrowed messages and Python objects, and maps errors. No framing logic
//! lives here.

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMappingProxy, PyMemoryView, PyString};
use sagerun_core::eventstream::{
    self as es, DecodeError, HeaderValue, HeaderValueRef, Limits, MessageRef,
};

create_exception!(
    sagerun.eventstream,
    EventStreamError,
    PyValueError,
    "A malformed event stream or message (a ValueError)."
);
create_exception!(
    sagerun.eventstream,
    ChecksumMismatch,
    EventStreamError,
    "A prelude or message CRC did not match; `.which` is 'prelude' or 'message'."
);
create_exception!(
    sagerun.eventstream,
    InvalidFrame,
    EventStreamError,
    "A frame breaks the format: lengths, limits, header types, names or values."
);
create_exception!(
    sagerun.eventstream,
    TruncatedStream,
    EventStreamError,
    "The input ended inside a frame."
);

/// Inputs at least this large are checked with the GIL released, when
/// their frames are large too: below that, releasing and re-acquiring costs
/// more than it frees, and for many small frames building the Python objects
/// (which needs the GIL) dominates while a second pass over the input
/// (verify, then build) would miss the cache.
const DETACH_MIN_INPUT: usize = 64 * 1024;
const DETACH_MIN_FRAME: usize = 4 * 1024;
/// Strings repeated across messages (header names, `:event-type` values...)
/// are kept as Python objects, up to this many per decoder...
const CACHE_ENTRIES: usize = 16;
/// ...and only if this short.
const CACHE_MAX_LEN: usize = 64;
/// Header blocks longer than this are not kept for reuse.
const REUSE_MAX_BLOCK: usize = 1024;

fn decode_err(py: Python<'_>, err: &DecodeError) -> PyErr {
    let text = err.to_string();
    match err {
        DecodeError::ChecksumMismatch {
            which,
            expected,
            computed,
        } => {
            let e = ChecksumMismatch::new_err(text);
            let value = e.value(py);
            let which = match which {
                es::Checksum::Prelude => "prelude",
                es::Checksum::Message => "message",
            };
            // Attributes are a convenience; failing to set them must not mask the error.
            let _ = value.setattr("which", which);
            let _ = value.setattr("expected", expected);
            let _ = value.setattr("computed", computed);
            e
        }
        DecodeError::InvalidFrame(_) => InvalidFrame::new_err(text),
        DecodeError::TruncatedStream { .. } => TruncatedStream::new_err(text),
    }
}

/// An error while feeding: from the codec, or from building Python objects.
enum FeedError {
    Decode(DecodeError),
    Python(PyErr),
}

impl From<DecodeError> for FeedError {
    fn from(e: DecodeError) -> Self {
        FeedError::Decode(e)
    }
}

impl From<PyErr> for FeedError {
    fn from(e: PyErr) -> Self {
        FeedError::Python(e)
    }
}

impl FeedError {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            FeedError::Decode(e) => decode_err(py, &e),
            FeedError::Python(e) => e,
        }
    }
}

/// One decoded message: `headers` maps names to Python values (in wire
/// order), `header_types` maps names to wire type codes, `payload` is bytes.
/// The two mappings are read-only views, shared by every message of a stream
/// with the same header block (so a message costs one bytes object).
#[pyclass(frozen, module = "sagerun.eventstream", name = "Message")]
pub struct Message {
    #[pyo3(get)]
    payload: Py<PyBytes>,
    #[pyo3(get)]
    headers: Py<PyMappingProxy>,
    #[pyo3(get)]
    header_types: Py<PyMappingProxy>,
}

#[pymethods]
impl Message {
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Message>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(
            self.payload.bind(py).as_bytes() == other.payload.bind(py).as_bytes()
                && self.header_types.bind(py).eq(other.header_types.bind(py))?
                && self.headers.bind(py).eq(other.headers.bind(py))?,
        )
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Message(headers={}, payload={})",
            self.headers.bind(py).call_method0("copy")?.repr()?,
            self.payload.bind(py).repr()?
        ))
    }
}

/// The read-only Python views of one header block.
struct SharedHeaders {
    headers: Py<PyMappingProxy>,
    header_types: Py<PyMappingProxy>,
}

/// Python objects a decoder reuses across messages: short strings seen
/// before, and the previous message's header block (streams repeat the
/// same headers in almost every message).
#[derive(Default)]
struct Reuse {
    strings: Vec<(Box<str>, Py<PyString>)>,
    last: Option<(Vec<u8>, SharedHeaders)>,
}

impl Reuse {
    fn string<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if let Some((_, obj)) = self.strings.iter().find(|(k, _)| &**k == s) {
            return obj.bind(py).clone();
        }
        let obj = PyString::new(py, s);
        if s.len() <= CACHE_MAX_LEN && self.strings.len() < CACHE_ENTRIES {
            self.strings.push((s.into(), obj.clone().unbind()));
        }
        obj
    }

    /// The Python form of `message`'s headers, reusing the previous
    /// message's when the header block is byte-for-byte the same.
    fn headers(&mut self, py: Python<'_>, message: &MessageRef<'_>) -> PyResult<SharedHeaders> {
        if let Some((raw, shared)) = &self.last {
            if raw.as_slice() == message.raw_headers {
                return Ok(shared.clone_ref(py));
            }
        }
        let headers = PyDict::new(py);
        let header_types = PyDict::new(py);
        for header in message.headers {
            let name = self.string(py, header.name);
            headers.set_item(&name, py_header_value(py, &header.value, self)?)?;
            header_types.set_item(&name, header.value.type_code())?;
        }
        let shared = SharedHeaders {
            headers: PyMappingProxy::new(py, headers.as_mapping()).unbind(),
            header_types: PyMappingProxy::new(py, header_types.as_mapping()).unbind(),
        };
        if message.raw_headers.len() <= REUSE_MAX_BLOCK {
            self.last = Some((message.raw_headers.to_vec(), shared.clone_ref(py)));
        }
        Ok(shared)
    }
}

impl SharedHeaders {
    fn clone_ref(&self, py: Python<'_>) -> SharedHeaders {
        SharedHeaders {
            headers: self.headers.clone_ref(py),
            header_types: self.header_types.clone_ref(py),
        }
    }
}

/// `datetime(1970, 1, 1, tzinfo=timezone.utc)` and `timedelta`, looked up once.
static EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static TIMEDELTA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn timestamp_to_datetime<'py>(py: Python<'py>, millis: i64) -> PyResult<Bound<'py, PyAny>> {
    let epoch = EPOCH.get_or_try_init(py, || {
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("tzinfo", utc)?;
        Ok::<_, PyErr>(
            datetime
                .getattr("datetime")?
                .call((1970, 1, 1), Some(&kwargs))?
                .unbind(),
        )
    })?;
    let timedelta = TIMEDELTA.import(py, "datetime", "timedelta")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("milliseconds", millis)?;
    // Either step overflows for values outside datetime's years 1-9999.
    let out_of_range = |_| {
        InvalidFrame::new_err(format!(
            "timestamp header of {millis} ms is outside the range of datetime"
        ))
    };
    let delta = timedelta.call((), Some(&kwargs)).map_err(out_of_range)?;
    epoch.bind(py).add(delta).map_err(out_of_range)
}

fn py_header_value<'py>(
    py: Python<'py>,
    value: &HeaderValueRef<'_>,
    reuse: &mut Reuse,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match *value {
        HeaderValueRef::Bool(v) => v.into_pyobject(py)?.to_owned().into_any(),
        HeaderValueRef::Byte(v) => v.into_pyobject(py)?.into_any(),
        HeaderValueRef::Short(v) => v.into_pyobject(py)?.into_any(),
        HeaderValueRef::Int(v) => v.into_pyobject(py)?.into_any(),
        HeaderValueRef::Long(v) => v.into_pyobject(py)?.into_any(),
        HeaderValueRef::Bytes(v) => PyBytes::new(py, v).into_any(),
        HeaderValueRef::String(v) => reuse.string(py, v).into_any(),
        HeaderValueRef::Timestamp(v) => timestamp_to_datetime(py, v)?,
        // Raw 16 bytes, as botocore gives them.
        HeaderValueRef::Uuid(v) => PyBytes::new(py, &v).into_any(),
    })
}

fn build_message(py: Python<'_>, message: &MessageRef<'_>, reuse: &mut Reuse) -> PyResult<Message> {
    let SharedHeaders {
        headers,
        header_types,
    } = reuse.headers(py, message)?;
    Ok(Message {
        // The one copy of the payload: from the input straight into bytes.
        payload: PyBytes::new(py, message.payload).unbind(),
        headers,
        header_types,
    })
}

/// bytes are used in place; bytearray and memoryview are snapshotted once.
fn input_bytes<'py>(data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(bytes.clone());
    }
    if data.is_instance_of::<PyByteArray>() || data.is_instance_of::<PyMemoryView>() {
        return Ok(data
            .py()
            .get_type::<PyBytes>()
            .call1((data,))?
            .cast_into::<PyBytes>()?);
    }
    Err(PyTypeError::new_err(format!(
        "expected bytes, bytearray or memoryview, not {}",
        data.get_type().name()?
    )))
}

fn limit_arg(name: &str, value: Option<i64>, default: usize) -> PyResult<usize> {
    match value {
        None => Ok(default),
        Some(v) => usize::try_from(v)
            .map_err(|_| PyValueError::new_err(format!("{name} must be >= 0, not {v}"))),
    }
}

/// Incremental decoder: `feed` any split of the stream, get whole messages.
#[pyclass(module = "sagerun.eventstream", name = "EventStreamDecoder")]
pub struct EventStreamDecoder {
    inner: es::Decoder,
    reuse: Reuse,
}

#[pymethods]
impl EventStreamDecoder {
    #[new]
    #[pyo3(signature = (max_headers_len=None, max_payload_len=None))]
    fn new(max_headers_len: Option<i64>, max_payload_len: Option<i64>) -> PyResult<Self> {
        let default = Limits::default();
        let limits = Limits {
            max_headers_len: limit_arg(
                "max_headers_len",
                max_headers_len,
                default.max_headers_len,
            )?,
            max_payload_len: limit_arg(
                "max_payload_len",
                max_payload_len,
                default.max_payload_len,
            )?,
        };
        Ok(EventStreamDecoder {
            inner: es::Decoder::new(limits),
            reuse: Reuse::default(),
        })
    }

    #[getter]
    fn max_headers_len(&self) -> usize {
        self.inner.limits().max_headers_len
    }

    #[getter]
    fn max_payload_len(&self) -> usize {
        self.inner.limits().max_payload_len
    }

    /// Bytes held for an unfinished frame.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered_len()
    }

    /// Returns the messages `data` completes. On an error, the messages
    /// decoded before it are on the exception as `.messages`.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let input = input_bytes(data)?;
        let bytes = input.as_bytes();
        let out = PyList::empty(py);
        let reuse = &mut self.reuse;
        let large_frames = self
            .inner
            .upcoming_frame_len(bytes)
            .is_some_and(|n| n >= DETACH_MIN_FRAME);
        let result = if bytes.len() >= DETACH_MIN_INPUT && large_frames {
            let inner = &mut self.inner;
            let (frames, checked) = py.detach(|| inner.feed_verified(bytes));
            frames
                .iter()
                .try_for_each(|frame| -> Result<(), FeedError> {
                    let message = frame.with_message(bytes, |m| build_message(py, &m, reuse))??;
                    out.append(message)?;
                    Ok(())
                })
                .and(checked.map_err(FeedError::from))
        } else {
            self.inner.feed_with(bytes, |m| -> Result<(), FeedError> {
                out.append(build_message(py, &m, reuse)?)?;
                Ok(())
            })
        };
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                let err = e.into_py(py);
                let _ = err.value(py).setattr("messages", out);
                Err(err)
            }
        }
    }

    /// End of input: raises `TruncatedStream` if a frame was left unfinished.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.finish().map_err(|e| decode_err(py, &e))
    }
}

/// Decodes exactly one frame.
#[pyfunction]
fn decode_message(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Message> {
    let input = input_bytes(data)?;
    let mut reuse = Reuse::default();
    es::decode_message_with(input.as_bytes(), &Limits::default(), |m| {
        build_message(py, &m, &mut reuse)
    })
    .map_err(|e| decode_err(py, &e))?
}

/// Encodes `headers` — `(name, type_code, value)` triples whose values the
/// Python layer has already normalised (ints, bytes, str) — and `payload`.
#[pyfunction]
fn encode_message_raw<'py>(
    py: Python<'py>,
    headers: Vec<(String, u8, Bound<'py, PyAny>)>,
    payload: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let headers = headers
        .into_iter()
        .map(|(name, code, value)| {
            Ok(es::Header {
                name,
                value: header_value(code, &value)?,
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let frame = es::encode_message(&headers, payload)
        .map_err(|e| EventStreamError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &frame))
}

fn header_value(code: u8, value: &Bound<'_, PyAny>) -> PyResult<HeaderValue> {
    use es::type_code as t;
    Ok(match code {
        t::TRUE => HeaderValue::Bool(true),
        t::FALSE => HeaderValue::Bool(false),
        t::BYTE => HeaderValue::Byte(value.extract()?),
        t::SHORT => HeaderValue::Short(value.extract()?),
        t::INT => HeaderValue::Int(value.extract()?),
        t::LONG => HeaderValue::Long(value.extract()?),
        t::BYTES => HeaderValue::Bytes(value.cast::<PyBytes>()?.as_bytes().to_vec().into()),
        t::STRING => HeaderValue::String(value.extract()?),
        t::TIMESTAMP => HeaderValue::Timestamp(value.extract()?),
        t::UUID => HeaderValue::Uuid(
            value
                .cast::<PyBytes>()?
                .as_bytes()
                .try_into()
                .map_err(|_| {
                    PyValueError::new_err("a uuid header value must be exactly 16 bytes")
                })?,
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown header type code {other}"
            )))
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("EventStreamError", py.get_type::<EventStreamError>())?;
    m.add("ChecksumMismatch", py.get_type::<ChecksumMismatch>())?;
    m.add("InvalidFrame", py.get_type::<InvalidFrame>())?;
    m.add("TruncatedStream", py.get_type::<TruncatedStream>())?;
    m.add_class::<Message>()?;
    m.add_class::<EventStreamDecoder>()?;
    m.add_function(wrap_pyfunction!(decode_message, m)?)?;
    m.add_function(wrap_pyfunction!(encode_message_raw, m)?)?;
    let defaults = Limits::default();
    m.add("EVENTSTREAM_MAX_HEADERS_LEN", defaults.max_headers_len)?;
    m.add("EVENTSTREAM_MAX_PAYLOAD_LEN", defaults.max_payload_len)?;
    Ok(())
}
