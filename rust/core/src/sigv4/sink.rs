//! Where the signer's text goes: a `Vec<u8>` (the text kept, or compared
//! with the last one, see `resume`) or straight into a hash (as `verify`
//! does). One writer serves every sink, so the paths cannot disagree on
//! the rules.

use super::sha256::Sha256;

pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// SHA-256 of everything written.
pub(crate) fn sha256_of(write: impl FnOnce(&mut Sha256)) -> [u8; 32] {
    let mut hash = Sha256::new();
    write(&mut hash);
    hash.finish()
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
    use ring::digest;

    /// Every split of the input into writes gives ring's one-shot digest.
    #[test]
    fn hashing_sink_equals_rings_digest_for_any_write_pattern() {
        let data: Vec<u8> = (0..1500u32).map(|i| (i * 7 % 251) as u8).collect();
        let expected = digest::digest(&digest::SHA256, &data);
        for step in [1, 3, 63, 64, 65, 255, 256, 257, 700, 1500] {
            let got = sha256_of(|sink| data.chunks(step).for_each(|c| sink.put(c)));
            assert_eq!(&got[..], expected.as_ref(), "step {step}");
        }
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8 ^ 0xa5);
        assert_eq!(hex32(&bytes).to_vec(), hex::encode(bytes).into_bytes());
        assert_eq!(hex32(&[0xff; 32]).to_vec(), b"ff".repeat(32));
    }
}
