//! The header block: `name_len:u8 name type:u8 value`, repeated. Parsing
//! borrows from the block; writing appends to a buffer.

use std::collections::HashSet;
use std::ops::Range;

use super::error::{invalid, DecodeError, EncodeError};
use super::types::{HeaderRef, HeaderValueRef};

/// Wire type codes of the ten header value types.
pub mod type_code {
    pub const TRUE: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const BYTE: u8 = 2;
    pub const SHORT: u8 = 3;
    pub const INT: u8 = 4;
    pub const LONG: u8 = 5;
    pub const BYTES: u8 = 6;
    pub const STRING: u8 = 7;
    pub const TIMESTAMP: u8 = 8;
    pub const UUID: u8 = 9;
}

/// Longest byte-array or string value (its length is a u16).
pub(crate) const MAX_VALUE_LEN: usize = u16::MAX as usize;
/// Longest header name (its length is a u8; zero is not allowed).
pub(crate) const MAX_NAME_LEN: usize = u8::MAX as usize;

/// Below this many headers a linear scan finds duplicates faster than hashing.
const LINEAR_DUP_SCAN: usize = 16;

/// Rejects a repeated name without going quadratic on hostile header blocks
/// (128 KiB holds ~40,000 minimal headers).
pub(crate) struct DuplicateCheck<'a> {
    seen: Option<HashSet<&'a str>>,
}

impl<'a> DuplicateCheck<'a> {
    pub(crate) fn new() -> Self {
        DuplicateCheck { seen: None }
    }

    /// True if `name` was already among `earlier` (all names checked so far).
    pub(crate) fn is_repeat(&mut self, earlier: &[HeaderRef<'a>], name: &'a str) -> bool {
        if earlier.len() < LINEAR_DUP_SCAN {
            return earlier.iter().any(|h| h.name == name);
        }
        let seen = self
            .seen
            .get_or_insert_with(|| earlier.iter().map(|h| h.name).collect());
        !seen.insert(name)
    }
}

/// The last header block that passed every check, and where its headers
/// lie in it. Streams repeat one block in almost every message, and a
/// byte-identical block is read again from that layout: no walk, no UTF-8
/// or duplicate checks.
#[derive(Debug, Default)]
pub(crate) struct KnownBlock {
    block: Vec<u8>,
    layout: Vec<Slot>,
}

/// Where one header of a known block lies: its name, its type code and its
/// value's bytes (without a length prefix).
#[derive(Clone, Debug)]
struct Slot {
    name: Range<usize>,
    code: u8,
    value: Range<usize>,
}

impl KnownBlock {
    /// Remembers `headers`, parsed and checked from `block`.
    fn remember(&mut self, block: &[u8], headers: &[HeaderRef<'_>]) {
        let offset = |part: &[u8]| part.as_ptr() as usize - block.as_ptr() as usize;
        self.block.clear();
        self.block.extend_from_slice(block);
        self.layout.clear();
        self.layout.extend(headers.iter().map(|h| {
            let name = offset(h.name.as_bytes());
            let value = match &h.value {
                HeaderValueRef::String(v) => Some(v.as_bytes()),
                HeaderValueRef::Bytes(v) => Some(*v),
                _ => None,
            };
            // A fixed-size value follows its type code, which follows the name.
            let value_at = value.map_or(name + h.name.len() + 1, offset);
            Slot {
                name: name..name + h.name.len(),
                code: h.value.type_code(),
                value: value_at..value_at + value_len(&h.value),
            }
        }));
    }

    /// Whether `block` is the known block (a block that passed every check).
    pub(crate) fn holds(&self, block: &[u8]) -> bool {
        !block.is_empty() && self.block == block
    }

    /// `block`'s headers, if it is the known block.
    fn read<'a>(&self, block: &'a [u8], out: &mut Vec<HeaderRef<'a>>) -> bool {
        if block.is_empty() || self.block != block {
            return false;
        }
        out.extend(self.layout.iter().map(|slot| slot.header(block)));
        true
    }
}

impl Slot {
    fn header<'a>(&self, block: &'a [u8]) -> HeaderRef<'a> {
        // SAFETY (both): `block` equals the block this layout was read from,
        // whose names and string values `from_utf8` accepted then.
        let name = unsafe { std::str::from_utf8_unchecked(&block[self.name.clone()]) };
        let bytes = &block[self.value.clone()];
        let value = match self.code {
            type_code::TRUE => HeaderValueRef::Bool(true),
            type_code::FALSE => HeaderValueRef::Bool(false),
            type_code::BYTE => HeaderValueRef::Byte(i8::from_be_bytes(exact::<1>(bytes))),
            type_code::SHORT => HeaderValueRef::Short(i16::from_be_bytes(exact::<2>(bytes))),
            type_code::INT => HeaderValueRef::Int(i32::from_be_bytes(exact::<4>(bytes))),
            type_code::LONG => HeaderValueRef::Long(i64::from_be_bytes(exact::<8>(bytes))),
            type_code::TIMESTAMP => {
                HeaderValueRef::Timestamp(i64::from_be_bytes(exact::<8>(bytes)))
            }
            type_code::UUID => HeaderValueRef::Uuid(exact::<16>(bytes)),
            type_code::STRING => {
                HeaderValueRef::String(unsafe { std::str::from_utf8_unchecked(bytes) })
            }
            _ => HeaderValueRef::Bytes(bytes),
        };
        HeaderRef { name, value }
    }
}

/// A fixed-size value's bytes (the layout gave them their exact length).
fn exact<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("a layout slot of the value's size")
}

