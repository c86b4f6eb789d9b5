//! Reads a ResponseStream body: bytes are fed to the event-stream decoder as
//! they arrive, and each complete frame becomes a [`StreamEvent`] at once.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use sagerun_core::eventstream::{
    DecodeError, Decoder, Delivery, HeaderValueRef, Limits, MessageRef,
};
use sagerun_core::protocol::event;

use crate::error::{ClientError, StreamFault};
use crate::transport::{self, ConnectionTap, ResponseBody};

/// One event of SageMaker's ResponseStream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A slice of the model's output.
    PayloadPart(Bytes),
    /// A modeled in-stream exception (`ModelStreamError`,
    /// `InternalStreamFailure`): its type and JSON payload.
    Exception {
        exception_type: String,
        payload: Bytes,
    },
    /// An unmodeled `error` message.
    Error { code: String, message: String },
}

/// A batch stops growing past this many payload bytes: a producer faster
/// than the reader must not make one batch (all in memory at once, then
/// one Python list) grow without bound (a 1 GiB stream made ~200 MiB
/// batches). Not much smaller: while the caller works through a batch
/// nobody reads the socket, so the sender stalls once per batch.
const MAX_BATCH_BYTES: usize = 8 << 20;

impl StreamEvent {
    /// The bytes it holds (what a batch's size counts).
    fn size(&self) -> usize {
        match self {
            StreamEvent::PayloadPart(b) | StreamEvent::Exception { payload: b, .. } => b.len(),
            StreamEvent::Error { code, message } => code.len() + message.len(),
        }
    }
}

pub struct EventReader {
    url: String,
    body: Option<ResponseBody>,
    /// The connection the body comes on, retired after a corrupt stream.
    connection: ConnectionTap,
    decoder: Decoder,
    ready: VecDeque<StreamEvent>,
    /// The bytes held by `ready`.
    ready_bytes: usize,
    /// An error met while reading; reported after the events decoded
    /// before it.
    failed: Option<ClientError>,
    /// When the call started and when its response head arrived, and the
    /// decode time of each PayloadPart ([`crate::timing::monotonic_seconds`]).
    pub request_sent_at: f64,
    pub first_byte_at: f64,
    part_times: PartTimes,
    /// PayloadParts in `ready` whose time is not in `part_times` yet.
    untimed_parts: usize,
    /// What the last message meant: a message repeating its header block
    /// means the same (see `Decoder::feed_repeats`).
    last_meaning: Meaning,
}

/// What a message means, but for its payload: a frame whose header block
/// repeats the previous one's is the same kind of event.
#[derive(Debug, Default)]
enum Meaning {
    /// An event type this client skips (and before the first message).
    #[default]
    Skipped,
    PayloadPart,
    Exception(String),
    Error {
        code: String,
        message: String,
    },
}

impl Meaning {
    fn of(event: Option<&StreamEvent>) -> Meaning {
        match event {
            None => Meaning::Skipped,
            Some(StreamEvent::PayloadPart(_)) => Meaning::PayloadPart,
            Some(StreamEvent::Exception { exception_type, .. }) => {
                Meaning::Exception(exception_type.clone())
            }
            Some(StreamEvent::Error { code, message }) => Meaning::Error {
                code: code.clone(),
                message: message.clone(),
            },
        }
    }

    /// The event a message from `Decoder::feed_repeats` stands for (its
    /// payload shares `frame`); a new message's meaning is remembered.
    fn event(
        &mut self,
        delivery: Delivery<'_>,
        frame: &Bytes,
    ) -> Result<Option<StreamEvent>, DecodeError> {
        match delivery {
            // The same headers as the last message: the same meaning.
            Delivery::Repeat { payload } => Ok(self.with_payload(|| frame.slice_ref(payload))),
            Delivery::New(message) => {
                let event = classify(&message, |payload| frame.slice_ref(payload))?;
                *self = Meaning::of(event.as_ref());
                Ok(event)
            }
        }
    }

