//! The head of the last request signed on this thread: what signing it
//! took besides its body (the checked, lower-cased, sorted and trimmed
//! headers written out canonically, the Authorization draft). A client
//! calling one endpoint sends the same method, target and headers again
//! and again, its body aside: within one second (the X-Amz-Date is part of
//! the head) the next request then reuses the head instead of redoing it.
//! The head is a function of the request's pieces alone (the key below),
//! so a reused head is the one the request would have got anew.

use std::cell::RefCell;

use super::authorization::Draft;
use super::sha256::{Sha256, State};
use super::SigningError;

const BLOCK: usize = 64;

/// A request's canonical text and Authorization draft, short of the payload.
pub(crate) struct Head {
    /// The canonical request up to (not including) its payload-hash line.
    pub canonical: Vec<u8>,
    /// The SHA-256 state after `canonical`'s whole blocks.
    pub canonical_state: State,
    /// The request's X-Amz-Content-SHA256 value: it stands for the payload hash.
    pub declared_payload: Option<String>,
    pub authorization: Draft,
    pub add_date: bool,
    pub add_token: bool,
}
// No Debug on purpose: the canonical text may carry a session token.

impl Head {
    /// SHA-256 of the canonical request: this head, then `payload_line`.
    pub(crate) fn canonical_hash(&self, payload_line: &[u8]) -> [u8; 32] {
        let mut hash = Sha256::resume(self.canonical_state);
        hash.update(self.canonical.as_chunks::<BLOCK>().1);
        hash.update(payload_line);
        hash.finish()
    }
}

/// Heads from larger requests are not kept (no ordinary request comes
/// close; it bounds what a thread keeps).
const MAX_REMEMBERED: usize = 4096;

/// What a head is made of: pieces of its own, then each header's name and
/// value.
#[derive(Clone, Copy)]
pub(crate) struct Pieces<'a> {
    pub own: &'a [&'a str],
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Pieces<'a> {
    fn iter(self) -> impl Iterator<Item = &'a str> {
        let headers = self.headers.iter().flat_map(|&(name, value)| [name, value]);
        self.own.iter().copied().chain(headers)
    }
}

/// The pieces a head was made from, compared one by one (lengths included,
/// so no two different sequences of pieces compare equal).
#[derive(Default)]
struct Key {
    text: Vec<u8>,
    /// `text[ends[i - 1]..ends[i]]` is the i-th piece.
    ends: Vec<usize>,
}

impl Key {
    fn matches(&self, pieces: Pieces<'_>) -> bool {
        if self.ends.len() != pieces.own.len() + 2 * pieces.headers.len() {
            return false;
        }
        let (own_ends, header_ends) = self.ends.split_at(pieces.own.len());
        let mut start = 0;
        let mut next_is = |piece: &str, end: usize| {
            let same = piece.as_bytes() == &self.text[start..end];
            start = end;
            same
        };
        // (Plain loops over the two parts: this runs on every signing.)
        pieces
            .own
            .iter()
            .zip(own_ends)
            .all(|(piece, &end)| next_is(piece, end))
            && pieces
                .headers
                .iter()
                .zip(header_ends.chunks_exact(2))
                .all(|(&(name, value), ends)| next_is(name, ends[0]) && next_is(value, ends[1]))
    }

    fn set(&mut self, pieces: Pieces<'_>) {
        self.text.clear();
        self.ends.clear();
        for piece in pieces.iter() {
            self.text.extend_from_slice(piece.as_bytes());
            self.ends.push(self.text.len());
        }
    }
}

#[derive(Default)]
struct Last {
    key: Key,
    /// The head made from `key`'s pieces (`None`: nothing kept yet).
    head: Option<Head>,
}

thread_local! {
    static LAST: RefCell<Last> = RefCell::default();
}

/// Runs `sign` with the head of the request made of `pieces`: the one
/// remembered when the last request of this thread was made of the same
/// pieces, else the one `prepare` makes (then remembered).
pub(crate) fn with_head<R>(
    pieces: Pieces<'_>,
    prepare: impl FnOnce() -> Result<Head, SigningError>,
    sign: impl FnOnce(&Head) -> Result<R, SigningError>,
) -> Result<R, SigningError> {
    let mut work = Some((prepare, sign));
    // (`try_with`/`try_borrow_mut`: during thread teardown, or were a
    // signing ever to run inside another, there is no memory, only work.)
    let remembered = LAST.try_with(|last| {
        let mut last = last.try_borrow_mut().ok()?;
        let (prepare, sign) = work.take()?;
        let same = last.head.is_some() && last.key.matches(pieces);
        if !same {
            let head = match prepare() {
                Ok(head) => head,
                Err(e) => return Some(Err(e)),
            };
            if head.canonical.len() > MAX_REMEMBERED {
                return Some(sign(&head));
            }
            // (The key is set only with its head: a failed prepare above
            // leaves the previous pair as it was.)
            last.key.set(pieces);
            if last.key.text.len() > MAX_REMEMBERED {
                last.head = None;
                last.key = Key::default();
                return Some(sign(&head));
            }
            last.head = Some(head);
        }
        Some(sign(last.head.as_ref().expect("found or just kept")))
    });
    match (remembered, work) {
        (Ok(Some(result)), _) => result,
        (_, Some((prepare, sign))) => sign(&prepare()?),
        (_, None) => unreachable!("the work is only taken when it is done"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces<'a>(own: &'a [&'a str], headers: &'a [(&'a str, &'a str)]) -> Pieces<'a> {
        Pieces { own, headers }
    }

    #[test]
    fn keys_match_only_the_same_pieces() {
        let mut key = Key::default();
        key.set(pieces(&["POST", "/a"], &[("ab", "c"), ("d", "")]));
        let matches = |own: &[&str], headers: &[(&str, &str)]| key.matches(pieces(own, headers));
        assert!(matches(&["POST", "/a"], &[("ab", "c"), ("d", "")]));
        // The same bytes cut differently, a piece more or less, a change.
        assert!(!matches(&["POST", "/a"], &[("a", "bc"), ("d", "")]));
        assert!(!matches(&["POST", "/a", "ab"], &[("c", "d"), ("", "")]));
        assert!(!matches(&["POST"], &[("/a", "ab"), ("c", "d")]));
        assert!(!matches(&["POST", "/a"], &[("ab", "c")]));
        assert!(!matches(
            &["POST", "/a"],
            &[("ab", "c"), ("d", ""), ("", "")]
        ));
        assert!(!matches(&["POST", "/a"], &[("ab", "C"), ("d", "")]));
        assert!(!matches(&["POST", "/b"], &[("ab", "c"), ("d", "")]));
        key.set(pieces(&[], &[]));
        assert!(key.matches(pieces(&[], &[])));
        assert!(!key.matches(pieces(&[""], &[])));
    }
}
