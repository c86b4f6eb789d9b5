//! Bindings for the stream payload decoders (`sagerun_core::streaming`):
//! take a part (bytes or a boto3-shaped event dict), feed the Rust decoder,
//! hand its items back as Python objects, and map its errors. The parsing
//! rules all live in the core crate.

use std::ffi::CString;

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyUnicodeDecodeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyIterator, PyList, PyMemoryView, PyString, PyTuple,
};
use sagerun_core::streaming::{self as core, StreamError, Utf8DecodeError, Utf8Errors};

create_exception!(
    sagerun.streaming,
    StreamFormatError,
    PyValueError,
    "The stream's content does not follow the format it was read as (a ValueError)."
);
create_exception!(
    sagerun.streaming,
    LineTooLong,
    StreamFormatError,
    "A line grew past max_line_bytes (or a JSON-lines record past max_record_bytes); `.limit` holds the limit."
);
create_exception!(
    sagerun.streaming,
    EventTooLong,
    StreamFormatError,
    "A server-sent event grew past max_event_bytes (or max_record_bytes); `.limit` holds the limit."
);
create_exception!(
    sagerun.streaming,
    ModelGenerationError,
    PyRuntimeError,
    "The model reported an error inside the stream; `.message` is its message, `.record` the record."
);

/// A decoder's error: from the Rust decoder, or from building Python objects.
enum Failure {
    Stream(StreamError),
    Python(PyErr),
}

impl From<StreamError> for Failure {
    fn from(e: StreamError) -> Self {
        Failure::Stream(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Python(e)
    }
}

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Stream(e) => stream_err(e),
            Failure::Python(e) => e,
        }
    }
}

fn stream_err(err: StreamError) -> PyErr {
    let text = err.to_string();
    Python::attach(|py| {
        let e = match &err {
            StreamError::LineTooLong { .. } => LineTooLong::new_err(text),
            StreamError::EventTooLong { .. } => EventTooLong::new_err(text),
            StreamError::MalformedRecord { .. } => StreamFormatError::new_err(text),
            StreamError::ModelError { .. } => ModelGenerationError::new_err(text),
        };
        // Attributes are a convenience; failing to set one must not mask the error.
        let value = e.value(py);
        let _ = match err {
            StreamError::LineTooLong { limit } | StreamError::EventTooLong { limit } => {
                value.setattr("limit", limit)
            }
            StreamError::MalformedRecord { excerpt, .. } => value.setattr("record", excerpt),
            StreamError::ModelError { message, excerpt } => value
                .setattr("message", message)
                .and_then(|_| value.setattr("record", excerpt)),
        };
        e
    })
}

/// A `UnicodeDecodeError` with the same object, range and reason Python's
/// incremental UTF-8 decoder gives.
fn utf8_err(py: Python<'_>, err: &Utf8DecodeError) -> PyErr {
    let reason = CString::new(err.reason).unwrap_or_default();
    match PyUnicodeDecodeError::new(py, c"utf-8", &err.input, err.start..err.end, &reason) {
        Ok(e) => PyErr::from_value(e.into_any()),
        Err(e) => e,
    }
}

/// Puts the items a part completed before an error on the exception as
/// `.items`, so that nothing decoded is lost to a later error in the part.
fn with_items(err: PyErr, items: &Bound<'_, PyList>) -> PyErr {
    // A convenience; failing to set it must not mask the error.
    let _ = err.value(items.py()).setattr("items", items);
    err
}

const PART_SHAPES: &str =
    "bytes, bytearray, memoryview or a {'PayloadPart': {'Bytes': ...}} event dict";

