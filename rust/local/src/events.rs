//! The event-stream messages SageMaker's ResponseStream carries, encoded
//! with sagerun-core's codec.

use sagerun_core::eventstream::{encode_message_into, Header, HeaderValue};
use sagerun_core::protocol::event;
use serde_json::json;

use crate::config::StreamErrorKind;

fn string_header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_owned(),
        value: HeaderValue::String(value.to_owned()),
    }
}

fn encode(headers: &[Header], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 128);
    // Our own headers are short and fixed and payloads are bounded by the
    // server, so encoding cannot fail; an error here is a bug worth a panic
    // caught by the server task rather than garbage on the wire.
    encode_message_into(&mut out, headers, payload)
        .expect("encoding a well-formed event-stream message");
    out
}

/// `PayloadPart` event carrying a slice of the model's output.
pub fn payload_part(payload: &[u8]) -> Vec<u8> {
    encode(
        &[
            string_header(event::EVENT_TYPE, event::PAYLOAD_PART),
            string_header(event::CONTENT_TYPE, event::PAYLOAD_PART_CONTENT_TYPE),
            string_header(event::MESSAGE_TYPE, event::MESSAGE_TYPE_EVENT),
        ],
        payload,
    )
}

/// An in-stream exception ending the stream.
pub fn exception(kind: StreamErrorKind, message: &str, error_code: &str) -> Vec<u8> {
    let (name, payload) = match kind {
        StreamErrorKind::ModelStreamError => (
            event::MODEL_STREAM_ERROR,
            json!({"Message": message, "ErrorCode": error_code}),
        ),
        StreamErrorKind::InternalStreamFailure => {
            (event::INTERNAL_STREAM_FAILURE, json!({"Message": message}))
        }
    };
    encode(
        &[
            string_header(event::EXCEPTION_TYPE, name),
            string_header(event::CONTENT_TYPE, event::EXCEPTION_CONTENT_TYPE),
            string_header(event::MESSAGE_TYPE, event::MESSAGE_TYPE_EXCEPTION),
        ],
        payload.to_string().as_bytes(),
    )
}

/// Breaks a frame's message CRC (its last four bytes), for fault injection.
pub fn corrupt_message_crc(frame: &mut [u8]) {
    if let Some(last) = frame.last_mut() {
        *last ^= 0xFF;
    }
}
