//! The event-stream decoder on arbitrary bytes cut at arbitrary points.
//!
//! Input: see `sagerun_fuzz::SplitInput`, with two parameter bytes (the
//! tight limits). Flags (low nibble of the control byte):
//! - bit 0: tight `Limits` from the parameter bytes instead of the defaults;
//! - bit 1: odd chunks go through `feed` (owned), even ones `feed_with`;
//! - bit 2: also decode the chunks with `feed_verified` + `with_message`.
//!
//! Invariants: no panic; the messages (and the error, exactly) are the same
//! whatever the cuts, as when the stream is fed at once; after an error
//! every call repeats it; `finish` agrees; the decoded messages re-encode to
//! exactly the bytes they came from (the encoding is canonical), and each
//! such frame decodes alone to the same message.
use crate::SplitInput;
use sagerun_core::eventstream::{
    decode_message, decode_message_with, encode_message, DecodeError, Decoder, Limits, Message,
};

/// What one way of feeding the stream produced.
#[derive(Debug)]
struct Outcome {
    messages: Vec<Message>,
    error: Option<DecodeError>,
    /// `feed` returned an error, so the messages of that chunk were dropped.
    lost_some: bool,
    finish: Result<(), DecodeError>,
}

fn limits_from(input: &SplitInput<'_>) -> Limits {
    if input.flags & 1 == 0 {
        return Limits::default();
    }
    Limits {
        max_headers_len: usize::from(input.params[0]) * 4,
        max_payload_len: usize::from(input.params[1]) * 16,
    }
}

/// Feeds the whole stream at once with `feed_with` (the reference).
fn all_at_once(limits: Limits, stream: &[u8]) -> Outcome {
    feed_chunks(limits, &[stream], false)
}

/// Feeds `chunks` in turn; `owned_on_odd` sends odd chunks through `feed`.
fn feed_chunks(limits: Limits, chunks: &[&[u8]], owned_on_odd: bool) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut messages = Vec::new();
    let mut lost_some = false;
    let mut error = None;
    for (i, chunk) in chunks.iter().enumerate() {
        let result = if owned_on_odd && i % 2 == 1 {
            decoder
                .feed(chunk)
                .map(|m| messages.extend(m))
                .inspect_err(|_| {
                    lost_some = true;
                })
        } else {
            decoder.feed_with(chunk, |m| {
                messages.push(m.to_owned_message());
                Ok::<_, DecodeError>(())
            })
        };
        if let Err(e) = result {
            error = Some(e);
            break;
        }
    }
    let finish = decoder.finish();
    if let Some(e) = &error {
        // A stream that failed stays failed, with the same error.
        assert_eq!(finish.as_ref(), Err(e), "finish after an error");
        assert_eq!(decoder.feed(b"").as_ref(), Err(e), "feed after an error");
    }
    Outcome {
        messages,
        error,
        lost_some,
        finish,
    }
}

/// The same through `feed_verified`, then `with_message` per frame.
fn feed_verified(limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut messages = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let (frames, result) = decoder.feed_verified(chunk);
        for frame in &frames {
            let message = frame
                .with_message(chunk, |m| m.to_owned_message())
                .expect("a verified frame yields its message");
            messages.push(message);
        }
        if let Err(e) = result {
            error = Some(e);
            break;
        }
    }
    Outcome {
        messages,
        error,
        lost_some: false,
        finish: decoder.finish(),
    }
}

fn assert_same(reference: &Outcome, other: &Outcome, what: &str) {
    assert_eq!(reference.error, other.error, "{what}: error differs");
    if other.lost_some {
        assert!(
            reference.messages.starts_with(&other.messages),
            "{what}: messages are not a prefix of the reference"
        );
    } else {
        assert_eq!(
            reference.messages, other.messages,
            "{what}: messages differ"
        );
    }
    assert_eq!(reference.finish, other.finish, "{what}: finish differs");
}

/// Every decoded message re-encodes to the very bytes it was decoded from.
fn assert_reencodes(limits: Limits, stream: &[u8], reference: &Outcome) {
    let mut offset = 0;
    for message in &reference.messages {
        let frame = encode_message(&message.headers, &message.payload)
            .expect("a decoded message must encode");
        assert_eq!(
            &stream[offset..offset + frame.len()],
            frame.as_slice(),
            "re-encoding differs from the original frame at offset {offset}"
        );
        assert_eq!(decode_message(&frame).as_ref(), Ok(message));
        let alone = decode_message_with(&frame, &limits, |m| m.to_owned_message());
        assert_eq!(alone.as_ref(), Ok(message));
        offset += frame.len();
    }
    match (&reference.error, &reference.finish) {
        (None, Ok(())) => assert_eq!(offset, stream.len(), "bytes left undecoded"),
        (None, Err(DecodeError::TruncatedStream { buffered })) => {
            assert_eq!(offset + buffered, stream.len(), "unfinished frame size")
        }
        (None, Err(e)) => panic!("finish without an error gave {e:?}"),
        (Some(DecodeError::TruncatedStream { .. }), _) => {
            panic!("feeding reported a truncated stream")
        }
        (Some(_), _) => {}
    }
}

/// The target's check on one input: panics on a broken invariant.
pub fn check(data: &[u8]) {
    let Some(input) = SplitInput::parse(data, 2) else {
        return;
    };
    let limits = limits_from(&input);
    let reference = all_at_once(limits, input.stream);
    assert_reencodes(limits, input.stream, &reference);

    let chunks = input.chunks();
    let split = feed_chunks(limits, &chunks, input.flags & 2 != 0);
    assert_same(&reference, &split, "split feed");
    if input.flags & 4 != 0 {
        assert_same(&reference, &feed_verified(limits, &chunks), "feed_verified");
    }
}
