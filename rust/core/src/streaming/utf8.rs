//! Incremental UTF-8 decoding with the semantics of Python's
//! `codecs.getincrementaldecoder("utf-8")`: a character split across parts
//! is joined; an invalid sequence is reported (or replaced, or dropped) as
//! soon as it is known to be invalid; a sequence still incomplete at the end
//! is "unexpected end of data". Invalid sequences are measured as maximal
//! subparts (the Unicode recommendation CPython and Rust both follow), so
//! `replace` gives one U+FFFD per maximal subpart, exactly as Python does.

use std::borrow::Cow;

/// What to do with invalid bytes (Python's `errors=` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8Errors {
    Strict,
    Replace,
    Ignore,
}

impl Utf8Errors {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "strict" => Some(Utf8Errors::Strict),
            "replace" => Some(Utf8Errors::Replace),
            "ignore" => Some(Utf8Errors::Ignore),
            _ => None,
        }
    }
}

/// Shaped like Python's `UnicodeDecodeError`: `input` is the bytes the
/// decoder was looking at (held-back bytes of an unfinished character plus
/// the part being fed), `input[start..end]` the offending sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'utf-8' codec can't decode bytes in position {start}-{}: {reason}", end - 1)]
pub struct Utf8DecodeError {
    pub input: Vec<u8>,
    pub start: usize,
    pub end: usize,
    pub reason: &'static str,
}

const INVALID_START: &str = "invalid start byte";
const INVALID_CONTINUATION: &str = "invalid continuation byte";
const UNEXPECTED_END: &str = "unexpected end of data";

#[derive(Debug, Clone)]
pub struct Utf8Decoder {
    /// The first bytes of a character that the next part should complete.
    held: [u8; 4],
    held_len: usize,
    errors: Utf8Errors,
}

impl Utf8Decoder {
    pub fn new(errors: Utf8Errors) -> Self {
        Utf8Decoder {
            held: [0; 4],
            held_len: 0,
            errors,
        }
    }

    /// Bytes held back for a character split across parts (0 to 3).
    pub fn buffered(&self) -> usize {
        self.held_len
    }

