//! Reads a ResponseStream body: bytes are fed to the event-stream decoder as
//! they arrive, and each complete frame becomes a [`StreamEvent`] at once.

use std::collections::VecDeque;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sagerun_core::eventstream::{Decoder, DecodeError, HeaderValue, Limits, Message};
use sagerun_core::protocol::event;

use crate::error::{ClientError, StreamFault};
use crate::transport;

/// One event of SageMaker's ResponseStream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A slice of the model's output.
    PayloadPart(Bytes),
    /// A modeled in-stream exception (`ModelStreamError`,
    /// `InternalStreamFailure`): its type and JSON payload.
    Exception { exception_type: String, payload: Bytes },
    /// An unmodeled `error` message.
    Error { code: String, message: String },
}

pub struct EventReader {
    url: String,
    body: Option<Incoming>,
    decoder: Decoder,
    ready: VecDeque<StreamEvent>,
}

impl EventReader {
    pub fn new(url: String, body: Incoming) -> EventReader {
        EventReader { url, body: Some(body), decoder: Decoder::new(Limits::default()), ready: VecDeque::new() }
    }

    /// Every event decodable so far (waiting for bytes if there is none yet);
    /// empty once the stream has ended cleanly. After an error the stream
    /// is over: the connection is dropped, never reused.
    pub async fn next_batch(&mut self) -> Result<Vec<StreamEvent>, ClientError> {
        loop {
            if !self.ready.is_empty() {
                return Ok(self.ready.drain(..).collect());
            }
            let Some(body) = self.body.as_mut() else { return Ok(Vec::new()) };
            match body.frame().await {
                None => {
                    self.body = None;
                    self.decoder
                        .finish()
                        .map_err(|e| ClientError::Stream(StreamFault::Truncated(e)))?;
                    return Ok(Vec::new());
                }
                Some(Err(e)) => {
                    self.body = None;
                    // A connection that breaks mid-stream truncates it;
                    // timeouts stay timeouts.
                    return Err(match transport::classify(&self.url, &e) {
                        ClientError::ConnectionClosed { reason, .. } => ClientError::Stream(
                            StreamFault::Truncated(DecodeError::InvalidFrame(format!(
                                "the connection closed mid-stream: {reason}"
                            ))),
                        ),
                        other => other,
                    });
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else { continue };
                    let messages = self.decoder.feed(&data).map_err(|e| {
                        self.body = None;
                        ClientError::Stream(StreamFault::Decode(e))
                    })?;
                    for message in messages {
                        match classify(message) {
                            Ok(Some(ev)) => self.ready.push_back(ev),
                            Ok(None) => {}
                            Err(e) => {
                                self.body = None;
                                return Err(ClientError::Stream(StreamFault::Decode(e)));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stops reading; the connection is closed, not returned to the pool.
    pub fn close(&mut self) {
        self.body = None;
        self.ready.clear();
    }
}

fn string_header<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message.headers.iter().find(|h| h.name == name).and_then(|h| match &h.value {
        HeaderValue::String(s) => Some(s.as_str()),
        _ => None,
    })
}

/// What one frame means in a ResponseStream (`None`: an event type this
/// client does not know, skipped like botocore does).
pub fn classify(message: Message) -> Result<Option<StreamEvent>, DecodeError> {
    let missing = |what: &str| DecodeError::InvalidFrame(format!("event without the {what} header"));
    match string_header(&message, event::MESSAGE_TYPE) {
        Some(event::MESSAGE_TYPE_EVENT) => {
            let event_type = string_header(&message, event::EVENT_TYPE).ok_or_else(|| missing(event::EVENT_TYPE))?;
            Ok((event_type == event::PAYLOAD_PART).then(|| StreamEvent::PayloadPart(message.payload)))
        }
        Some(event::MESSAGE_TYPE_EXCEPTION) => {
            let exception_type = string_header(&message, event::EXCEPTION_TYPE)
                .ok_or_else(|| missing(event::EXCEPTION_TYPE))?
                .to_string();
            Ok(Some(StreamEvent::Exception { exception_type, payload: message.payload }))
        }
        Some(event::MESSAGE_TYPE_ERROR) => Ok(Some(StreamEvent::Error {
            code: string_header(&message, event::ERROR_CODE).unwrap_or_default().to_string(),
            message: string_header(&message, event::ERROR_MESSAGE).unwrap_or_default().to_string(),
        })),
        Some(other) => Err(DecodeError::InvalidFrame(format!("unknown :message-type {other:?}"))),
        None => Err(missing(event::MESSAGE_TYPE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagerun_core::eventstream::Header;

    fn msg(headers: &[(&str, &str)], payload: &'static [u8]) -> Message {
        Message {
            headers: headers
                .iter()
                .map(|(n, v)| Header { name: n.to_string(), value: HeaderValue::String(v.to_string()) })
                .collect(),
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn frames_become_events() {
        let part = msg(&[(":message-type", "event"), (":event-type", "PayloadPart")], b"tok");
        assert_eq!(classify(part).unwrap(), Some(StreamEvent::PayloadPart(Bytes::from_static(b"tok"))));
        let unknown = msg(&[(":message-type", "event"), (":event-type", "Future")], b"");
        assert_eq!(classify(unknown).unwrap(), None);
        let exc = msg(&[(":message-type", "exception"), (":exception-type", "ModelStreamError")], b"{}");
        assert!(matches!(classify(exc).unwrap(), Some(StreamEvent::Exception { .. })));
        let err = msg(&[(":message-type", "error"), (":error-code", "X"), (":error-message", "m")], b"");
        assert_eq!(
            classify(err).unwrap(),
            Some(StreamEvent::Error { code: "X".into(), message: "m".into() })
        );
        assert!(classify(msg(&[], b"")).is_err());
        assert!(classify(msg(&[(":message-type", "event")], b"")).is_err());
    }
}
