//! Hashes resumed after the blocks a text shares with the previous text of
//! its kind this thread hashed. Canonical requests to one endpoint share
//! method, path, query and the headers before `x-amz-date` (a new request
//! head, see `memo`, is hashed on from there: its whole blocks once, for
//! every body it signs); strings to sign share their first block within
//! one second. Only the blocks from the first difference on are hashed
//! again.

use std::cell::RefCell;

use super::sha256::{HmacKey, Sha256, State};

const BLOCK: usize = 64;

/// Longer texts are hashed without remembering them (no ordinary request
/// comes close; it bounds what a thread keeps).
const MAX_REMEMBERED: usize = 4096;

/// The kinds of text remembered, one of each per thread.
#[derive(Clone, Copy)]
enum Kind {
    CanonicalRequest = 0,
    StringToSign = 1,
}

struct Remembered {
    /// The state the last text's hash started from (an HMAC's is its key's).
    start: State,
    /// The last text hashed, whole blocks and tail.
    text: Vec<u8>,
    /// `states[i]`: the state after the first `i` blocks of `text`.
    states: Vec<State>,
    /// Where the next text is written (kept to reuse its allocation).
    scratch: Vec<u8>,
}
// No Debug on purpose: canonical requests carry session tokens, an HMAC's
// start state stands for its key.

