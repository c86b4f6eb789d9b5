//! Where the signer's text goes. `sign_details` keeps the canonical request
//! and string to sign as text (a `Vec<u8>`); `sign_headers` only needs their
//! hashes, so it streams the same writes into SHA-256/HMAC contexts through
//! a small stack buffer and never builds the strings. One writer serves
//! both, so the two paths cannot disagree on the rules.

use ring::{digest, hmac};

pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// What a [`Hashing`] sink feeds: a digest or an HMAC context.
pub(crate) trait Absorb {
    fn absorb(&mut self, data: &[u8]);
}

impl Absorb for digest::Context {
    fn absorb(&mut self, data: &[u8]) {
        self.update(data);
    }
}

impl Absorb for hmac::Context {
    fn absorb(&mut self, data: &[u8]) {
        self.update(data);
    }
}

/// Four SHA-256 blocks: the many small writes of a canonical request are
/// gathered here and handed over whole blocks at a time (each `update` call
/// on the context has a fixed cost).
const BUFFER: usize = 256;

/// Borrows its context (hash contexts are a few hundred bytes: better not
/// moved around).
pub(crate) struct Hashing<'c, A: Absorb> {
    inner: &'c mut A,
    buf: [u8; BUFFER],
    len: usize,
}

impl<'c, A: Absorb> Hashing<'c, A> {
    pub(crate) fn new(inner: &'c mut A) -> Hashing<'c, A> {
        Hashing {
            inner,
            buf: [0; BUFFER],
            len: 0,
        }
    }
}

/// Whatever is still buffered goes into the context.
impl<A: Absorb> Drop for Hashing<'_, A> {
    fn drop(&mut self) {
        self.inner.absorb(&self.buf[..self.len]);
    }
}

impl<A: Absorb> Sink for Hashing<'_, A> {
    #[inline]
    fn put(&mut self, mut bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        // Top the buffer up, hand it over, repeat; large writes go straight
        // through once the buffer is empty.
        while !bytes.is_empty() {
            if self.len == 0 && bytes.len() >= BUFFER {
                self.inner.absorb(bytes);
                return;
            }
            let take = bytes.len().min(BUFFER - self.len);
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len == BUFFER {
                self.inner.absorb(&self.buf);
                self.len = 0;
            }
        }
    }
}

/// SHA-256 of everything written.
pub(crate) fn sha256_of(write: impl FnOnce(&mut Hashing<'_, digest::Context>)) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    write(&mut Hashing::new(&mut context));
    digest_bytes(context.finish().as_ref())
}

/// HMAC-SHA256 with `key` of everything written.
pub(crate) fn hmac_of(
    key: &hmac::Key,
    write: impl FnOnce(&mut Hashing<'_, hmac::Context>),
) -> [u8; 32] {
    let mut context = hmac::Context::with_key(key);
    write(&mut Hashing::new(&mut context));
    digest_bytes(context.sign().as_ref())
}

pub(crate) fn digest_bytes(digest: &[u8]) -> [u8; 32] {
    digest
        .try_into()
        .expect("SHA-256 and HMAC-SHA256 give 32 bytes")
}

/// The two lower-case hex digits of every byte value: one lookup per byte
/// (three digests are hex-encoded per request).
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [DIGITS[b >> 4], DIGITS[b & 0xf]];
        b += 1;
    }
    table
};

/// Lower-case hex of a 32-byte digest, as text.
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split of the input into writes gives the one-shot digest.
    #[test]
    fn hashing_sink_equals_one_shot_digest_for_any_write_pattern() {
        let data: Vec<u8> = (0..1500u32).map(|i| (i * 7 % 251) as u8).collect();
        let expected = digest::digest(&digest::SHA256, &data);
        for step in [1, 3, 63, 64, 65, 255, 256, 257, 700, 1500] {
            let got = sha256_of(|sink| data.chunks(step).for_each(|c| sink.put(c)));
            assert_eq!(&got[..], expected.as_ref(), "step {step}");
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"key");
        let expected = hmac::sign(&key, &data);
        let got = hmac_of(&key, |sink| data.chunks(100).for_each(|c| sink.put(c)));
        assert_eq!(&got[..], expected.as_ref());
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8 ^ 0xa5);
        assert_eq!(hex32(&bytes).to_vec(), hex::encode(bytes).into_bytes());
        assert_eq!(hex32(&[0xff; 32]).to_vec(), b"ff".repeat(32));
    }
}
