//! The incremental decoder. Whole frames are decoded straight from the fed
//! slice; only the unfinished frame at the end of a chunk is copied into the
//! decoder's buffer (once), so any split costs linear time.

use std::ops::Range;

use bytes::Bytes;

use super::error::{invalid, DecodeError};
use super::frame::{FreshHasher, Prelude, PRELUDE_LEN};
use super::header::{parse_headers, KnownBlock};
use super::types::{HeaderRef, Limits, Message, MessageRef};

/// A buffer grown past this for one large frame is released afterwards.
const KEEP_BUFFER_CAPACITY: usize = 1 << 20;

/// An unfinished frame's buffer is reserved up to this size at once (its
/// declared length, if smaller): a 64 KiB part (plus its headers) then costs
/// one allocation, not a dozen doublings that copy it again each time.
/// Larger frames grow by doubling, so memory follows the bytes that really
/// arrived, not a hostile declared length.
const EAGER_RESERVE: usize = 128 * 1024;

/// Incremental decoder: feed bytes in any split, get complete messages.
///
/// After an error the stream is over: every later call returns an error of
/// the same kind.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// Bytes of the one unfinished frame (empty between frames).
    buf: Vec<u8>,
    /// The unfinished frame's prelude, checked as soon as its 12 bytes arrived.
    pending: Option<Prelude>,
    poisoned: Option<DecodeError>,
    known: KnownBlock,
    /// The headers list's allocation, kept between calls (one chunk often
    /// holds one frame: a new list per call would be an allocation per frame).
    spare: Vec<HeaderRef<'static>>,
    /// Whether the last message `feed_repeats` handed over had the known
    /// header block (so a next message with the same block is a repeat).
    last_known: bool,
    /// Each frame's CRC starts from a clone of this.
    fresh: FreshHasher,
}

/// A message as [`Decoder::feed_repeats`] hands it over.
#[derive(Debug)]
pub enum Delivery<'m> {
    /// Its header block differs from the previous message's: checked and parsed.
    New(MessageRef<'m>),
    /// Its header block is byte-identical to the previous message's (which
    /// was checked then): only the payload is given, the headers are not
    /// parsed again.
    Repeat { payload: &'m [u8] },
}

/// An empty list of another lifetime on the same allocation (std collects
/// a mapped `into_iter` in place; nothing is mapped, the list is empty).
fn recycle<'b>(mut list: Vec<HeaderRef<'_>>) -> Vec<HeaderRef<'b>> {
    list.clear();
    list.into_iter().map(|_| unreachable!("emptied")).collect()
}

/// Where a whole, not yet verified frame sits while the walk hands it out.
enum Whole<'a> {
    /// Completed in the decoder's buffer; the receiver may take the Vec.
    Buffered(&'a mut Vec<u8>),
    /// Entirely inside the fed slice, at this range.
    Input(Range<usize>),
}

/// Why a walk stopped early.
enum Stop<E> {
    Decode(DecodeError),
    Consumer(E),
}

impl<E> From<DecodeError> for Stop<E> {
    fn from(e: DecodeError) -> Self {
        Stop::Decode(e)
    }
}

/// What `Decoder::feed_repeats` knows of the previous message.
struct Repeats<'k> {
    known: &'k mut KnownBlock,
    last_known: &'k mut bool,
}

impl Repeats<'_> {
    /// Checks the frame at `range` of `frame` and hands it over, as a
    /// repeat if the previous message had the same (known) header block.
    fn deliver<'a, E, F>(
        &mut self,
        frame: &'a Bytes,
        range: Range<usize>,
        prelude: Prelude,
        scratch: &mut Vec<HeaderRef<'a>>,
        on_message: &mut F,
    ) -> Result<(), Stop<E>>
    where
        F: FnMut(Delivery<'_>, &Bytes) -> Result<(), E>,
    {
        let (headers, payload) = prelude.check_crc(&frame[range])?;
        if *self.last_known && self.known.holds(headers) {
            return on_message(Delivery::Repeat { payload }, frame).map_err(Stop::Consumer);
        }
        *self.last_known = false;
        parse_headers(headers, scratch, self.known)?;
        *self.last_known = self.known.holds(headers);
        let message = MessageRef {
            headers: scratch,
            raw_headers: headers,
            payload,
        };
        on_message(Delivery::New(message), frame).map_err(Stop::Consumer)
    }
}

/// Where a verified frame's bytes are (see `Decoder::feed_verified`).
#[derive(Debug)]
pub enum FrameBytes {
    /// This range of the slice passed to `feed_verified`.
    Input(Range<usize>),
    /// The whole frame, assembled from earlier chunks (ownership moved out
    /// of the decoder, so it is never copied again).
    Owned(Vec<u8>),
}

