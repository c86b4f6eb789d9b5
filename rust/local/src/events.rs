//! The event-stream messages SageMaker's ResponseStream carries, encoded
//! with sagerun-core's codec and appended to a buffer (several messages
//! may go out in one body chunk).

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

/// Appends a `PayloadPart` event carrying a slice of the model's output.
pub fn payload_part_into(out: &mut Vec<u8>, payload: &[u8]) {
    encode_into(out, &PAYLOAD_PART_HEADERS, payload);
}

/// Appends an in-stream exception ending the stream.
pub fn exception_into(out: &mut Vec<u8>, kind: StreamErrorKind, message: &str, error_code: &str) {
    let (name, payload) = match kind {
        StreamErrorKind::ModelStreamError => (
            event::MODEL_STREAM_ERROR,
            json!({"Message": message, "ErrorCode": error_code}),
        ),
        StreamErrorKind::InternalStreamFailure => {
            (event::INTERNAL_STREAM_FAILURE, json!({"Message": message}))
        }
    };
    encode_into(
        out,
        &[
            string_header(event::EXCEPTION_TYPE, name),
            string_header(event::CONTENT_TYPE, event::EXCEPTION_CONTENT_TYPE),
            string_header(event::MESSAGE_TYPE, event::MESSAGE_TYPE_EXCEPTION),
        ],
        payload.to_string().as_bytes(),
    );
}

/// Breaks a frame's message CRC (its last four bytes), for fault injection.
pub fn corrupt_message_crc(frame: &mut [u8]) {
    if let Some(last) = frame.last_mut() {
        *last ^= 0xFF;
    }
}