    /// The event of a message with this meaning and `payload`.
    fn with_payload(&self, payload: impl FnOnce() -> Bytes) -> Option<StreamEvent> {
        Some(match self {
            Meaning::Skipped => return None,
            Meaning::PayloadPart => StreamEvent::PayloadPart(payload()),
            Meaning::Exception(exception_type) => StreamEvent::Exception {
                exception_type: exception_type.clone(),
                payload: payload(),
            },
            Meaning::Error { code, message } => StreamEvent::Error {
                code: code.clone(),
                message: message.clone(),
            },
        })
    }
}

/// The decode times of a stream's PayloadParts, in order; shared, so that
/// they outlive the reader (dropped at the end of the stream).
pub type PartTimes = Arc<Mutex<Vec<f64>>>;

impl EventReader {
    pub fn new(url: String, body: ResponseBody, connection: ConnectionTap) -> EventReader {
        EventReader {
            url,
            body: Some(body),
            connection,
            decoder: Decoder::new(Limits::default()),
            ready: VecDeque::new(),
            ready_bytes: 0,
            failed: None,
            // Made when the head has arrived; the caller sets the start.
            first_byte_at: crate::timing::monotonic_seconds(),
            request_sent_at: f64::NAN,
            part_times: PartTimes::default(),
            untimed_parts: 0,
            last_meaning: Meaning::Skipped,
        }
    }

    /// The decode times of the PayloadParts, as they are decoded.
    pub fn part_times(&self) -> PartTimes {
        self.part_times.clone()
    }

    /// Every event decodable so far (waiting for bytes if there is none yet);
    /// empty once the stream has ended cleanly. After an error the stream
    /// is over: the connection is dropped, never reused. Events decoded
    /// before an error come first; the error with the next call.
    pub async fn next_batch(&mut self) -> Result<Vec<StreamEvent>, ClientError> {
        let mut read_at = f64::NAN;
        loop {
            if !self.ready.is_empty() {
                // A burst of events is one batch (one hand-over to the
                // caller), not one batch per event: take every chunk that
                // has already arrived (the body drives its connection, so
                // this reads what the socket holds, without waiting), up to
                // MAX_BATCH_BYTES.
                self.take_arrived_frames();
                if read_at.is_nan() {
                    read_at = crate::timing::monotonic_seconds();
                }
                // One clock reading for the batch: its frames were read
                // together, microseconds apart.
                self.stamp_parts(read_at);
                self.ready_bytes = 0;
                // Its buffer is handed over (in place: the queue was only
                // pushed to since it was made, so it is contiguous).
                return Ok(std::mem::take(&mut self.ready).into());
            }
            if let Some(error) = self.failed.take() {
                return Err(error);
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(Vec::new());
            };
            let next = body.frame().await;
            read_at = crate::timing::monotonic_seconds();
            if let Err(error) = self.handle(next) {
                self.failed = Some(error);
            }
        }
    }

    /// Whether the stream has ended cleanly and every event was handed out:
    /// a reader can tell the caller so with the last batch, sparing it a
    /// read that would only find the end.
    pub fn is_finished(&self) -> bool {
        self.body.is_none() && self.failed.is_none() && self.ready.is_empty()
    }

    /// Records the decode time of the PayloadParts decoded since the last call.
    fn stamp_parts(&mut self, now: f64) {
        if self.untimed_parts > 0 {
            let mut times = self.part_times.lock().unwrap_or_else(|p| p.into_inner());
            let len = times.len() + self.untimed_parts;
            times.resize(len, now);
            self.untimed_parts = 0;
        }
    }

    /// Takes the frames that have already arrived, without waiting, until
    /// the batch holds MAX_BATCH_BYTES.
    fn take_arrived_frames(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        while self.failed.is_none() && self.ready_bytes < MAX_BATCH_BYTES {
            let Some(body) = self.body.as_mut() else {
                return;
            };
            match Pin::new(body).poll_frame(&mut cx) {
                Poll::Pending => return,
                Poll::Ready(next) => {
                    if let Err(error) = self.handle(next) {
                        self.failed = Some(error);
                    }
                }
            }
        }
    }

