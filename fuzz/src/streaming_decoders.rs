//! The response-stream payload decoders (lines, UTF-8, SSE, tokens) on
//! arbitrary bytes cut at arbitrary points.
//!
//! Input: see `sagerun_fuzz::SplitInput`, with two parameter bytes: a limit
//! and a mode byte. Flags (low nibble of the control byte): bits 0-1 pick
//! the decoder, bit 2 turns the limit on, bit 3 is the decoder's switch
//! (`keep_ends`, `stop_at_done`, `skip_special`).
//!
//! Invariants: no panic; what comes out (items, then the first error,
//! exactly) does not depend on the cuts. Lines and UTF-8 are also checked
//! against independent references: a plain split on `\n`, and the standard
//! library's UTF-8 validation (with Python's error semantics).
use std::cell::RefCell;

use crate::SplitInput;
use sagerun_core::streaming::{
    LineDecoder, SseDecoder, SseEvent, StreamError, TokenDecoder, TokenFormat, Utf8Decoder,
    Utf8Errors,
};

/// Items handed out, the first error, and anything else worth comparing.
#[derive(Debug, PartialEq)]
struct Run<T, S> {
    items: Vec<T>,
    error: Option<StreamError>,
    state: S,
}

/// Feeds `chunks` through `feed` (stopping at the first error), then
/// `finish` if no error came, and reports what came out.
fn drive<T, S>(
    chunks: &[&[u8]],
    mut feed: impl FnMut(&[u8], &mut Vec<T>) -> Result<(), StreamError>,
    finish: impl FnOnce(&mut Vec<T>) -> Result<(), StreamError>,
    state: impl FnOnce() -> S,
) -> Run<T, S> {
    let mut items = Vec::new();
    let mut error = chunks
        .iter()
        .find_map(|chunk| feed(chunk, &mut items).err());
    if error.is_none() {
        error = finish(&mut items).err();
    }
    Run {
        items,
        error,
        state: state(),
    }
}

/// The callback every decoder gets: keep the item.
fn pushed<T>(out: &mut Vec<T>, item: T) -> Result<(), StreamError> {
    out.push(item);
    Ok(())
}

/// Lines by a plain split on `\n` (a `\r` before it is part of the
/// terminator; a last line needs none), stopping at the first too long.
fn reference_lines(stream: &[u8], keep_ends: bool, max: Option<usize>) -> Run<Vec<u8>, ()> {
    let mut items = Vec::new();
    for piece in stream.split_inclusive(|&b| b == b'\n') {
        let content = match piece.strip_suffix(b"\n") {
            Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
            None => piece,
        };
        if let Some(limit) = max.filter(|&limit| content.len() > limit) {
            let error = Some(StreamError::LineTooLong { limit });
            return Run {
                items,
                error,
                state: (),
            };
        }
        items.push(if keep_ends { piece } else { content }.to_vec());
    }
    Run {
        items,
        error: None,
        state: (),
    }
}

fn lines(chunks: &[&[u8]], keep_ends: bool, max: Option<usize>) -> Run<Vec<u8>, ()> {
    let d = RefCell::new(LineDecoder::new(keep_ends, max));
    drive(
        chunks,
        |chunk, out| {
            d.borrow_mut()
                .feed_with(chunk, |line| pushed(out, line.to_vec()))
        },
        |out| d.borrow_mut().finish().map(|last| out.extend(last)),
        || (),
    )
}

fn sse(chunks: &[&[u8]], stop_at_done: bool, max: Option<usize>) -> Run<SseEvent, bool> {
    let d = RefCell::new(SseDecoder::new(stop_at_done, max));
    drive(
        chunks,
        |chunk, out| d.borrow_mut().feed_with(chunk, |event| pushed(out, event)),
        |_| d.borrow_mut().finish(),
        || d.borrow().is_done(),
    )
}

fn tokens(
    chunks: &[&[u8]],
    format: Option<TokenFormat>,
    skip_special: bool,
    max: Option<usize>,
) -> Run<String, (bool, Option<TokenFormat>)> {
    let d = RefCell::new(TokenDecoder::new(format, skip_special, max));
    drive(
        chunks,
        |chunk, out| {
            d.borrow_mut()
                .feed_with(chunk, |text| pushed(out, text.to_owned()))
        },
        |out| {
            d.borrow_mut()
                .finish_with(|text| pushed(out, text.to_owned()))
        },
        || (d.borrow().is_done(), d.borrow().format()),
    )
}

