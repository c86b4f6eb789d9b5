//! One frame: the 12-byte prelude (checked on its own, as soon as it is
//! in), then the whole frame (message CRC, then headers).

use crc32fast::Hasher;

use super::error::{invalid, Checksum, DecodeError};
use super::header::{parse_headers, KnownBlock};
use super::types::{HeaderRef, Limits, Message, MessageRef};

/// total length + headers length + prelude CRC.
pub const PRELUDE_LEN: usize = 12;
/// A frame with no headers and no payload: prelude + message CRC.
pub const MIN_FRAME_LEN: usize = PRELUDE_LEN + 4;

/// A prelude whose CRC, lengths and limits have been checked.
#[derive(Clone)]
pub(crate) struct Prelude {
    pub(crate) total_len: usize,
    pub(crate) headers_len: usize,
    /// CRC state after bytes 0..8; the message CRC continues from here.
    hasher: Hasher,
}

impl std::fmt::Debug for Prelude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prelude")
            .field("total_len", &self.total_len)
            .field("headers_len", &self.headers_len)
            .finish_non_exhaustive()
    }
}

/// A CRC-32 hasher that has hashed nothing yet.
#[derive(Clone, Default)]
pub(crate) struct FreshHasher(Hasher);

impl std::fmt::Debug for FreshHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreshHasher")
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"))
}

impl Prelude {
    /// Checks the first 12 bytes of a frame (`bytes` may hold more);
    /// `fresh` is a new hasher to start from (cloning one skips the CPU
    /// feature check that `Hasher::new` makes each time).
    pub(crate) fn parse(
        bytes: &[u8],
        limits: &Limits,
        fresh: &FreshHasher,
    ) -> Result<Prelude, DecodeError> {
        let total = be_u32(&bytes[0..4]) as usize;
        let headers_len = be_u32(&bytes[4..8]) as usize;
        let expected = be_u32(&bytes[8..12]);
        let mut hasher = fresh.0.clone();
        hasher.update(&bytes[..8]);
        let computed = hasher.clone().finalize();
        if computed != expected {
            return Err(DecodeError::ChecksumMismatch {
                which: Checksum::Prelude,
                expected,
                computed,
            });
        }
        if total < MIN_FRAME_LEN {
            return Err(invalid(format!(
                "total length {total} is below the minimum of {MIN_FRAME_LEN}"
            )));
        }
        if headers_len > total - MIN_FRAME_LEN {
            return Err(invalid(format!(
                "headers length {headers_len} does not fit in a {total}-byte message"
            )));
        }
        if headers_len > limits.max_headers_len {
            return Err(invalid(format!(
                "headers length {headers_len} exceeds the limit of {}",
                limits.max_headers_len
            )));
        }
        let payload_len = total - MIN_FRAME_LEN - headers_len;
        if payload_len > limits.max_payload_len {
            return Err(invalid(format!(
                "payload length {payload_len} exceeds the limit of {}",
                limits.max_payload_len
            )));
        }
        Ok(Prelude {
            total_len: total,
            headers_len,
            hasher,
        })
    }

    /// Checks the message CRC of a complete frame (`frame.len() == total_len`),
    /// then parses its headers into `scratch`.
    pub(crate) fn verify<'a: 's, 's>(
        &self,
        frame: &'a [u8],
        scratch: &'s mut Vec<HeaderRef<'a>>,
        known: &mut KnownBlock,
    ) -> Result<MessageRef<'s>, DecodeError> {
        let (headers, payload) = self.check_crc(frame)?;
        parse_headers(headers, scratch, known)?;
        Ok(MessageRef {
            headers: scratch,
            raw_headers: headers,
            payload,
        })
    }

    /// Checks the message CRC and splits the frame into header block and payload.
    pub(crate) fn check_crc<'a>(
        &self,
        frame: &'a [u8],
    ) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
        debug_assert_eq!(frame.len(), self.total_len);
        let crc_at = self.total_len - 4;
        let mut hasher = self.hasher.clone();
        hasher.update(&frame[8..crc_at]);
        let computed = hasher.finalize();
        let expected = be_u32(&frame[crc_at..]);
        if computed != expected {
            return Err(DecodeError::ChecksumMismatch {
                which: Checksum::Message,
                expected,
                computed,
            });
        }
        let headers_end = PRELUDE_LEN + self.headers_len;
        Ok((
            &frame[PRELUDE_LEN..headers_end],
            &frame[headers_end..crc_at],
        ))
    }
}

/// Decodes exactly one frame without copying and hands it to `f`.
/// Short input is `TruncatedStream`; bytes after the frame are `InvalidFrame`.
pub fn decode_message_with<R>(
    data: &[u8],
    limits: &Limits,
    f: impl FnOnce(MessageRef<'_>) -> R,
) -> Result<R, DecodeError> {
    if data.len() < PRELUDE_LEN {
        return Err(DecodeError::TruncatedStream {
            buffered: data.len(),
        });
    }
    let prelude = Prelude::parse(data, limits, &FreshHasher::default())?;
    if data.len() < prelude.total_len {
        return Err(DecodeError::TruncatedStream {
            buffered: data.len(),
        });
    }
    let mut scratch = Vec::new();
    let message = prelude.verify(
        &data[..prelude.total_len],
        &mut scratch,
        &mut KnownBlock::default(),
    )?;
    if data.len() > prelude.total_len {
        return Err(invalid(format!(
            "{} bytes follow the {}-byte message",
            data.len() - prelude.total_len,
            prelude.total_len
        )));
    }
    Ok(f(message))
}

/// Decodes exactly one frame (trailing bytes are an error).
pub fn decode_message(data: &[u8]) -> Result<Message, DecodeError> {
    decode_message_with(data, &Limits::default(), |m| m.to_owned_message())
}