    /// Feeds one body frame (or its end, or its error) to the decoder.
    fn handle(
        &mut self,
        next: Option<Result<Frame<Bytes>, hyper::Error>>,
    ) -> Result<(), ClientError> {
        match next {
            None => {
                self.body = None;
                self.decoder.finish().map_err(|e| {
                    // The HTTP body ended cleanly inside a frame: the
                    // connection looks reusable to hyper, but it is not.
                    self.connection.retire();
                    ClientError::Stream(StreamFault::Truncated(e))
                })
            }
            Some(Err(e)) => {
                // hyper never reuses a connection whose body failed.
                self.body = None;
                // A connection that breaks mid-stream truncates it;
                // timeouts stay timeouts.
                Err(match transport::classify(&self.url, &e) {
                    ClientError::ConnectionClosed { reason, .. } => {
                        ClientError::Stream(StreamFault::Truncated(DecodeError::InvalidFrame(
                            format!("the connection closed mid-stream: {reason}"),
                        )))
                    }
                    other => other,
                })
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    return Ok(());
                };
                let (ready, ready_bytes) = (&mut self.ready, &mut self.ready_bytes);
                let (untimed_parts, last) = (&mut self.untimed_parts, &mut self.last_meaning);
                // Events before a bad frame are kept; then the stream is over.
                // Payloads share the received chunk (or the frame assembled
                // from several): the one copy after the socket is into Python.
                let fed = self.decoder.feed_repeats(&data, |delivery, frame| {
                    if let Some(event) = last.event(delivery, frame)? {
                        if matches!(event, StreamEvent::PayloadPart(_)) {
                            *untimed_parts += 1;
                        }
                        *ready_bytes += event.size();
                        ready.push_back(event);
                    }
                    Ok::<(), DecodeError>(())
                });
                fed.map_err(|e| {
                    // Dropping the body closes the connection only if its
                    // end has not arrived yet; retiring it covers the case
                    // where it has (and hyper has pooled it already).
                    self.body = None;
                    self.connection.retire();
                    ClientError::Stream(StreamFault::Decode(e))
                })
            }
        }
    }

    /// Stops reading; the connection is closed, not returned to the pool.
    pub fn close(&mut self) {
        self.body = None;
        self.ready.clear();
        self.untimed_parts = 0;
        self.ready_bytes = 0;
        self.failed = None;
    }
}

fn string_header<'m>(message: &MessageRef<'m>, name: &str) -> Option<&'m str> {
    message
        .headers
        .iter()
        .find(|h| h.name == name)
        .and_then(|h| match h.value {
            HeaderValueRef::String(s) => Some(s),
            _ => None,
        })
}