/// The payload of one part: bytes-like as it is (bytes without a copy), or
/// the `Bytes` of a boto3 `{"PayloadPart": {"Bytes": ...}}` event. `None`
/// for an event dict of another type (it carries no payload).
fn payload_of<'py>(part: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    if let Ok(bytes) = part.cast::<PyBytes>() {
        return Ok(Some(bytes.clone()));
    }
    if let Ok(event) = part.cast::<PyDict>() {
        let py = part.py();
        let Some(payload_part) = event.get_item(intern!(py, "PayloadPart"))? else {
            return Ok(None);
        };
        let bytes = payload_part
            .cast::<PyDict>()
            .ok()
            .map(|p| p.get_item(intern!(py, "Bytes")))
            .transpose()?
            .flatten()
            .ok_or_else(|| {
                PyTypeError::new_err("a PayloadPart event must be {'PayloadPart': {'Bytes': ...}}")
            })?;
        return bytes_like(&bytes).map(Some);
    }
    bytes_like(part).map(Some)
}

fn bytes_like<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.clone());
    }
    if value.is_instance_of::<PyByteArray>() || value.is_instance_of::<PyMemoryView>() {
        return Ok(value
            .py()
            .get_type::<PyBytes>()
            .call1((value,))?
            .cast_into::<PyBytes>()?);
    }
    let hint = if value.is_instance_of::<PyString>() {
        " (encode text to bytes first)"
    } else {
        ""
    };
    Err(PyTypeError::new_err(format!(
        "a stream part must be {PART_SHAPES}, not {}{hint}",
        value.get_type().name()?
    )))
}

/// The payload bytes of one part (see `payload_of`); `None` for an event
/// without a payload.
#[pyfunction]
fn payload_bytes<'py>(part: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyBytes>>> {
    payload_of(part)
}

/// A size limit argument: `None`, or an int >= 1.
fn limit_arg(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int or None, not bool"
        )));
    }
    let n: i128 = value.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be an int or None, not {}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    match usize::try_from(n) {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(PyValueError::new_err(format!(
            "{name} must be at least 1, not {n}"
        ))),
    }
}

/// Lines reassembled across parts (`\n` or `\r\n` ends a line).
#[pyclass(module = "sagerun.streaming", name = "LineDecoder")]
pub struct LineDecoder {
    inner: core::LineDecoder,
}

#[pymethods]
impl LineDecoder {
    #[new]
    #[pyo3(signature = (keepends=false, max_line_bytes=None))]
    fn new(keepends: bool, max_line_bytes: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(LineDecoder {
            inner: core::LineDecoder::new(keepends, limit_arg("max_line_bytes", max_line_bytes)?),
        })
    }

    /// The lines `part` completes.
    fn feed<'py>(&mut self, part: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        feed_list(self, part)
    }

    /// The last line, if the stream did not end with a newline.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        self.inner
            .finish_with(|line| Ok::<_, Failure>(out.append(PyBytes::new(py, line))?))?;
        Ok(out)
    }

    /// Bytes held for an unfinished line.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// Incremental UTF-8 with Python's strict/replace/ignore semantics.
#[pyclass(module = "sagerun.streaming", name = "Utf8Decoder")]
pub struct Utf8Decoder {
    inner: core::Utf8Decoder,
}

#[pymethods]
impl Utf8Decoder {
    #[new]
    #[pyo3(signature = (errors="strict"))]
    fn new(errors: &str) -> PyResult<Self> {
        let policy = Utf8Errors::from_name(errors).ok_or_else(|| {
            PyValueError::new_err(format!(
                "errors must be 'strict', 'replace' or 'ignore', not {errors:?}"
            ))
        })?;
        Ok(Utf8Decoder {
            inner: core::Utf8Decoder::new(policy),
        })
    }

    /// The text `part` completes (possibly empty).
    fn feed<'py>(&mut self, part: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
        let py = part.py();
        let Some(bytes) = payload_of(part)? else {
            return Ok(PyString::new(py, ""));
        };
        let text = self
            .inner
            .feed(bytes.as_bytes())
            .map_err(|e| utf8_err(py, &e))?;
        Ok(PyString::new(py, &text))
    }

    /// The end of the text: raises UnicodeDecodeError (strict) if a
    /// character was left unfinished.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        let text = self.inner.finish().map_err(|e| utf8_err(py, &e))?;
        Ok(PyString::new(py, text))
    }

    /// Bytes held back for a character split across parts.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// One server-sent event.
