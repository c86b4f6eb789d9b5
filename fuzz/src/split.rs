//! Helpers shared by the fuzz targets: how an input chooses the points at
//! which a byte stream is cut into the chunks an incremental decoder is fed.
//!
//! Layout of a "split" input: one control byte whose high nibble `n` says
//! how many chunk-size bytes follow, then those `n` bytes, then the stream.
//! The chunk sizes are used in turn, cyclically; a size of 0 feeds an empty
//! chunk (decoders must accept it). The low nibble of the control byte is
//! left to each target for its own switches.

/// A stream and the cuts to feed it with.
pub struct SplitInput<'a> {
    /// Low nibble of the control byte: target-specific switches.
    pub flags: u8,
    /// Target-specific bytes taken before the stream (see [`SplitInput::parse`]).
    pub params: &'a [u8],
    sizes: &'a [u8],
    pub stream: &'a [u8],
}

impl<'a> SplitInput<'a> {
    /// Splits `data` into control byte, `params_len` parameter bytes, chunk
    /// sizes and the stream. Too-short inputs give `None`.
    pub fn parse(data: &'a [u8], params_len: usize) -> Option<SplitInput<'a>> {
        let (&control, rest) = data.split_first()?;
        let (params, rest) = split_at_checked(rest, params_len)?;
        let (sizes, stream) = split_at_checked(rest, usize::from(control >> 4))?;
        Some(SplitInput {
            flags: control & 0x0f,
            params,
            sizes,
            stream,
        })
    }

    /// The stream cut into chunks by the chosen sizes (the whole stream as
    /// one chunk when no size was given).
    pub fn chunks(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self.stream;
        if self.sizes.is_empty() || self.sizes.iter().all(|&s| s == 0) {
            // All-zero sizes would never make progress: one empty feed, then all.
            if !self.sizes.is_empty() {
                out.push(&rest[..0]);
            }
            out.push(rest);
            return out;
        }
        for &size in self.sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(usize::from(size).min(rest.len()));
            out.push(chunk);
            rest = tail;
        }
        out
    }
}

fn split_at_checked(data: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (data.len() >= at).then(|| data.split_at(at))
}
