//! The `application/vnd.amazon.eventstream` frame codec.
//!
//! CONTRACT (other crates code against these names; the codec fills
//! in the bodies and may add fast paths beside them):
//! - `HeaderValue`, `Header`, `Message`, `Limits`, `DecodeError`, `EncodeError`
//! - `Decoder::new(Limits)`, `Decoder::feed(&mut self, &[u8]) -> Result<Vec<Message>, DecodeError>`,
//!   `Decoder::finish(&self) -> Result<(), DecodeError>` (TruncatedStream if a frame is pending)
//! - `decode_message(&[u8]) -> Result<Message, DecodeError>` (exactly one frame)
//! - `encode_message(&[Header], &[u8]) -> Result<Vec<u8>, EncodeError>` and
//!   `encode_message_into(&mut Vec<u8>, &[Header], &[u8]) -> Result<(), EncodeError>`

use bytes::Bytes;

/// A header value; the variant fixes the wire type code (0-9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    /// Type 0 (true) or 1 (false).
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Bytes,
}

/// Size limits a decoder enforces before allocating anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_headers_len: usize,
    pub max_payload_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_headers_len: 128 * 1024, max_payload_len: 24 * 1024 * 1024 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Prelude,
    Message,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{which:?} checksum mismatch: expected {expected:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { which: Checksum, expected: u32, computed: u32 },
    #[error("invalid event-stream frame: {0}")]
    InvalidFrame(String),
    #[error("event stream ended inside a frame ({buffered} bytes of an unfinished message)")]
    TruncatedStream { buffered: usize },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("invalid event-stream message: {0}")]
    Invalid(String),
}

/// Incremental decoder: feed bytes in any split, get complete messages.
#[derive(Debug, Default)]
pub struct Decoder {
    _limits: Limits,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder { _limits: limits }
    }
    pub fn feed(&mut self, _data: &[u8]) -> Result<Vec<Message>, DecodeError> {
        todo!()
    }
    /// End of input: an error if a frame was started and not finished.
    pub fn finish(&self) -> Result<(), DecodeError> {
        todo!()
    }
}

/// Decodes exactly one frame (trailing bytes are an error).
pub fn decode_message(_data: &[u8]) -> Result<Message, DecodeError> {
    todo!()
}

pub fn encode_message(headers: &[Header], payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_message_into(&mut out, headers, payload)?;
    Ok(out)
}

/// Appends one encoded frame to `out`.
pub fn encode_message_into(_out: &mut Vec<u8>, _headers: &[Header], _payload: &[u8]) -> Result<(), EncodeError> {
    todo!()
}