impl Default for Remembered {
    fn default() -> Remembered {
        Remembered {
            start: State::INITIAL,
            text: Vec::new(),
            states: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

thread_local! {
    static REMEMBERED: RefCell<[Remembered; 2]> = RefCell::default();
}

/// SHA-256 of the canonical request `write` writes.
pub(crate) fn sha256_of_canonical_request(write: impl FnOnce(&mut Vec<u8>)) -> [u8; 32] {
    resumed(Kind::CanonicalRequest, State::INITIAL, write)
}

/// The hash state after the whole blocks of `head`, a canonical request's
/// text but its payload line (the caller hashes the rest on from there).
pub(crate) fn state_of_canonical_head(head: &[u8]) -> State {
    let remembered = REMEMBERED.try_with(|memo| {
        let mut memo = memo.try_borrow_mut().ok()?;
        let memo = &mut memo[Kind::CanonicalRequest as usize];
        let state = memo.whole_blocks(State::INITIAL, head);
        if head.len() <= MAX_REMEMBERED {
            memo.text.clear();
            memo.text.extend_from_slice(head);
        }
        Some(state)
    });
    remembered.ok().flatten().unwrap_or_else(|| {
        let mut state = State::INITIAL;
        state.compress(head.as_chunks::<BLOCK>().0);
        state
    })
}

/// HMAC-SHA256 with `key` of the string to sign `write` writes.
pub(crate) fn hmac_of_string_to_sign(key: &HmacKey, write: impl FnOnce(&mut Vec<u8>)) -> [u8; 32] {
    key.outer_of(&resumed(Kind::StringToSign, key.inner(), write))
}

/// The digest of `start` followed by what `write` writes.
fn resumed(kind: Kind, start: State, write: impl FnOnce(&mut Vec<u8>)) -> [u8; 32] {
    let mut write = Some(write);
    // (`try_with`: during thread teardown there is no memory, only work.)
    let remembered = REMEMBERED.try_with(|memo| {
        let mut memo = memo.try_borrow_mut().ok()?;
        Some(memo[kind as usize].hash(start, write.take()?))
    });
    match (remembered, write) {
        (Ok(Some(digest)), _) => digest,
        (_, Some(write)) => {
            let mut text = Vec::new();
            write(&mut text);
            let mut hash = Sha256::resume(start);
            hash.update(&text);
            hash.finish()
        }
        (_, None) => unreachable!("`write` is only taken when it is run"),
    }
}

impl Remembered {
    fn hash(&mut self, start: State, write: impl FnOnce(&mut Vec<u8>)) -> [u8; 32] {
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        write(&mut text);
        let digest = self.hash_text(start, &text);
        if text.len() <= MAX_REMEMBERED {
            self.scratch = std::mem::replace(&mut self.text, text);
        } else {
            self.scratch = text;
        }
        digest
    }

    /// Hashes `text` after `start`, resuming from the remembered state
    /// after the whole blocks it shares with the last text (from the same
    /// start), and remembers its own states (the caller keeps the text).
    fn hash_text(&mut self, start: State, text: &[u8]) -> [u8; 32] {
        let state = self.whole_blocks(start, text);
        let mut hash = Sha256::resume(state);
        hash.update(text.as_chunks::<BLOCK>().1);
        hash.finish()
    }

    /// The state after `start` and the whole blocks of `text` (see
    /// `hash_text`).
    fn whole_blocks(&mut self, start: State, text: &[u8]) -> State {
        if self.start != start || self.states.is_empty() {
            self.start = start;
            self.states.clear();
            self.states.push(start);
        }
        let (blocks, _) = text.as_chunks::<BLOCK>();
        let (old_blocks, _) = self.text.as_chunks::<BLOCK>();
        let shared = blocks
            .iter()
            .zip(old_blocks)
            .take_while(|(new, old)| new == old)
            .count()
            .min(self.states.len() - 1);
        self.states.truncate(shared + 1);
        let mut state = self.states[shared];
        for block in &blocks[shared..] {
            state.compress(std::slice::from_ref(block));
            if text.len() <= MAX_REMEMBERED {
                self.states.push(state);
            }
        }
        if text.len() > MAX_REMEMBERED {
            // Not remembered: nothing of it may be resumed later.
            self.states.truncate(1);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::{digest, hmac};

    fn hashed_by_ring(text: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, text).as_ref().to_vec()
    }

    /// Whatever was hashed before, the hash is the text's own.
    #[test]
    fn resumed_hashes_equal_fresh_ones_whatever_came_before() {
        let base: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut texts = vec![
            base.clone(),
            base[..128].to_vec(),
            base[..127].to_vec(),
            base[..129].to_vec(),
            Vec::new(),
            vec![9; MAX_REMEMBERED + 1],
            [&base[..], &base[..]].concat(),
        ];
        for at in [0, 63, 64, 127, 300, 599] {
            let mut changed = base.clone();
            changed[at] ^= 1;
            texts.push(changed);
        }
        for text in texts.iter().chain(texts.iter().rev()).chain(&texts) {
            let got = sha256_of_canonical_request(|out| out.extend_from_slice(text));
            assert_eq!(got.to_vec(), hashed_by_ring(text), "len {}", text.len());
            // And again, now from its own remembered states.
            let again = sha256_of_canonical_request(|out| out.extend_from_slice(text));
            assert_eq!(again.to_vec(), hashed_by_ring(text));
        }
    }

    /// A head's state, hashed on with the rest of its text, gives the
    /// text's digest, whatever came before (heads and whole texts mixed).
    #[test]
    fn head_states_continue_to_the_texts_own_hash() {
        let base: Vec<u8> = (0..500u32).map(|i| (i * 13 % 241) as u8).collect();
        let mut heads = vec![
            base.clone(),
            base[..64].to_vec(),
            base[..63].to_vec(),
            Vec::new(),
        ];
        heads.push(vec![5; MAX_REMEMBERED + 70]);
        for at in [0, 64, 130, 499] {
            let mut changed = base.clone();
            changed[at] ^= 1;
            heads.push(changed);
        }
        for head in heads.iter().chain(heads.iter().rev()).chain(&heads) {
            for _ in 0..2 {
                let state = state_of_canonical_head(head);
                let mut hash = Sha256::resume(state);
                hash.update(head.as_chunks::<BLOCK>().1);
                hash.update(b"payload line");
                let text = [&head[..], b"payload line"].concat();
                assert_eq!(
                    hash.finish().to_vec(),
                    hashed_by_ring(&text),
                    "len {}",
                    head.len()
                );
                let whole = sha256_of_canonical_request(|out| out.extend_from_slice(&text));
                assert_eq!(whole.to_vec(), hashed_by_ring(&text));
            }
        }
    }

    /// The same texts under different keys: a state remembered under one
    /// key never serves another.
    #[test]
    fn resumed_macs_equal_rings_whatever_key_came_before() {
        let text: Vec<u8> = (0..300u32).map(|i| (i * 11 % 253) as u8).collect();
        for key in [&b"key one"[..], b"key two", b"key one", &[7; 100]] {
            for len in [300, 200, 64, 63, 0, 300] {
                let got = hmac_of_string_to_sign(&HmacKey::new(key), |out| {
                    out.extend_from_slice(&text[..len])
                });
                let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &text[..len]);
                assert_eq!(&got[..], expected.as_ref(), "len {len}");
            }
        }
    }
}
