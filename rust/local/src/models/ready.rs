//! Parts known up front. A `tokens` endpoint with a configured text sends
//! the same parts in every response: they are rendered once, shared (not
//! copied) by every request, and framed as events once per process rather
//! than once per request.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

/// Largest list (payload bytes) whose frames are kept for reuse: the frames
/// double its memory for the life of the endpoint.
const MAX_FRAMED_BYTES: usize = 8 * 1024 * 1024;

/// A list of parts, possibly sent by many responses.
#[derive(Debug)]
pub struct PartList {
    pieces: Box<[Bytes]>,
    /// The parts as event-stream frames, made on first use; only for lists
    /// sent again and again (see [`PartList::reused`]).
    frames: Option<OnceLock<Box<[Bytes]>>>,
}

impl PartList {
    /// The parts of one response.
    pub fn once(pieces: Vec<Bytes>) -> Arc<PartList> {
        Arc::new(PartList {
            pieces: pieces.into(),
            frames: None,
        })
    }

    /// Parts that every response of an endpoint sends: their frames are
    /// kept once made (when the list is not too large to keep twice).
    pub fn reused(pieces: Vec<Bytes>) -> Arc<PartList> {
        let size: usize = pieces.iter().map(Bytes::len).sum();
        Arc::new(PartList {
            pieces: pieces.into(),
            frames: (size <= MAX_FRAMED_BYTES).then(OnceLock::new),
        })
    }

    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }
}

/// One response's way through a [`PartList`].
#[derive(Debug, Clone)]
pub struct ReadyParts {
    list: Arc<PartList>,
    next: usize,
}

impl ReadyParts {
    pub fn new(list: Arc<PartList>) -> ReadyParts {
        ReadyParts { list, next: 0 }
    }

    pub fn one(piece: Bytes) -> ReadyParts {
        ReadyParts::new(PartList::once(vec![piece]))
    }

    /// The parts not sent yet.
    pub fn remaining(&self) -> &[Bytes] {
        &self.list.pieces[self.next..]
    }

    /// The next part as the frame `frame` makes of it. `frame` must depend
    /// on the part alone (a plain `fn`, no captured state): a reused list's
    /// frames are made once, for all its responses, then only handed out.
    pub fn pop_frame(&mut self, frame: fn(&[u8]) -> Bytes) -> Option<Bytes> {
        let list = &*self.list;
        let index = self.next;
        let piece = list.pieces.get(index)?;
        self.next += 1;
        Some(match &list.frames {
            Some(kept) => {
                let frames = kept.get_or_init(|| list.pieces.iter().map(|p| frame(p)).collect());
                frames[index].clone()
            }
            None => frame(piece),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(piece: &[u8]) -> Bytes {
        Bytes::from([b"<", piece, b">"].concat())
    }

    fn drain(mut parts: ReadyParts) -> Vec<Bytes> {
        std::iter::from_fn(|| parts.pop_frame(tagged)).collect()
    }

    #[test]
    fn reused_lists_hand_out_the_same_frames_to_every_response() {
        let list = PartList::reused(vec![Bytes::from("a"), Bytes::from("bc")]);
        let first = drain(ReadyParts::new(list.clone()));
        let second = drain(ReadyParts::new(list.clone()));
        assert_eq!(first, [Bytes::from("<a>"), Bytes::from("<bc>")]);
        assert_eq!(first, second);
        // Made once: both responses got the very same buffers.
        assert_eq!(first[1].as_ptr(), second[1].as_ptr());
    }

    #[test]
    fn one_off_and_oversized_lists_are_framed_per_response() {
        assert!(PartList::once(vec![Bytes::from("a")]).frames.is_none());
        let big = PartList::reused(vec![Bytes::from(vec![0u8; MAX_FRAMED_BYTES + 1])]);
        assert!(big.frames.is_none());
        let mut parts = ReadyParts::one(Bytes::from("x"));
        assert_eq!(parts.remaining(), [Bytes::from("x")]);
        assert_eq!(parts.pop_frame(tagged), Some(Bytes::from("<x>")));
        assert!(parts.remaining().is_empty());
        assert_eq!(parts.pop_frame(tagged), None);
    }
}
