//! The text of a version-4 UUID (botocore's `amz-sdk-invocation-id`, the
//! service's request, inference and session ids). The caller draws the
//! random bits: this crate does no I/O and holds no random source.

/// 128 random bits as a version-4, RFC 9562-variant UUID: 8-4-4-4-12
/// lower-case hex digits, on the stack (a header value needs no String).
pub fn v4_text(random: u128) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = random.to_le_bytes();
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1; // the dash already there
        }
        out[at] = HEX[usize::from(byte >> 4)];
        out[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::v4_text;

    #[test]
    fn the_layout_of_rfc_9562() {
        for random in [0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            let text = v4_text(random);
            let text = std::str::from_utf8(&text).unwrap();
            let groups: Vec<usize> = text.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{text}");
            assert!(text
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f' | b'-')));
            assert_eq!(&text[14..15], "4", "{text}");
            assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
        }
        // The bytes in order, little-endian as drawn: all-zero bits but
        // the version and variant.
        assert_eq!(&v4_text(0), b"00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn every_digit_but_the_version_comes_from_the_bits() {
        let ones = v4_text(u128::MAX);
        assert_eq!(&ones, b"ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