/// Python's reason for an invalid sequence starting with `first`.
fn python_reason(first: u8) -> &'static str {
    if (0xC2..=0xF4).contains(&first) {
        "invalid continuation byte"
    } else {
        "invalid start byte"
    }
}

/// UTF-8 in parts against the whole stream decoded by the standard library.
fn check_utf8(chunks: &[&[u8]], stream: &[u8], errors: Utf8Errors) {
    let mut d = Utf8Decoder::new(errors);
    let mut text = String::new();
    let mut fed = 0; // bytes of the stream fed before the current chunk
    for chunk in chunks {
        let held = d.buffered();
        match d.feed(chunk) {
            Ok(part) => text.push_str(&part),
            Err(e) => {
                assert_eq!(errors, Utf8Errors::Strict, "only strict mode fails");
                let std_err = std::str::from_utf8(stream).expect_err("the stream is valid UTF-8");
                let bad_len = std_err.error_len().expect("an invalid (not cut) sequence");
                assert_eq!(e.input, stream[fed - held..fed + chunk.len()]);
                assert_eq!(
                    fed - held + e.start,
                    std_err.valid_up_to(),
                    "error position"
                );
                assert_eq!(e.end - e.start, bad_len, "error length");
                assert_eq!(e.reason, python_reason(stream[std_err.valid_up_to()]));
                let valid = &stream[..std_err.valid_up_to()];
                assert!(valid.starts_with(text.as_bytes()), "text before the error");
                return;
            }
        }
        fed += chunk.len();
    }
    match d.finish() {
        Ok(tail) => text.push_str(tail),
        Err(e) => {
            assert_eq!(errors, Utf8Errors::Strict, "only strict mode fails");
            let std_err = std::str::from_utf8(stream).expect_err("the stream is valid UTF-8");
            assert_eq!(
                std_err.error_len(),
                None,
                "the stream ends inside a character"
            );
            assert_eq!(e.input, stream[std_err.valid_up_to()..]);
            assert_eq!((e.start, e.end), (0, e.input.len()));
            assert_eq!(e.reason, "unexpected end of data");
            assert_eq!(text.as_bytes(), &stream[..std_err.valid_up_to()]);
            return;
        }
    }
    let expected: String = match errors {
        Utf8Errors::Strict => std::str::from_utf8(stream)
            .expect("strict decoding succeeded")
            .to_owned(),
        Utf8Errors::Replace => String::from_utf8_lossy(stream).into_owned(),
        Utf8Errors::Ignore => stream.utf8_chunks().map(|c| c.valid()).collect(),
    };
    assert_eq!(text, expected);
}

/// The target's check on one input: panics on a broken invariant.
pub fn check(data: &[u8]) {
    let Some(input) = SplitInput::parse(data, 2) else {
        return;
    };
    let (limit, mode) = (input.params[0], input.params[1]);
    let max = (input.flags & 4 != 0).then_some(usize::from(limit));
    let switch = input.flags & 8 != 0;
    let whole: &[&[u8]] = &[input.stream];
    let chunks = input.chunks();
    match input.flags & 3 {
        0 => {
            let reference = reference_lines(input.stream, switch, max);
            assert_eq!(lines(whole, switch, max), reference, "lines, whole");
            assert_eq!(lines(&chunks, switch, max), reference, "lines, split");
        }
        1 => {
            let errors = [Utf8Errors::Strict, Utf8Errors::Replace, Utf8Errors::Ignore]
                [usize::from(mode % 3)];
            check_utf8(whole, input.stream, errors);
            check_utf8(&chunks, input.stream, errors);
        }
        2 => assert_eq!(sse(whole, switch, max), sse(&chunks, switch, max), "sse"),
        _ => {
            let format = [
                None,
                Some(TokenFormat::Tgi),
                Some(TokenFormat::Lmi),
                Some(TokenFormat::OpenAi),
            ][usize::from(mode % 4)];
            assert_eq!(
                tokens(whole, format, switch, max),
                tokens(&chunks, format, switch, max),
                "tokens"
            );
        }
    }
}
