//! The derived signing key (`AWS4`+secret -> date -> region -> service ->
//! `aws4_request`), cached per (secret, date, region, service): deriving it
//! costs four HMACs, and a process signs thousands of requests per day with
//! the same one.

use std::sync::Mutex;

use super::sha256::HmacKey;

/// Enough for many credentials × regions × services at once; when full the
/// oldest entry goes (keys change at most daily per principal).
const CAPACITY: usize = 32;

struct CachedKey {
    secret: String,
    date: String,
    region: String,
    service: String,
    key: HmacKey,
}
// No Debug on purpose: entries hold secrets.

static CACHE: Mutex<Vec<CachedKey>> = Mutex::new(Vec::new());

/// The signing key as a ready HMAC key, from the cache when possible.
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> HmacKey {
    {
        let cache = CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = cache.iter().find(|e| {
            e.date == date && e.region == region && e.service == service && e.secret == secret
        }) {
            return hit.key;
        }
    }
    let key = derive(secret, date, region, service);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= CAPACITY {
        cache.remove(0);
    }
    cache.push(CachedKey {
        secret: secret.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        key,
    });
    key
}

/// The derivation itself, uncached.
pub(crate) fn derive(secret: &str, date: &str, region: &str, service: &str) -> HmacKey {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let mut key = HmacKey::new(&k_secret);
    for part in [date, region, service, "aws4_request"] {
        key = HmacKey::new(&key.sign(part.as_bytes()));
    }
    key
}

#[cfg(test)]
pub(crate) fn cached_entries() -> usize {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::hmac;

    fn tag(key: &HmacKey) -> Vec<u8> {
        key.sign(b"probe").to_vec()
    }

    /// The derivation done with ring's HMAC, step by step.
    fn derived_by_ring(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in [date, region, service, "aws4_request"] {
            let k = hmac::Key::new(hmac::HMAC_SHA256, &key);
            key = hmac::sign(&k, part.as_bytes()).as_ref().to_vec();
        }
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), b"probe")
            .as_ref()
            .to_vec()
    }

    #[test]
    fn derivation_equals_rings_for_short_and_long_secrets() {
        for secret in [
            "",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &"s".repeat(61),
            &"s".repeat(200),
        ] {
            assert_eq!(
                tag(&derive(secret, "20150830", "us-east-1", "iam")),
                derived_by_ring(secret, "20150830", "us-east-1", "iam"),
                "secret of {} bytes",
                secret.len()
            );
        }
    }

    #[test]
    fn cached_key_equals_fresh_derivation_and_cache_stays_bounded() {
        for i in 0..(CAPACITY * 3) {
            let secret = format!("secret-{i}");
            let cached = signing_key(&secret, "20150830", "us-east-1", "service");
            let again = signing_key(&secret, "20150830", "us-east-1", "service");
            let fresh = derive(&secret, "20150830", "us-east-1", "service");
            assert_eq!(tag(&cached), tag(&fresh));
            assert_eq!(tag(&again), tag(&fresh));
            assert!(cached_entries() <= CAPACITY);
        }
        // Each part of the cache key matters.
        let base = tag(&signing_key("s", "20150830", "us-east-1", "service"));
        assert_ne!(
            base,
            tag(&signing_key("t", "20150830", "us-east-1", "service"))
        );
        assert_ne!(
            base,
            tag(&signing_key("s", "20150831", "us-east-1", "service"))
        );
        assert_ne!(
            base,
            tag(&signing_key("s", "20150830", "us-west-2", "service"))
        );
        assert_ne!(
            base,
            tag(&signing_key("s", "20150830", "us-east-1", "sagemaker"))
        );
    }

    #[test]
    fn safe_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let secret = format!("thread-{t}-{}", i % 40);
                        let got = tag(&signing_key(&secret, "20260101", "us-west-2", "sagemaker"));
                        assert_eq!(
                            got,
                            tag(&derive(&secret, "20260101", "us-west-2", "sagemaker"))
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
