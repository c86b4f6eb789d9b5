//! Frame encoding: everything is checked before the first byte is written,
//! so a failed call leaves the output untouched.

use crc32fast::Hasher;

use super::error::EncodeError;
use super::frame::MIN_FRAME_LEN;
use super::header::{encoded_len, write_header, DuplicateCheck};
use super::types::{Header, HeaderRef, Limits};

pub fn encode_message(headers: &[Header], payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_message_into(&mut out, headers, payload)?;
    Ok(out)
}

/// Appends one encoded frame to `out` (default limits).
pub fn encode_message_into(
    out: &mut Vec<u8>,
    headers: &[Header],
    payload: &[u8],
) -> Result<(), EncodeError> {
    let refs: Vec<HeaderRef<'_>> = headers.iter().map(Header::as_ref).collect();
    encode_message_refs_into(out, &refs, payload, &Limits::default())
}

/// Appends one encoded frame built from borrowed headers, within `limits`.
pub fn encode_message_refs_into(
    out: &mut Vec<u8>,
    headers: &[HeaderRef<'_>],
    payload: &[u8],
    limits: &Limits,
) -> Result<(), EncodeError> {
    let headers_len = checked_headers_len(headers)?;
    if headers_len > limits.max_headers_len {
        return Err(EncodeError::Invalid(format!(
            "headers take {headers_len} bytes; the limit is {}",
            limits.max_headers_len
        )));
    }
    if payload.len() > limits.max_payload_len {
        return Err(EncodeError::Invalid(format!(
            "payload is {} bytes; the limit is {}",
            payload.len(),
            limits.max_payload_len
        )));
    }
    let total = MIN_FRAME_LEN + headers_len + payload.len();
    let total_u32 = u32::try_from(total).map_err(|_| {
        EncodeError::Invalid(format!("a {total}-byte message does not fit a u32 length"))
    })?;

    let start = out.len();
    out.reserve(total);
    out.extend_from_slice(&total_u32.to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let mut hasher = Hasher::new();
    hasher.update(&out[start..]);
    out.extend_from_slice(&hasher.clone().finalize().to_be_bytes());
    let body_start = start + 8;
    for header in headers {
        write_header(out, header);
    }
    out.extend_from_slice(payload);
    hasher.update(&out[body_start..]);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
    debug_assert_eq!(out.len() - start, total);
    Ok(())
}

/// Checks names (1..=255 bytes, unique) and value lengths; returns the
/// size of the header block.
fn checked_headers_len(headers: &[HeaderRef<'_>]) -> Result<usize, EncodeError> {
    let mut dups = DuplicateCheck::new();
    let mut len = 0usize;
    for (i, header) in headers.iter().enumerate() {
        len += encoded_len(header)?;
        if dups.is_repeat(&headers[..i], header.name) {
            return Err(EncodeError::Invalid(format!(
                "duplicate header {:?}",
                header.name
            )));
        }
    }
    Ok(len)
}
