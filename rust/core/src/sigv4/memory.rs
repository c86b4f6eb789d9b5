//! Which derived signing key signs. The free functions take it from the
//! process-wide key cache ([`Shared`]); a [`Signer`](super::Signer) keeps
//! its own for the current date ([`Remembered`]). (What the hashes of
//! consecutive canonical requests share is remembered per thread, for
//! both: see `resume`.)

use std::sync::{Mutex, MutexGuard};

use super::key_cache;
use super::sha256::HmacKey;
use super::Principal;

pub(crate) trait Memory {
    /// The derived key of `who` for `date`.
    fn key(&self, who: &Principal<'_>, date: &str) -> HmacKey;
}

/// The free functions' memory: the process-wide key cache.
pub(crate) struct Shared;

impl Memory for Shared {
    fn key(&self, who: &Principal<'_>, date: &str) -> HmacKey {
        key_cache::signing_key(who.secret_key, date, who.region, who.service)
    }
}

/// A signer's memory. A signer's secret, region and service are fixed, so
/// the date alone says whether its key still holds (keys change at
/// midnight UTC).
#[derive(Default)]
pub(crate) struct Remembered {
    key: Mutex<Option<([u8; 8], HmacKey)>>,
}
// No Debug on purpose: it holds a key.

fn locked<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Memory for Remembered {
    fn key(&self, who: &Principal<'_>, date: &str) -> HmacKey {
        let date_bytes: [u8; 8] = date
            .as_bytes()
            .try_into()
            .expect("a credential scope date is YYYYMMDD");
        if let Some((held, key)) = *locked(&self.key) {
            if held == date_bytes {
                return key;
            }
        }
        // Derived outside the lock: other threads keep signing meanwhile.
        let key = key_cache::derive(who.secret_key, date, who.region, who.service);
        *locked(&self.key) = Some((date_bytes, key));
        key
    }
}