/// A frame whose CRCs, lengths and headers have been checked.
#[derive(Debug)]
pub struct VerifiedFrame {
    pub bytes: FrameBytes,
    prelude: Prelude,
}

impl VerifiedFrame {
    /// Borrows the message; `input` must be the slice given to `feed_verified`.
    pub fn with_message<R>(
        &self,
        input: &[u8],
        f: impl FnOnce(MessageRef<'_>) -> R,
    ) -> Result<R, DecodeError> {
        let frame = match &self.bytes {
            FrameBytes::Input(range) => input
                .get(range.clone())
                .ok_or_else(|| invalid("verified frame does not belong to this input"))?,
            FrameBytes::Owned(bytes) => bytes.as_slice(),
        };
        // Already verified, so only the header block needs walking again.
        let mut scratch = Vec::new();
        let start = PRELUDE_LEN;
        let end = start + self.prelude.headers_len;
        let raw_headers = &frame[start..end];
        parse_headers(raw_headers, &mut scratch, &mut KnownBlock::default())?;
        let payload = &frame[end..frame.len() - 4];
        Ok(f(MessageRef {
            headers: &scratch,
            raw_headers,
            payload,
        }))
    }
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            ..Decoder::default()
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes held for an unfinished frame.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// A hint, before feeding `data`, of the size of the next frame: the
    /// pending frame's checked length, or the (unchecked) length declared at
    /// the start of `data`. Lets a caller pick a strategy per chunk.
    pub fn upcoming_frame_len(&self, data: &[u8]) -> Option<usize> {
        if let Some(prelude) = &self.pending {
            return Some(prelude.total_len);
        }
        if !self.buf.is_empty() || data.len() < 4 {
            return None;
        }
        Some(u32::from_be_bytes(data[..4].try_into().expect("4 bytes")) as usize)
    }

    /// Bytes reserved for the buffer (tests check it stays bounded).
    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Decodes every message completed by `data` into owned messages.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Message>, DecodeError> {
        let mut out = Vec::new();
        self.feed_with(data, |m| {
            out.push(m.to_owned_message());
            Ok::<_, DecodeError>(())
        })?;
        Ok(out)
    }

    /// Hands each message completed by `data` to `on_message`, borrowing
    /// from `data` (or from the buffer, for a frame that straddled chunks).
    /// Messages before a bad frame are delivered, then the error returns.
    /// An error from `on_message` ends the stream too.
    pub fn feed_with<E, F>(&mut self, data: &[u8], mut on_message: F) -> Result<(), E>
    where
        E: From<DecodeError>,
        F: FnMut(MessageRef<'_>) -> Result<(), E>,
    {
        // Reused for every frame inside `data`; a frame completed in the
        // buffer (at most one per call) gets its own.
        let mut scratch = Vec::new();
        let mut known = std::mem::take(&mut self.known);
        let result = self.walk(data, |whole, prelude| {
            let message = match whole {
                Whole::Input(range) => prelude.verify(&data[range], &mut scratch, &mut known)?,
                Whole::Buffered(buf) => {
                    let mut own_scratch = Vec::new();
                    let message = prelude.verify(buf, &mut own_scratch, &mut known)?;
                    return on_message(message).map_err(Stop::Consumer);
                }
            };
            on_message(message).map_err(Stop::Consumer)
        });
        self.known = known;
        result
    }

    /// `feed_with` for a caller that keeps payloads as `Bytes` and
    /// remembers what the previous message meant. Each message comes with
    /// the buffer it borrows from, `data` itself or, for a frame that
    /// straddled chunks, the frame assembled from them (moved out of the
    /// decoder), so that `Bytes::slice_ref` shares the payload instead of
    /// copying it. A message whose header block repeats the previous one's
    /// byte for byte (as a stream's messages mostly do) comes as
    /// [`Delivery::Repeat`], its CRC checked but its headers not parsed.
    pub fn feed_repeats<E, F>(&mut self, data: &Bytes, mut on_message: F) -> Result<(), E>
    where
        E: From<DecodeError>,
        F: FnMut(Delivery<'_>, &Bytes) -> Result<(), E>,
    {
        let mut scratch = recycle(std::mem::take(&mut self.spare));
        let mut known = std::mem::take(&mut self.known);
        let mut last_known = self.last_known;
        let result = self.walk(data, |whole, prelude| {
            let mut repeat = Repeats {
                known: &mut known,
                last_known: &mut last_known,
            };
            match whole {
                Whole::Input(range) => {
                    repeat.deliver(data, range, prelude, &mut scratch, &mut on_message)
                }
                Whole::Buffered(buf) => {
                    let frame = Bytes::from(std::mem::take(buf));
                    let range = 0..frame.len();
                    repeat.deliver(&frame, range, prelude, &mut Vec::new(), &mut on_message)
                }
            }
        });
        self.known = known;
        self.spare = recycle(scratch);
        self.last_known = last_known;
        result
    }

    /// Checks every frame completed by `data` (CRCs, lengths, headers)
    /// without building messages, so that the expensive part can run while
    /// the caller holds no locks; `VerifiedFrame::with_message` then borrows
    /// each message. Returns the frames before any error, and the error.
    pub fn feed_verified(&mut self, data: &[u8]) -> (Vec<VerifiedFrame>, Result<(), DecodeError>) {
        let mut frames = Vec::new();
        let mut scratch = Vec::new();
        let mut known = std::mem::take(&mut self.known);
        let result = self.walk(data, |whole, prelude| {
            let bytes = match whole {
                Whole::Input(range) => {
                    prelude.verify(&data[range.clone()], &mut scratch, &mut known)?;
                    FrameBytes::Input(range)
                }
                Whole::Buffered(buf) => {
                    let owned = std::mem::take(buf);
                    prelude.verify(&owned, &mut Vec::new(), &mut known)?;
                    FrameBytes::Owned(owned)
                }
            };
            frames.push(VerifiedFrame { bytes, prelude });
            Ok::<_, Stop<DecodeError>>(())
        });
        self.known = known;
        (frames, result)
    }

    /// End of input: an error if a frame was started and not finished.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        if !self.buf.is_empty() {
            return Err(DecodeError::TruncatedStream {
                buffered: self.buf.len(),
            });
        }
        Ok(())
    }

    /// Runs `on_frame` on every whole frame, poisoning the decoder on any error.
    fn walk<E, F>(&mut self, data: &[u8], mut on_frame: F) -> Result<(), E>
    where
        E: From<DecodeError>,
        F: FnMut(Whole<'_>, Prelude) -> Result<(), Stop<E>>,
    {
        if let Some(err) = &self.poisoned {
            return Err(err.clone().into());
        }
        // Only `feed_repeats` keeps track of the previous message's block
        // (and restores this after its walk): any other feed breaks the chain.
        self.last_known = false;
        match self.walk_frames(data, &mut on_frame) {
            Ok(()) => Ok(()),
            Err(Stop::Decode(e)) => {
                self.poisoned = Some(e.clone());
                Err(e.into())
            }
            Err(Stop::Consumer(e)) => {
                self.poisoned = Some(invalid(
                    "the stream was abandoned after a message could not be delivered",
                ));
                Err(e)
            }
        }
    }

    fn walk_frames<E, F>(&mut self, data: &[u8], on_frame: &mut F) -> Result<(), Stop<E>>
    where
        F: FnMut(Whole<'_>, Prelude) -> Result<(), Stop<E>>,
    {
        let mut pos = 0;
        if !self.buf.is_empty() {
            pos = self.fill_buffer(data)?;
            let Some(prelude) = self.pending.take_if(|p| p.total_len == self.buf.len()) else {
                return Ok(()); // all of `data` went into the unfinished frame
            };
            let result = on_frame(Whole::Buffered(&mut self.buf), prelude);
            self.reset_buffer();
            result?;
        }
        while data.len() - pos >= PRELUDE_LEN {
            let prelude = Prelude::parse(&data[pos..], &self.limits, &self.fresh)?;
            let end = pos + prelude.total_len;
            if end > data.len() {
                self.pending = Some(prelude);
                break;
            }
            on_frame(Whole::Input(pos..end), prelude)?;
            pos = end;
        }
        // Most chunks end where their last frame does: nothing to keep.
        if pos < data.len() {
            self.append(&data[pos..]);
        }
        Ok(())
    }

    /// Moves bytes of `data` into the unfinished frame (checking its prelude
    /// once 12 bytes are in); returns how many bytes were taken.
    fn fill_buffer(&mut self, data: &[u8]) -> Result<usize, DecodeError> {
        let mut taken = 0;
        if self.pending.is_none() {
            taken = (PRELUDE_LEN - self.buf.len()).min(data.len());
            self.append(&data[..taken]);
            if self.buf.len() < PRELUDE_LEN {
                return Ok(taken);
            }
            self.pending = Some(Prelude::parse(&self.buf, &self.limits, &self.fresh)?);
        }
        let total = self.pending.as_ref().map_or(0, |p| p.total_len);
        let more = (total - self.buf.len()).min(data.len() - taken);
        self.append(&data[taken..taken + more]);
        Ok(taken + more)
    }

    /// Appends to the buffer, growing it by doubling but never past the
    /// pending frame's declared (already limit-checked) length.
    fn append(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let cap = self.pending.as_ref().map_or(PRELUDE_LEN, |p| p.total_len);
            let target = needed
                .max((self.buf.capacity() * 2).min(cap))
                .max(cap.min(EAGER_RESERVE));
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    fn reset_buffer(&mut self) {
        if self.buf.capacity() > KEEP_BUFFER_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }
}
