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
//!
//! Zero-copy additions: `HeaderValueRef`/`HeaderRef`/`MessageRef` borrow from
//! the input; `Decoder::feed_with` hands each message to a closure straight
//! from the fed slice (only an unfinished tail is buffered);
//! `Decoder::feed_repeats` hands a message that repeats the previous one's
//! header block as its payload alone (`Delivery::Repeat`);
//! `Decoder::feed_verified` checks frames without building anything (so a
//! caller can do that part with its own locks released) and
//! `decode_message_with` decodes one frame without copying.
//!
//! Layout of the submodules:
//! - `types`: the owned and borrowed message types and the limits
//! - `error`: decode and encode errors
//! - `header`: the header block (10 value types) in both directions
//! - `frame`: prelude and whole-frame checks (both CRCs, lengths, limits)
//! - `decoder`: the incremental decoder
//! - `encoder`: frame encoding

mod decoder;
mod encoder;
mod error;
mod frame;
mod header;
mod types;

#[cfg(test)]
mod tests;

pub use decoder::{Decoder, Delivery, FrameBytes, VerifiedFrame};
pub use encoder::{encode_message, encode_message_into, encode_message_refs_into};
pub use error::{Checksum, DecodeError, EncodeError};
pub use frame::{decode_message, decode_message_with, MIN_FRAME_LEN, PRELUDE_LEN};
pub use header::type_code;
pub use types::{Header, HeaderRef, HeaderValue, HeaderValueRef, Limits, Message, MessageRef};