#[pyclass(
    frozen,
    eq,
    hash,
    module = "sagerun.streaming",
    name = "ServerSentEvent"
)]
#[derive(PartialEq, Eq, Hash)]
pub struct ServerSentEvent {
    #[pyo3(get)]
    data: String,
    #[pyo3(get)]
    event: String,
    #[pyo3(get)]
    id: String,
    #[pyo3(get)]
    retry: Option<u64>,
}

impl From<core::SseEvent> for ServerSentEvent {
    fn from(e: core::SseEvent) -> Self {
        ServerSentEvent {
            data: e.data,
            event: e.event,
            id: e.id,
            retry: e.retry,
        }
    }
}

#[pymethods]
impl ServerSentEvent {
    #[new]
    #[pyo3(signature = (data="".to_owned(), event="message".to_owned(), id="".to_owned(), retry=None))]
    fn new(data: String, event: String, id: String, retry: Option<u64>) -> Self {
        ServerSentEvent {
            data,
            event,
            id,
            retry,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = |s: &str| -> PyResult<String> { Ok(PyString::new(py, s).repr()?.to_string()) };
        let retry = self
            .retry
            .map_or_else(|| "None".to_owned(), |r| r.to_string());
        Ok(format!(
            "ServerSentEvent(data={}, event={}, id={}, retry={retry})",
            text(&self.data)?,
            text(&self.event)?,
            text(&self.id)?
        ))
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let me = slf.get();
        let args =
            (me.data.clone(), me.event.clone(), me.id.clone(), me.retry).into_pyobject(slf.py())?;
        Ok((slf.get_type().into_any(), args))
    }
}

/// Server-sent events reassembled across parts (WHATWG rules).
#[pyclass(module = "sagerun.streaming", name = "SseDecoder")]
pub struct SseDecoder {
    inner: core::SseDecoder,
}

#[pymethods]
impl SseDecoder {
    #[new]
    #[pyo3(signature = (stop_at_done=true, max_event_bytes=None))]
    fn new(stop_at_done: bool, max_event_bytes: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(SseDecoder {
            inner: core::SseDecoder::new(
                stop_at_done,
                limit_arg("max_event_bytes", max_event_bytes)?,
            ),
        })
    }

    /// The events `part` completes.
    fn feed<'py>(&mut self, part: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        feed_list(self, part)
    }

    /// Ends the stream; an event without its closing blank line is dropped.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.inner.finish().map_err(stream_err)?;
        Ok(PyList::empty(py))
    }

    /// Whether `data: [DONE]` ended the stream.
    #[getter]
    fn done(&self) -> bool {
        self.inner.is_done()
    }

    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// Text deltas from TGI, LMI or OpenAI-style streams.
#[pyclass(module = "sagerun.streaming", name = "TokenDecoder")]
pub struct TokenDecoder {
    inner: core::TokenDecoder,
}

#[pymethods]
impl TokenDecoder {
    #[new]
    #[pyo3(signature = (format=None, skip_special=true, max_record_bytes=None))]
    fn new(
        format: Option<&str>,
        skip_special: bool,
        max_record_bytes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let format = match format {
            None | Some("auto") => None,
            Some(name) => Some(core::TokenFormat::from_name(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "format must be 'auto', 'tgi', 'lmi' or 'openai', not {name:?}"
                ))
            })?),
        };
        Ok(TokenDecoder {
            inner: core::TokenDecoder::new(
                format,
                skip_special,
                limit_arg("max_record_bytes", max_record_bytes)?,
            ),
        })
    }

    /// The text deltas `part` completes.
    fn feed<'py>(&mut self, part: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        feed_list(self, part)
    }

    /// The deltas of an unterminated last JSON line.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        self.inner
            .finish_with(|text| Ok::<_, Failure>(out.append(PyString::new(py, text))?))?;
        Ok(out)
    }

    /// Whether `data: [DONE]` ended the stream.
    #[getter]
    fn done(&self) -> bool {
        self.inner.is_done()
    }

    /// The format given or recognised so far ('tgi', 'lmi', 'openai'), or None.
    #[getter]
    fn format(&self) -> Option<&'static str> {
        self.inner.format().map(core::TokenFormat::name)
    }
}