    /// Decodes `data`, holding back a trailing unfinished character. Borrows
    /// `data` when nothing needs joining or replacing.
    pub fn feed<'a>(&mut self, data: &'a [u8]) -> Result<Cow<'a, str>, Utf8DecodeError> {
        if self.held_len == 0 {
            match std::str::from_utf8(data) {
                Ok(text) => return Ok(Cow::Borrowed(text)),
                Err(e) if held_at_end(data, &e) => {
                    let (text, tail) = data.split_at(e.valid_up_to());
                    self.hold(tail);
                    // The prefix was just validated; this cannot fail.
                    return Ok(Cow::Borrowed(std::str::from_utf8(text).unwrap_or_default()));
                }
                Err(_) => {}
            }
        }
        let (held, held_len) = (self.held, self.held_len);
        let mut out = String::with_capacity(data.len() + 3);
        let rest = self.complete_held(data, &mut out)?;
        let input = Input {
            held: &held[..held_len],
            data,
        };
        self.decode_into(rest, &mut out, input)?;
        Ok(Cow::Owned(out))
    }

    /// Ends the stream: a character still unfinished is an error (strict),
    /// one U+FFFD (replace) or nothing (ignore).
    pub fn finish(&mut self) -> Result<&'static str, Utf8DecodeError> {
        let held_len = std::mem::take(&mut self.held_len);
        if held_len == 0 {
            return Ok("");
        }
        let held = &self.held[..held_len];
        if is_surrogate_prefix(held) {
            return surrogate_prefix_rejected(held, &[], self.errors);
        }
        match self.errors {
            Utf8Errors::Strict => Err(Utf8DecodeError {
                input: held.to_vec(),
                start: 0,
                end: held_len,
                reason: UNEXPECTED_END,
            }),
            Utf8Errors::Replace => Ok("\u{FFFD}"),
            Utf8Errors::Ignore => Ok(""),
        }
    }

    fn hold(&mut self, tail: &[u8]) {
        // from_utf8 only calls a tail incomplete if it is a prefix of one
        // character, so it is at most 3 bytes.
        self.held[..tail.len()].copy_from_slice(tail);
        self.held_len = tail.len();
    }

    /// Finishes the held character with the first bytes of `data` (pushing
    /// it, or its replacement, to `out`); returns the rest of `data`.
    fn complete_held<'a>(
        &mut self,
        data: &'a [u8],
        out: &mut String,
    ) -> Result<&'a [u8], Utf8DecodeError> {
        if self.held_len == 0 {
            return Ok(data);
        }
        let held_len = self.held_len;
        if is_surrogate_prefix(&self.held[..held_len]) {
            // Not a prefix of any character: both held bytes are bad, and
            // `data` starts afresh.
            self.held_len = 0;
            out.push_str(surrogate_prefix_rejected(
                &self.held[..held_len],
                data,
                self.errors,
            )?);
            return Ok(data);
        }
        let take = data.len().min(4 - held_len);
        let mut joined = self.held;
        joined[held_len..held_len + take].copy_from_slice(&data[..take]);
        let joined = &joined[..held_len + take];
        let bad_len = match std::str::from_utf8(joined) {
            Ok(text) => {
                out.push_str(text);
                self.held_len = 0;
                return Ok(&data[take..]);
            }
            Err(e) if e.valid_up_to() > 0 => {
                // The character is complete and more bytes follow it.
                let used = e.valid_up_to();
                out.push_str(std::str::from_utf8(&joined[..used]).unwrap_or_default());
                self.held_len = 0;
                return Ok(&data[used - held_len..]);
            }
            Err(e) if take == data.len() && held_at_end(joined, &e) => {
                // Still unfinished: all of `data` joins the held bytes.
                self.hold(joined);
                return Ok(&[]);
            }
            Err(e) => e.error_len().unwrap_or(joined.len()),
        };
        // The held bytes are a valid prefix, so the bad subpart starts with
        // them (and may take a few bytes of `data` too).
        self.held_len = 0;
        match self.errors {
            Utf8Errors::Strict => Err(Utf8DecodeError {
                input: [&self.held[..held_len], data].concat(),
                start: 0,
                end: bad_len,
                reason: INVALID_CONTINUATION,
            }),
            Utf8Errors::Replace => {
                out.push('\u{FFFD}');
                Ok(&data[bad_len - held_len..])
            }
            Utf8Errors::Ignore => Ok(&data[bad_len - held_len..]),
        }
    }

    /// Decodes `bytes` (a suffix of `input.data`) into `out`, applying the
    /// error policy.
    fn decode_into(
        &mut self,
        mut bytes: &[u8],
        out: &mut String,
        input: Input<'_>,
    ) -> Result<(), Utf8DecodeError> {
        // Where `bytes` starts in held + data, as a strict error reports it.
        let mut consumed = input.held.len() + input.data.len() - bytes.len();
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    return Ok(());
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&bytes[..good]).unwrap_or_default());
                    if held_at_end(bytes, &e) {
                        self.hold(&bytes[good..]);
                        return Ok(());
                    }
                    let bad = e.error_len().unwrap_or(bytes.len() - good);
                    match self.errors {
                        Utf8Errors::Strict => {
                            let start = consumed + good;
                            return Err(Utf8DecodeError {
                                input: [input.held, input.data].concat(),
                                start,
                                end: start + bad,
                                reason: if is_start_byte(bytes[good]) {
                                    INVALID_CONTINUATION
                                } else {
                                    INVALID_START
                                },
                            });
                        }
                        Utf8Errors::Replace => out.push('\u{FFFD}'),
                        Utf8Errors::Ignore => {}
                    }
                    consumed += good + bad;
                    bytes = &bytes[good + bad..];
                }
            }
        }
    }
}

/// What one `feed` looked at: the bytes held back from before, then the part.
#[derive(Clone, Copy)]
struct Input<'a> {
    held: &'a [u8],
    data: &'a [u8],
}

