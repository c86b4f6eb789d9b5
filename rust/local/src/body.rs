//! Response bodies: a whole body (Content-Length) or an event stream
//! (chunked, one frame per chunk, sent as each part is produced), either
//! optionally cut after N bytes to simulate a dropped connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::config::{Faults, StreamErrorKind};
use crate::events;
use crate::head_deadline::InFlight;
use crate::models::{Part, Parts};

pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// How long a cut body waits, after its last bytes, before failing: long
/// enough for the server to flush them, so the client sees exactly N bytes.
const CUT_FLUSH_DELAY: Duration = Duration::from_millis(20);

/// Largest piece of a whole body handed to hyper at once. hyper copies what
/// it is handed into its write buffer (one write per flush, see server.rs)
/// and keeps that buffer's capacity for the connection's life: slices keep
/// it near hyper's own flush threshold rather than the largest body served.
const WHOLE_SLICE: usize = 64 * 1024;

pub struct ResponseBody {
    kind: Kind,
    cut: Option<Cut>,
    /// Marks the request answered when hyper drops the body (sent or not).
    _in_flight: Option<InFlight>,
}

enum Kind {
    /// What is left to send, and the declared length.
    Whole {
        rest: Bytes,
        len: u64,
    },
    Events(EventFrames),
}

struct Cut {
    remaining: usize,
    /// Set once the last allowed byte went out: wait, then fail.
    closing: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ResponseBody {
    pub fn whole(data: Bytes) -> ResponseBody {
        let len = data.len() as u64;
        ResponseBody {
            kind: Kind::Whole { rest: data, len },
            cut: None,
            _in_flight: None,
        }
    }

    pub fn events(parts: Parts, faults: &Faults) -> ResponseBody {
        ResponseBody {
            kind: Kind::Events(EventFrames::new(parts, faults)),
            cut: None,
            _in_flight: None,
        }
    }

    /// Cuts the connection after `n` bytes of body (if the body is longer).
    pub fn cut_after(mut self, n: Option<usize>) -> ResponseBody {
        self.cut = n.map(|remaining| Cut {
            remaining,
            closing: None,
        });
        self
    }

    /// Keeps the request counted as in progress until the body is dropped.
    pub fn hold(&mut self, in_flight: InFlight) {
        self._in_flight = Some(in_flight);
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        match &mut self.kind {
            Kind::Whole { rest, .. } => {
                Poll::Ready((!rest.is_empty()).then(|| rest.split_to(rest.len().min(WHOLE_SLICE))))
            }
            Kind::Events(frames) => frames.poll_next(cx),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(Cut {
            closing: Some(sleep),
            ..
        }) = &mut this.cut
        {
            ready!(sleep.as_mut().poll(cx));
            return Poll::Ready(Some(Err(
                "connection cut by the cut_after_bytes fault".into()
            )));
        }
        let Some(mut data) = ready!(this.poll_inner(cx)) else {
            return Poll::Ready(None);
        };
        if let Some(cut) = &mut this.cut {
            if data.len() >= cut.remaining {
                data.truncate(cut.remaining);
                cut.remaining = 0;
                cut.closing = Some(Box::pin(tokio::time::sleep(CUT_FLUSH_DELAY)));
                // Wake again so the timer is polled after these bytes go out.
                cx.waker().wake_by_ref();
            } else {
                cut.remaining -= data.len();
            }
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Whole { rest, .. } => {
                rest.is_empty() && self.cut.as_ref().is_none_or(|c| c.closing.is_none())
            }
            Kind::Events(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            // The declared length stays the full one even when cut, as a
            // connection dropped mid-body would look.
            Kind::Whole { len, .. } => SizeHint::with_exact(*len),
            Kind::Events(_) => SizeHint::default(),
        }
    }
}

/// Turns model parts into event-stream frames, applying the stream faults.
struct EventFrames {
    parts: Parts,
    payload_parts_sent: usize,
    messages_sent: usize,
    done: bool,
    error_after: Option<usize>,
    error_kind: StreamErrorKind,
    error_code: String,
    corrupt_at: Option<usize>,
}

impl EventFrames {
    fn new(parts: Parts, faults: &Faults) -> EventFrames {
        EventFrames {
            parts,
            payload_parts_sent: 0,
            messages_sent: 0,
            done: false,
            error_after: faults.stream_error_after,
            error_kind: faults.stream_error,
            error_code: faults.stream_error_code.clone(),
            corrupt_at: faults.corrupt_crc_at,
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = if self
            .error_after
            .is_some_and(|n| self.payload_parts_sent >= n)
        {
            self.done = true;
            let msg = format!(
                "Model stream error injected after {} parts.",
                self.payload_parts_sent
            );
            events::exception(self.error_kind, &msg, &self.error_code)
        } else {
            let framed = match &mut self.parts {
                // Parts every request shares are framed once, then handed out.
                Parts::Ready(ready) => ready.pop_frame(events::payload_part).map(Framed::Payload),
                Parts::Live(rx) => ready!(rx.poll_recv(cx)).map(|part| match part {
                    Part::Data(data) => Framed::Payload(events::payload_part(&data)),
                    Part::Failure(msg) => Framed::Failure(events::exception(
                        StreamErrorKind::ModelStreamError,
                        &msg,
                        "StreamBroken",
                    )),
                }),
            };
            match framed {
                Some(Framed::Payload(frame)) => {
                    self.payload_parts_sent += 1;
                    frame
                }
                Some(Framed::Failure(frame)) => {
                    self.done = true;
                    frame
                }
                None => {
                    self.done = true;
                    return Poll::Ready(None);
                }
            }
        };
        let frame = if self.corrupt_at == Some(self.messages_sent) {
            events::with_corrupt_message_crc(&frame)
        } else {
            frame
        };
        self.messages_sent += 1;
        Poll::Ready(Some(frame))
    }
}

/// The next part as a frame.
enum Framed {
    Payload(Bytes),
    /// The model's output broke off: an exception ends the stream.
    Failure(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_bodies_go_out_in_bounded_slices() {
        let data = Bytes::from((0..200_000u32).map(|i| i as u8).collect::<Vec<_>>());
        let mut body = ResponseBody::whole(data.clone());
        assert_eq!(body.size_hint().exact(), Some(200_000));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut sent = Vec::new();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut body).poll_frame(&mut cx) {
            let chunk = frame.unwrap().into_data().unwrap();
            assert!(!chunk.is_empty() && chunk.len() <= WHOLE_SLICE);
            sent.extend_from_slice(&chunk);
        }
        assert_eq!(sent, data);
        assert!(body.is_end_stream());
        assert!(ResponseBody::whole(Bytes::new()).is_end_stream());
    }
}