/// The decoders whose `feed` hands out a list: a payload's complete items
/// are appended to a list, each made into its Python object.
trait ItemDecoder {
    fn feed_payload(&mut self, payload: &[u8], out: &Bound<'_, PyList>) -> PyResult<()>;
}

impl ItemDecoder for LineDecoder {
    fn feed_payload(&mut self, payload: &[u8], out: &Bound<'_, PyList>) -> PyResult<()> {
        let py = out.py();
        let append = |line: &[u8]| Ok::<_, Failure>(out.append(PyBytes::new(py, line))?);
        Ok(self.inner.feed_with(payload, append)?)
    }
}

impl ItemDecoder for SseDecoder {
    fn feed_payload(&mut self, payload: &[u8], out: &Bound<'_, PyList>) -> PyResult<()> {
        let py = out.py();
        let append =
            |event| Ok::<_, Failure>(out.append(Bound::new(py, ServerSentEvent::from(event))?)?);
        Ok(self.inner.feed_with(payload, append)?)
    }
}

impl ItemDecoder for TokenDecoder {
    fn feed_payload(&mut self, payload: &[u8], out: &Bound<'_, PyList>) -> PyResult<()> {
        let py = out.py();
        let append = |text: &str| Ok::<_, Failure>(out.append(PyString::new(py, text))?);
        Ok(self.inner.feed_with(payload, append)?)
    }
}

/// Appends what `part` completes to `out`.
fn feed_into(
    decoder: &mut impl ItemDecoder,
    part: &Bound<'_, PyAny>,
    out: &Bound<'_, PyList>,
) -> PyResult<()> {
    match payload_of(part)? {
        Some(bytes) => decoder.feed_payload(bytes.as_bytes(), out),
        None => Ok(()),
    }
}

/// What `part` completes, as a new list (an error carries the items
/// completed before it: see `with_items`).
fn feed_list<'py>(
    decoder: &mut impl ItemDecoder,
    part: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(part.py());
    feed_into(decoder, part, &out).map_err(|e| with_items(e, &out))?;
    Ok(out)
}

/// A decoder whose `feed` hands out a list of items and that may end the
/// stream early (`[DONE]`).
enum ListDecoder {
    Lines(Py<LineDecoder>),
    Sse(Py<SseDecoder>),
    Tokens(Py<TokenDecoder>),
}

impl ListDecoder {
    fn from_object(decoder: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(d) = decoder.cast::<LineDecoder>() {
            return Ok(ListDecoder::Lines(d.clone().unbind()));
        }
        if let Ok(d) = decoder.cast::<SseDecoder>() {
            return Ok(ListDecoder::Sse(d.clone().unbind()));
        }
        if let Ok(d) = decoder.cast::<TokenDecoder>() {
            return Ok(ListDecoder::Tokens(d.clone().unbind()));
        }
        Err(PyTypeError::new_err(
            "expected a LineDecoder, SseDecoder or TokenDecoder",
        ))
    }

