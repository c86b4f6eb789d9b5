//! Owned messages (easy to keep) and borrowed ones (zero-copy views into the
//! decoder's input), plus the size limits a decoder enforces.

use bytes::Bytes;

use super::header::type_code;

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
        Limits {
            max_headers_len: 128 * 1024,
            max_payload_len: 24 * 1024 * 1024,
        }
    }
}

/// A header value borrowed from the frame it was decoded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderValueRef<'a> {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(&'a [u8]),
    String(&'a str),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    pub name: &'a str,
    pub value: HeaderValueRef<'a>,
}

/// A decoded message borrowing its headers and payload from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// In wire order; names are unique.
    pub headers: &'a [HeaderRef<'a>],
    /// The header block as it was on the wire (lets a caller notice that a
    /// message repeats the previous one's headers, as streams mostly do).
    pub raw_headers: &'a [u8],
    pub payload: &'a [u8],
}

impl HeaderValue {
    /// The wire type code (0-9).
    pub fn type_code(&self) -> u8 {
        self.as_ref().type_code()
    }

    pub fn as_ref(&self) -> HeaderValueRef<'_> {
        match self {
            HeaderValue::Bool(v) => HeaderValueRef::Bool(*v),
            HeaderValue::Byte(v) => HeaderValueRef::Byte(*v),
            HeaderValue::Short(v) => HeaderValueRef::Short(*v),
            HeaderValue::Int(v) => HeaderValueRef::Int(*v),
            HeaderValue::Long(v) => HeaderValueRef::Long(*v),
            HeaderValue::Bytes(v) => HeaderValueRef::Bytes(v),
            HeaderValue::String(v) => HeaderValueRef::String(v),
            HeaderValue::Timestamp(v) => HeaderValueRef::Timestamp(*v),
            HeaderValue::Uuid(v) => HeaderValueRef::Uuid(*v),
        }
    }
}

impl HeaderValueRef<'_> {
    /// The wire type code (0-9).
    pub fn type_code(&self) -> u8 {
        match self {
            HeaderValueRef::Bool(true) => type_code::TRUE,
            HeaderValueRef::Bool(false) => type_code::FALSE,
            HeaderValueRef::Byte(_) => type_code::BYTE,
            HeaderValueRef::Short(_) => type_code::SHORT,
            HeaderValueRef::Int(_) => type_code::INT,
            HeaderValueRef::Long(_) => type_code::LONG,
            HeaderValueRef::Bytes(_) => type_code::BYTES,
            HeaderValueRef::String(_) => type_code::STRING,
            HeaderValueRef::Timestamp(_) => type_code::TIMESTAMP,
            HeaderValueRef::Uuid(_) => type_code::UUID,
        }
    }

    pub fn to_owned_value(&self) -> HeaderValue {
        match *self {
            HeaderValueRef::Bool(v) => HeaderValue::Bool(v),
            HeaderValueRef::Byte(v) => HeaderValue::Byte(v),
            HeaderValueRef::Short(v) => HeaderValue::Short(v),
            HeaderValueRef::Int(v) => HeaderValue::Int(v),
            HeaderValueRef::Long(v) => HeaderValue::Long(v),
            HeaderValueRef::Bytes(v) => HeaderValue::Bytes(Bytes::copy_from_slice(v)),
            HeaderValueRef::String(v) => HeaderValue::String(v.to_owned()),
            HeaderValueRef::Timestamp(v) => HeaderValue::Timestamp(v),
            HeaderValueRef::Uuid(v) => HeaderValue::Uuid(v),
        }
    }
}

impl Header {
    pub fn new(name: impl Into<String>, value: HeaderValue) -> Header {
        Header {
            name: name.into(),
            value,
        }
    }

    pub fn as_ref(&self) -> HeaderRef<'_> {
        HeaderRef {
            name: &self.name,
            value: self.value.as_ref(),
        }
    }
}

impl MessageRef<'_> {
    pub fn to_owned_message(&self) -> Message {
        Message {
            headers: self
                .headers
                .iter()
                .map(|h| Header {
                    name: h.name.to_owned(),
                    value: h.value.to_owned_value(),
                })
                .collect(),
            payload: Bytes::copy_from_slice(self.payload),
        }
    }

    /// The value of the header called `name`, if present.
    pub fn header(&self, name: &str) -> Option<HeaderValueRef<'_>> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value)
    }
}

impl Message {
    /// The value of the header called `name`, if present.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }
}