/// The bytes of a value on the wire, after its type code and length prefix.
fn value_len(value: &HeaderValueRef<'_>) -> usize {
    match value {
        HeaderValueRef::Bool(_) => 0,
        HeaderValueRef::Byte(_) => 1,
        HeaderValueRef::Short(_) => 2,
        HeaderValueRef::Int(_) => 4,
        HeaderValueRef::Long(_) | HeaderValueRef::Timestamp(_) => 8,
        HeaderValueRef::Uuid(_) => 16,
        HeaderValueRef::Bytes(v) => v.len(),
        HeaderValueRef::String(v) => v.len(),
    }
}

/// Longer blocks are not remembered (comparing them costs more than it saves).
const KNOWN_BLOCK_MAX: usize = 1024;

/// A cursor over the header block that fails cleanly on any overrun.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(invalid(format!("header block ends inside {what}")));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn str(&mut self, n: usize, what: &str) -> Result<&'a str, DecodeError> {
        let bytes = self.take(n, what)?;
        std::str::from_utf8(bytes).map_err(|_| invalid(format!("{what} is not valid UTF-8")))
    }
}

/// Parses a whole header block into `out` (cleared first): every type, name
/// and length is checked, and names must be unique. A block that passes is
/// remembered in `known`.
pub(crate) fn parse_headers<'a>(
    block: &'a [u8],
    out: &mut Vec<HeaderRef<'a>>,
    known: &mut KnownBlock,
) -> Result<(), DecodeError> {
    out.clear();
    if known.read(block, out) {
        return Ok(());
    }
    let mut reader = Reader { data: block };
    let mut dups = DuplicateCheck::new();
    while !reader.data.is_empty() {
        let name_len = reader.u8("a header name length")? as usize;
        if name_len == 0 {
            return Err(invalid("empty header name"));
        }
        let name = reader.str(name_len, "a header name")?;
        let value = parse_value(&mut reader)?;
        if dups.is_repeat(out, name) {
            return Err(invalid(format!("duplicate header {name:?}")));
        }
        out.push(HeaderRef { name, value });
    }
    if !block.is_empty() && block.len() <= KNOWN_BLOCK_MAX {
        known.remember(block, out);
    }
    Ok(())
}

fn parse_value<'a>(reader: &mut Reader<'a>) -> Result<HeaderValueRef<'a>, DecodeError> {
    let code = reader.u8("a header type")?;
    Ok(match code {
        type_code::TRUE => HeaderValueRef::Bool(true),
        type_code::FALSE => HeaderValueRef::Bool(false),
        type_code::BYTE => HeaderValueRef::Byte(i8::from_be_bytes(reader.array("a byte value")?)),
        type_code::SHORT => {
            HeaderValueRef::Short(i16::from_be_bytes(reader.array("a short value")?))
        }
        type_code::INT => HeaderValueRef::Int(i32::from_be_bytes(reader.array("an int value")?)),
        type_code::LONG => HeaderValueRef::Long(i64::from_be_bytes(reader.array("a long value")?)),
        type_code::BYTES => {
            let len = u16::from_be_bytes(reader.array("a byte-array length")?) as usize;
            HeaderValueRef::Bytes(reader.take(len, "a byte-array value")?)
        }
        type_code::STRING => {
            let len = u16::from_be_bytes(reader.array("a string length")?) as usize;
            HeaderValueRef::String(reader.str(len, "a string value")?)
        }
        type_code::TIMESTAMP => {
            HeaderValueRef::Timestamp(i64::from_be_bytes(reader.array("a timestamp value")?))
        }
        type_code::UUID => HeaderValueRef::Uuid(reader.array("a uuid value")?),
        other => return Err(invalid(format!("unknown header value type {other}"))),
    })
}

/// Checks one header for encoding and returns its encoded size.
pub(crate) fn encoded_len(header: &HeaderRef<'_>) -> Result<usize, EncodeError> {
    let name_len = header.name.len();
    if name_len == 0 || name_len > MAX_NAME_LEN {
        return Err(EncodeError::Invalid(format!(
            "header name {:?} must be 1..={MAX_NAME_LEN} bytes, not {name_len}",
            header.name
        )));
    }
    let value_len = match header.value {
        HeaderValueRef::Bytes(v) => 2 + checked_value_len(header.name, v.len())?,
        HeaderValueRef::String(v) => 2 + checked_value_len(header.name, v.len())?,
        ref fixed => value_len(fixed),
    };
    Ok(1 + name_len + 1 + value_len)
}

fn checked_value_len(name: &str, len: usize) -> Result<usize, EncodeError> {
    if len > MAX_VALUE_LEN {
        return Err(EncodeError::Invalid(format!(
            "value of header {name:?} is {len} bytes; the most is {MAX_VALUE_LEN}"
        )));
    }
    Ok(len)
}

/// Appends one header, already checked by `encoded_len`.
pub(crate) fn write_header(out: &mut Vec<u8>, header: &HeaderRef<'_>) {
    out.push(header.name.len() as u8);
    out.extend_from_slice(header.name.as_bytes());
    out.push(header.value.type_code());
    match header.value {
        HeaderValueRef::Bool(_) => {}
        HeaderValueRef::Byte(v) => out.extend_from_slice(&v.to_be_bytes()),
        HeaderValueRef::Short(v) => out.extend_from_slice(&v.to_be_bytes()),
        HeaderValueRef::Int(v) => out.extend_from_slice(&v.to_be_bytes()),
        HeaderValueRef::Long(v) | HeaderValueRef::Timestamp(v) => {
            out.extend_from_slice(&v.to_be_bytes())
        }
        HeaderValueRef::Uuid(v) => out.extend_from_slice(&v),
        HeaderValueRef::Bytes(v) => write_sized(out, v),
        HeaderValueRef::String(v) => write_sized(out, v.as_bytes()),
    }
}

fn write_sized(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
}
