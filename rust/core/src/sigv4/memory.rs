//! What signing may remember between requests. The free functions have the
//! process-wide key cache only ([`Shared`]); a [`Signer`](super::Signer)
//! keeps its own key for the current date and the hash state of its last
//! canonical request's leading blocks ([`Remembered`]): requests to one
//! endpoint share method, path, query and the first headers, so those
//! SHA-256 blocks need not be hashed again.

use ring::{digest, hmac};
use std::sync::{Mutex, MutexGuard};

use super::key_cache;
use super::sink::{self, Absorb, Hashing};
use super::{Prepared, Principal};

pub(crate) trait Memory {
    /// Lends the derived key for `date` to `f` (a slot need not copy it out).
    fn with_key<R>(&self, who: &Principal<'_>, date: &str, f: impl FnOnce(&hmac::Key) -> R) -> R;

    /// SHA-256 of the request's canonical form.
    fn canonical_hash(&self, request: &Prepared<'_>) -> [u8; 32];
}

/// The free functions' memory: the process-wide key cache.
pub(crate) struct Shared;

impl Memory for Shared {
    fn with_key<R>(&self, who: &Principal<'_>, date: &str, f: impl FnOnce(&hmac::Key) -> R) -> R {
        f(&key_cache::signing_key(
            who.secret_key,
            date,
            who.region,
            who.service,
        ))
    }

    fn canonical_hash(&self, request: &Prepared<'_>) -> [u8; 32] {
        sink::sha256_of(|sink| request.write_canonical_request(sink))
    }
}

/// Two SHA-256 blocks: what requests to one endpoint commonly share
/// (`POST\n/endpoints/<name>/invocations\n\n` and the first header lines).
const PREFIX: usize = 128;

/// A signer's memory. A signer's secret, region and service are fixed, so
/// the date alone says whether its key still holds (keys change at
/// midnight UTC).
#[derive(Default)]
pub(crate) struct Remembered {
    key: Mutex<Option<([u8; 8], hmac::Key)>>,
    prefix: Mutex<Option<([u8; PREFIX], digest::Context)>>,
}
// No Debug on purpose: it holds a key.

fn locked<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Memory for Remembered {
    fn with_key<R>(&self, who: &Principal<'_>, date: &str, f: impl FnOnce(&hmac::Key) -> R) -> R {
        let date_bytes: [u8; 8] = date
            .as_bytes()
            .try_into()
            .expect("a credential scope date is YYYYMMDD");
        let mut slot = locked(&self.key);
        match &*slot {
            Some((held, key)) if *held == date_bytes => f(key),
            _ => {
                let key = key_cache::derive(who.secret_key, date, who.region, who.service);
                let answer = f(&key);
                *slot = Some((date_bytes, key));
                answer
            }
        }
    }

    fn canonical_hash(&self, request: &Prepared<'_>) -> [u8; 32] {
        let mut context = FromPrefix {
            memo: &self.prefix,
            context: None,
        };
        request.write_canonical_request(&mut Hashing::new(&mut context));
        context.finish()
    }
}

/// A SHA-256 context that, when the first data it absorbs starts with the
/// remembered prefix, starts from the remembered state after it (and else
/// remembers this prefix). The [`Hashing`] sink in front hands over whole
/// buffers, so the first piece is long enough unless the text is short.
struct FromPrefix<'m> {
    memo: &'m Mutex<Option<([u8; PREFIX], digest::Context)>>,
    context: Option<digest::Context>,
}

impl FromPrefix<'_> {
    fn start(&self, first: &[u8]) -> digest::Context {
        let Some((head, rest)) = first.split_first_chunk::<PREFIX>() else {
            let mut context = digest::Context::new(&digest::SHA256);
            context.update(first);
            return context;
        };
        let mut context = {
            let mut slot = locked(self.memo);
            match &*slot {
                Some((held, context)) if held == head => context.clone(),
                _ => {
                    let mut context = digest::Context::new(&digest::SHA256);
                    context.update(head);
                    *slot = Some((*head, context.clone()));
                    context
                }
            }
        };
        context.update(rest);
        context
    }

    fn finish(self) -> [u8; 32] {
        let context = self
            .context
            .unwrap_or_else(|| digest::Context::new(&digest::SHA256));
        sink::digest_bytes(context.finish().as_ref())
    }
}

impl Absorb for FromPrefix<'_> {
    fn absorb(&mut self, data: &[u8]) {
        match &mut self.context {
            Some(context) => context.update(data),
            None => self.context = Some(self.start(data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sink::Sink;
    use super::*;

    /// Whatever was remembered, the hash is the text's.
    #[test]
    fn remembered_prefixes_never_change_a_hash() {
        let memo = Mutex::new(None);
        let base: Vec<u8> = (0..400u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut texts = vec![
            base.clone(),
            base[..PREFIX].to_vec(),
            base[..PREFIX - 1].to_vec(),
            Vec::new(),
        ];
        for at in [0, PREFIX - 1, PREFIX, 300] {
            let mut changed = base.clone();
            changed[at] ^= 1;
            texts.push(changed);
        }
        for text in texts.iter().chain(texts.iter().rev()) {
            for step in [1, 100, 400] {
                let mut context = FromPrefix {
                    memo: &memo,
                    context: None,
                };
                {
                    let mut sink = Hashing::new(&mut context);
                    text.chunks(step).for_each(|c| sink.put(c));
                }
                let got = context.finish();
                assert_eq!(&got[..], digest::digest(&digest::SHA256, text).as_ref());
            }
        }
    }
}