/// What one frame means in a ResponseStream (`None`: an event type this
/// client does not know, skipped like botocore does).
pub fn classify(
    message: &MessageRef<'_>,
    payload: impl FnOnce(&[u8]) -> Bytes,
) -> Result<Option<StreamEvent>, DecodeError> {
    let missing =
        |what: &str| DecodeError::InvalidFrame(format!("event without the {what} header"));
    match string_header(message, event::MESSAGE_TYPE) {
        Some(event::MESSAGE_TYPE_EVENT) => {
            let event_type = string_header(message, event::EVENT_TYPE)
                .ok_or_else(|| missing(event::EVENT_TYPE))?;
            Ok((event_type == event::PAYLOAD_PART)
                .then(|| StreamEvent::PayloadPart(payload(message.payload))))
        }
        Some(event::MESSAGE_TYPE_EXCEPTION) => {
            let exception_type = string_header(message, event::EXCEPTION_TYPE)
                .ok_or_else(|| missing(event::EXCEPTION_TYPE))?
                .to_string();
            Ok(Some(StreamEvent::Exception {
                exception_type,
                payload: payload(message.payload),
            }))
        }
        Some(event::MESSAGE_TYPE_ERROR) => Ok(Some(StreamEvent::Error {
            code: string_header(message, event::ERROR_CODE)
                .unwrap_or_default()
                .to_string(),
            message: string_header(message, event::ERROR_MESSAGE)
                .unwrap_or_default()
                .to_string(),
        })),
        Some(other) => Err(DecodeError::InvalidFrame(format!(
            "unknown :message-type {other:?}"
        ))),
        None => Err(missing(event::MESSAGE_TYPE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagerun_core::eventstream::{Header, HeaderValue, Message};

    fn msg(headers: &[(&str, &str)], payload: &'static [u8]) -> Message {
        Message {
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: n.to_string(),
                    value: HeaderValue::String(v.to_string()),
                })
                .collect(),
            payload: Bytes::from_static(payload),
        }
    }

    fn classify(message: Message) -> Result<Option<StreamEvent>, DecodeError> {
        let headers: Vec<_> = message.headers.iter().map(|h| h.as_ref()).collect();
        let view = MessageRef {
            headers: &headers,
            raw_headers: &[],
            payload: &message.payload,
        };
        super::classify(&view, Bytes::copy_from_slice)
    }

    #[test]
    fn frames_become_events() {
        let part = msg(
            &[(":message-type", "event"), (":event-type", "PayloadPart")],
            b"tok",
        );
        assert_eq!(
            classify(part).unwrap(),
            Some(StreamEvent::PayloadPart(Bytes::from_static(b"tok")))
        );
        let unknown = msg(
            &[(":message-type", "event"), (":event-type", "Future")],
            b"",
        );
        assert_eq!(classify(unknown).unwrap(), None);
        let exc = msg(
            &[
                (":message-type", "exception"),
                (":exception-type", "ModelStreamError"),
            ],
            b"{}",
        );
        assert!(matches!(
            classify(exc).unwrap(),
            Some(StreamEvent::Exception { .. })
        ));
        let err = msg(
            &[
                (":message-type", "error"),
                (":error-code", "X"),
                (":error-message", "m"),
            ],
            b"",
        );
        assert_eq!(
            classify(err).unwrap(),
            Some(StreamEvent::Error {
                code: "X".into(),
                message: "m".into()
            })
        );
        assert!(classify(msg(&[], b"")).is_err());
        assert!(classify(msg(&[(":message-type", "event")], b"")).is_err());
    }

    #[test]
    fn repeated_header_blocks_mean_what_they_meant_the_first_time() {
        // Each kind of message twice (the second a repeat of the first's
        // header block), then a part after each: read through
        // `feed_repeats` as every message classified on its own reads.
        let kinds: [&[(&str, &str)]; 4] = [
            &[(":message-type", "event"), (":event-type", "Future")],
            &[(":message-type", "event"), (":event-type", "PayloadPart")],
            &[
                (":message-type", "exception"),
                (":exception-type", "ModelStreamError"),
            ],
            &[
                (":message-type", "error"),
                (":error-code", "X"),
                (":error-message", "m"),
            ],
        ];
        let part = kinds[1];
        let mut stream = Vec::new();
        let mut n = 0;
        for kind in kinds.iter().flat_map(|k| [*k, *k, part, part]) {
            n += 1;
            let payload = format!("payload {n}");
            let message = msg(kind, b"");
            let frame =
                sagerun_core::eventstream::encode_message(&message.headers, payload.as_bytes())
                    .unwrap();
            stream.extend_from_slice(&frame);
        }
        let stream = Bytes::from(stream);
        let expected: Vec<_> = Decoder::new(Limits::default())
            .feed(&stream)
            .unwrap()
            .into_iter()
            .filter_map(|m| classify(m).unwrap())
            .collect();
        assert_eq!(expected.len(), 14, "the two unknown events are skipped");
        let mut got = Vec::new();
        let mut repeats = 0;
        let mut meaning = Meaning::default();
        Decoder::new(Limits::default())
            .feed_repeats(&stream, |delivery, frame| {
                repeats += matches!(delivery, Delivery::Repeat { .. }) as usize;
                got.extend(meaning.event(delivery, frame)?);
                Ok::<_, DecodeError>(())
            })
            .unwrap();
        assert_eq!(got, expected);
        assert_eq!(
            repeats, 10,
            "the second of each pair, and every part after a part"
        );
    }
}
