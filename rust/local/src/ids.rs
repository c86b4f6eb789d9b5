//! Identifiers the service hands out (request ids, inference and session ids).

/// A random version-4 UUID in its usual text form.
pub fn uuid_v4() -> String {
    let text = uuid_v4_text();
    // Hex digits and dashes only.
    text.iter().map(|&c| char::from(c)).collect()
}

/// A random version-4 UUID's text on the stack (a request id per response
/// needs no String).
pub fn uuid_v4_text() -> [u8; 36] {
    // One u128 (two 64-bit draws), not `random::<[u8; 16]>()`, which draws
    // a 32-bit word per byte.
    sagerun_core::uuid::v4_text(rand::random())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_have_the_v4_shape() {
        let u = super::uuid_v4();
        let groups: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, super::uuid_v4());
    }

    #[test]
    fn every_random_digit_varies() {
        // Over 64 ids each digit but the version takes several values (no
        // part of the 128 random bits left constant).
        let ids: Vec<[u8; 36]> = (0..64).map(|_| super::uuid_v4_text()).collect();
        for at in (0..36).filter(|&i| !matches!(i, 8 | 13 | 14 | 18 | 23)) {
            let mut seen: Vec<u8> = ids.iter().map(|id| id[at]).collect();
            seen.sort_unstable();
            seen.dedup();
            assert!(seen.len() >= 2, "digit {at} never changes");
        }
    }
}
