//! Incremental decoders for the payload of a response stream.
//!
//! A SageMaker response stream cuts the model's output into PayloadParts at
//! arbitrary byte positions: a part may hold half a line, several lines, or
//! split a UTF-8 character. Each decoder here takes the parts one by one
//! (`feed`) and hands out only complete items; `finish` flushes or rejects
//! what is left at the end. Memory is bounded by the largest pending item,
//! each byte is looked at a constant number of times (no quadratic
//! re-scanning), and optional limits turn a runaway item into an error.
//!
//! - `lines`: `\n`/`\r\n`-terminated lines ([`LineDecoder`])
//! - `utf8`: incremental UTF-8 with Python's error semantics ([`Utf8Decoder`])
//! - `sse`: Server-Sent Events per the WHATWG parsing rules ([`SseDecoder`])
//! - `tokens`: LLM text deltas from TGI, LMI and OpenAI-style streams
//!   ([`TokenDecoder`])
//!
//! Every decoder has a callback form (`feed_with`/`finish_with`, which hands
//! out borrowed items without collecting them) and a collecting form
//! (`feed`/`finish`) built on it.

mod error;
mod lines;
mod sse;
mod tokens;
mod utf8;

pub use error::StreamError;
pub use lines::LineDecoder;
pub use sse::{SseDecoder, SseEvent, DONE_DATA};
pub use tokens::{TokenDecoder, TokenFormat};
pub use utf8::{Utf8DecodeError, Utf8Decoder, Utf8Errors};

/// A line buffer that grew past this (one long line) is released once the
/// line is out, so one huge line does not pin its memory for the stream.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// Empties a line buffer, keeping its memory only if it is modest.
fn release_line(buffer: &mut Vec<u8>) {
    buffer.clear();
    if buffer.capacity() > RETAINED_CAPACITY {
        *buffer = Vec::new();
    }
}