/// Whether the bytes after `error.valid_up_to()` are held for the next part
/// rather than reported now: an unfinished character, or (CPython's
/// incremental decoder does this, and we answer as it does) a surrogate
/// prefix `ED A0..BF` at the very end, which CPython only rejects once a
/// third byte or the end of the stream arrives.
fn held_at_end(bytes: &[u8], error: &std::str::Utf8Error) -> bool {
    error.error_len().is_none() || is_surrogate_prefix(&bytes[error.valid_up_to()..])
}

/// `ED` then `A0..BF`: the start of an (invalid) encoded UTF-16 surrogate.
fn is_surrogate_prefix(tail: &[u8]) -> bool {
    matches!(tail, [0xED, 0xA0..=0xBF])
}

/// A held surrogate prefix, once more bytes or the end arrive: `ED` is an
/// invalid continuation, then the second byte an invalid start (CPython:
/// one error, or two U+FFFD).
fn surrogate_prefix_rejected(
    held: &[u8],
    data: &[u8],
    errors: Utf8Errors,
) -> Result<&'static str, Utf8DecodeError> {
    match errors {
        Utf8Errors::Strict => Err(Utf8DecodeError {
            input: [held, data].concat(),
            start: 0,
            end: 1,
            reason: INVALID_CONTINUATION,
        }),
        Utf8Errors::Replace => Ok("\u{FFFD}\u{FFFD}"),
        Utf8Errors::Ignore => Ok(""),
    }
}

/// Bytes that may begin a multi-byte character (C2-F4); ASCII never fails.
fn is_start_byte(b: u8) -> bool {
    (0xC2..=0xF4).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_parts(parts: &[&[u8]], errors: Utf8Errors) -> Result<String, Utf8DecodeError> {
        let mut d = Utf8Decoder::new(errors);
        let mut out = String::new();
        for p in parts {
            out.push_str(&d.feed(p)?);
        }
        out.push_str(d.finish()?);
        Ok(out)
    }

    #[test]
    fn characters_split_at_every_byte_are_joined() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_parts(&singles, Utf8Errors::Strict).unwrap(), text);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(decode_parts(&[a, b], Utf8Errors::Strict).unwrap(), text);
        }
    }

    #[test]
    fn borrows_when_nothing_is_joined() {
        let mut d = Utf8Decoder::new(Utf8Errors::Strict);
        assert!(matches!(
            d.feed("abc".as_bytes()).unwrap(),
            Cow::Borrowed("abc")
        ));
    }

    #[test]
    fn truncated_at_end() {
        let err = decode_parts(&[b"ok\xe2\x82"], Utf8Errors::Strict).unwrap_err();
        assert_eq!(
            (err.input.as_slice(), err.start, err.end, err.reason),
            (&b"\xe2\x82"[..], 0, 2, UNEXPECTED_END)
        );
        assert_eq!(
            decode_parts(&[b"ok\xe2\x82"], Utf8Errors::Replace).unwrap(),
            "ok\u{FFFD}"
        );
        assert_eq!(
            decode_parts(&[b"ok\xe2\x82"], Utf8Errors::Ignore).unwrap(),
            "ok"
        );
    }

    #[test]
    fn invalid_bytes_report_position_in_held_plus_part() {
        let mut d = Utf8Decoder::new(Utf8Errors::Strict);
        assert_eq!(d.feed(b"a\xe2").unwrap(), "a");
        let err = d.feed(b"\x82x").unwrap_err();
        assert_eq!(
            (err.input.as_slice(), err.start, err.end, err.reason),
            (&b"\xe2\x82x"[..], 0, 2, INVALID_CONTINUATION)
        );
        let err = decode_parts(&[b"ab\xffc"], Utf8Errors::Strict).unwrap_err();
        assert_eq!((err.start, err.end, err.reason), (2, 3, INVALID_START));
        assert_eq!(
            decode_parts(&[b"a\xf0\x80b"], Utf8Errors::Replace).unwrap(),
            "a\u{FFFD}\u{FFFD}b"
        );
    }
}
