//! SHA-256 and HMAC-SHA256 on top of sha2's raw compression function
//! (SHA-NI where the CPU has it). The signer needs what streaming hash APIs
//! hide: the hash state itself, to resume a canonical request after the
//! leading blocks it shares with the previous one (see `resume`), and an
//! HMAC key kept as its two precomputed states, copied for free.

use sha2::block_api::compress256;

use super::sink::Sink;

const BLOCK: usize = 64;

/// FIPS 180-4, 5.3.3.
const INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The hash state after a whole number of blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    h: [u32; 8],
    blocks: u64,
}
// No Debug on purpose: a key's states stand for the key.

impl State {
    pub(crate) const INITIAL: State = State {
        h: INITIAL,
        blocks: 0,
    };

    pub(crate) fn compress(&mut self, blocks: &[[u8; BLOCK]]) {
        compress256(&mut self.h, blocks);
        self.blocks += blocks.len() as u64;
    }
}

/// A running SHA-256: a state and the tail of the input not yet a block.
#[derive(Clone)]
pub(crate) struct Sha256 {
    state: State,
    tail: [u8; BLOCK],
    len: usize,
}

impl Sha256 {
    pub(crate) fn new() -> Sha256 {
        Sha256::resume(State::INITIAL)
    }

    /// Continues from `state`, as if its blocks had just been hashed.
    pub(crate) fn resume(state: State) -> Sha256 {
        Sha256 {
            state,
            tail: [0; BLOCK],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        // Small writes (most of a canonical request's) only fill the tail.
        if let Some(room) = self.tail.get_mut(self.len..self.len + data.len()) {
            room.copy_from_slice(data);
            self.len += data.len();
            if self.len == BLOCK {
                self.state.compress(std::slice::from_ref(&self.tail));
                self.len = 0;
            }
            return;
        }
        if self.len > 0 {
            let take = BLOCK - self.len;
            self.tail[self.len..].copy_from_slice(&data[..take]);
            self.state.compress(std::slice::from_ref(&self.tail));
            self.len = 0;
            data = &data[take..];
        }
        // Whole blocks straight from the input, in one call.
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        self.state.compress(blocks);
        self.tail[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
    }

    /// Pads (FIPS 180-4, 5.1.1) and gives the digest.
    pub(crate) fn finish(mut self) -> [u8; 32] {
        let bits = (self.state.blocks * BLOCK as u64 + self.len as u64) * 8;
        self.tail[self.len] = 0x80;
        self.tail[self.len + 1..].fill(0);
        if self.len + 1 > BLOCK - 8 {
            self.state.compress(std::slice::from_ref(&self.tail));
            self.tail.fill(0);
        }
        self.tail[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        self.state.compress(std::slice::from_ref(&self.tail));
        let mut out = [0u8; 32];
        for (word, bytes) in self.state.h.iter().zip(out.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

impl Sink for Sha256 {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(data);
    hash.finish()
}

/// An HMAC-SHA256 key (RFC 2104) as the states after its inner and outer
/// padded key blocks: each MAC then starts where those left off.
#[derive(Clone, Copy)]
pub(crate) struct HmacKey {
    inner: State,
    outer: State,
}
// No Debug on purpose: it stands for a secret.

impl HmacKey {
    pub(crate) fn new(key: &[u8]) -> HmacKey {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let padded = |pad: u8| {
            let mut state = State::INITIAL;
            state.compress(&[block.map(|b| b ^ pad)]);
            state
        };
        HmacKey {
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    /// The state the inner hash starts from (the message follows it).
    pub(crate) fn inner(&self) -> State {
        self.inner
    }

    /// The MAC, from the inner hash's digest.
    pub(crate) fn outer_of(&self, inner_digest: &[u8; 32]) -> [u8; 32] {
        let mut outer = Sha256::resume(self.outer);
        outer.update(inner_digest);
        outer.finish()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = Sha256::resume(self.inner);
        inner.update(message);
        self.outer_of(&inner.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::{digest, hmac};

    fn data(len: usize) -> Vec<u8> {
        (0..len as u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Every length around the padding edges, written in every piece size:
    /// the digest is ring's (an independent implementation).
    #[test]
    fn digests_equal_rings_for_any_length_and_write_pattern() {
        for len in (0..200).chain([447, 448, 449, 1023, 1024, 1025, 4096 + 55]) {
            let input = data(len);
            let expected = digest::digest(&digest::SHA256, &input);
            assert_eq!(&sha256(&input)[..], expected.as_ref(), "len {len}");
            for step in [1, 3, 55, 56, 63, 64, 65, 200] {
                let mut hash = Sha256::new();
                input.chunks(step).for_each(|c| hash.update(c));
                assert_eq!(
                    &hash.finish()[..],
                    expected.as_ref(),
                    "len {len} step {step}"
                );
            }
        }
    }

    #[test]
    fn macs_equal_rings_for_short_block_sized_and_long_keys() {
        for key_len in [0, 1, 20, 63, 64, 65, 100, 300] {
            let key = data(key_len);
            for len in [0, 1, 55, 56, 64, 140, 1000] {
                let message = data(len + 3);
                let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &message);
                assert_eq!(
                    &HmacKey::new(&key).sign(&message)[..],
                    expected.as_ref(),
                    "key {key_len} message {len}"
                );
            }
        }
    }

    #[test]
    fn a_resumed_state_continues_the_same_hash() {
        let input = data(700);
        let mut state = State::INITIAL;
        let (blocks, _) = input.as_chunks::<BLOCK>();
        state.compress(&blocks[..5]);
        let mut resumed = Sha256::resume(state);
        resumed.update(&input[5 * BLOCK..]);
        assert_eq!(resumed.finish(), sha256(&input));
    }
}
