//! The event-stream messages SageMaker's ResponseStream carries, encoded
//! with sagerun-core's codec, one message per frame (each goes out as its
//! own HTTP chunk).

use bytes::Bytes;
use sagerun_core::eventstream::{encode_message_refs_into, HeaderRef, HeaderValueRef, Limits};
use sagerun_core::protocol::event;
use serde_json::json;

use crate::config::StreamErrorKind;

fn string_header<'a>(name: &'a str, value: &'a str) -> HeaderRef<'a> {
    HeaderRef {
        name,
        value: HeaderValueRef::String(value),
    }
}

/// The headers of every PayloadPart (borrowed: nothing to allocate per event).
const PAYLOAD_PART_HEADERS: [HeaderRef<'static>; 3] = [
    HeaderRef {
        name: event::EVENT_TYPE,
        value: HeaderValueRef::String(event::PAYLOAD_PART),
    },
    HeaderRef {
        name: event::CONTENT_TYPE,
        value: HeaderValueRef::String(event::PAYLOAD_PART_CONTENT_TYPE),
    },
    HeaderRef {
        name: event::MESSAGE_TYPE,
        value: HeaderValueRef::String(event::MESSAGE_TYPE_EVENT),
    },
];

fn encode_into(out: &mut Vec<u8>, headers: &[HeaderRef<'_>], payload: &[u8]) {
    // Our own headers are short and fixed and payloads are bounded by the
    // server, so encoding cannot fail; an error here is a bug worth a panic
    // caught by the server task rather than garbage on the wire.
    encode_message_refs_into(out, headers, payload, &Limits::default())
        .expect("encoding a well-formed event-stream message");
}

/// A `PayloadPart` event carrying a slice of the model's output.
pub fn payload_part(payload: &[u8]) -> Bytes {
    let mut out = Vec::new();
    encode_into(&mut out, &PAYLOAD_PART_HEADERS, payload);
    Bytes::from(out)
}

/// An in-stream exception ending the stream.
pub fn exception(kind: StreamErrorKind, message: &str, error_code: &str) -> Bytes {
    let (name, payload) = match kind {
        StreamErrorKind::ModelStreamError => (
            event::MODEL_STREAM_ERROR,
            json!({"Message": message, "ErrorCode": error_code}),
        ),
        StreamErrorKind::InternalStreamFailure => {
            (event::INTERNAL_STREAM_FAILURE, json!({"Message": message}))
        }
    };
    let mut out = Vec::new();
    encode_into(
        &mut out,
        &[
            string_header(event::EXCEPTION_TYPE, name),
            string_header(event::CONTENT_TYPE, event::EXCEPTION_CONTENT_TYPE),
            string_header(event::MESSAGE_TYPE, event::MESSAGE_TYPE_EXCEPTION),
        ],
        payload.to_string().as_bytes(),
    );
    Bytes::from(out)
}

/// A copy of a frame with its message CRC (its last four bytes) broken, for
/// fault injection (frames may be shared, so never in place).
pub fn with_corrupt_message_crc(frame: &[u8]) -> Bytes {
    let mut copy = frame.to_vec();
    if let Some(last) = copy.last_mut() {
        *last ^= 0xFF;
    }
    Bytes::from(copy)
}