    fn feed_into(&self, part: &Bound<'_, PyAny>, out: &Bound<'_, PyList>) -> PyResult<()> {
        let py = part.py();
        match self {
            ListDecoder::Lines(d) => feed_into(&mut *d.bind(py).borrow_mut(), part, out),
            ListDecoder::Sse(d) => feed_into(&mut *d.bind(py).borrow_mut(), part, out),
            ListDecoder::Tokens(d) => feed_into(&mut *d.bind(py).borrow_mut(), part, out),
        }
    }

    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        match self {
            ListDecoder::Lines(d) => d.bind(py).borrow_mut().finish(py),
            ListDecoder::Sse(d) => d.bind(py).borrow_mut().finish(py),
            ListDecoder::Tokens(d) => d.bind(py).borrow_mut().finish(py),
        }
    }

    fn done(&self, py: Python<'_>) -> bool {
        match self {
            ListDecoder::Lines(_) => false,
            ListDecoder::Sse(d) => d.bind(py).borrow().done(),
            ListDecoder::Tokens(d) => d.bind(py).borrow().done(),
        }
    }
}

/// The iterator behind the sync helpers: pulls parts from `source` only
/// as items are asked for, feeds them to the decoder and hands out what
/// each completes; ends (without reading on) once the decoder is done.
/// The same loop as the Python generators of the async twins, without a
/// Python frame per part.
#[pyclass(module = "sagerun.streaming", name = "_Drive")]
pub struct Drive {
    /// `None` once the source is exhausted or the decoder is done.
    source: Option<Py<PyIterator>>,
    decoder: ListDecoder,
    items: Option<Py<PyList>>,
    next_item: usize,
    /// An error raised once the items decoded before it are out.
    error: Option<PyErr>,
}

#[pymethods]
impl Drive {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let next = self.advance(py);
        if next.is_err() {
            // Like a generator that raised: over, and nothing pending is
            // passed off as a complete item later.
            self.source = None;
            self.items = None;
            self.error = None;
        }
        next
    }
}

impl Drive {
    fn advance<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            if let Some(items) = &self.items {
                let items = items.bind(py);
                if self.next_item < items.len() {
                    self.next_item += 1;
                    return items.get_item(self.next_item - 1).map(Some);
                }
                self.items = None;
            }
            if let Some(err) = self.error.take() {
                return Err(err);
            }
            let Some(source) = &self.source else {
                return Ok(None);
            };
            let part = source.bind(py).clone().next();
            let items = match part {
                Some(part) => {
                    let items = PyList::empty(py);
                    if let Err(err) = self.decoder.feed_into(&part?, &items) {
                        if items.is_empty() {
                            return Err(err);
                        }
                        self.error = Some(err);
                        self.source = None;
                    } else if self.decoder.done(py) {
                        self.source = None;
                    }
                    items
                }
                None => {
                    self.source = None;
                    self.decoder.finish(py)?
                }
            };
            self.items = Some(items.unbind());
            self.next_item = 0;
        }
    }
}

/// Iterates `decoder` (a LineDecoder, SseDecoder or TokenDecoder) over the
/// parts of `source`, lazily.
#[pyfunction]
fn drive(source: &Bound<'_, PyAny>, decoder: &Bound<'_, PyAny>) -> PyResult<Drive> {
    Ok(Drive {
        source: Some(source.try_iter()?.unbind()),
        decoder: ListDecoder::from_object(decoder)?,
        items: None,
        next_item: 0,
        error: None,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StreamFormatError", py.get_type::<StreamFormatError>())?;
    m.add("LineTooLong", py.get_type::<LineTooLong>())?;
    m.add("EventTooLong", py.get_type::<EventTooLong>())?;
    m.add(
        "ModelGenerationError",
        py.get_type::<ModelGenerationError>(),
    )?;
    m.add_class::<LineDecoder>()?;
    m.add_class::<Utf8Decoder>()?;
    m.add_class::<ServerSentEvent>()?;
    m.add_class::<SseDecoder>()?;
    m.add_class::<TokenDecoder>()?;
    m.add_function(wrap_pyfunction!(payload_bytes, m)?)?;
    m.add_class::<Drive>()?;
    m.add_function(wrap_pyfunction!(drive, m)?)?;
    Ok(())
}
