//! Lines reassembled across parts.
//!
//! Only `\n` ends a line; a `\r` just before it is part of the terminator
//! (so `\r\n` is stripped as a unit even when the two bytes arrive in
//! different parts). A lone `\r` and other Unicode line breaks are ordinary
//! bytes. A last line without a terminator is still a line.

use super::error::StreamError;
#[cfg(test)]
use super::RETAINED_CAPACITY;

#[derive(Debug, Clone)]
pub struct LineDecoder {
    /// The unfinished line: everything after the last `\n` seen.
    partial: Vec<u8>,
    keep_ends: bool,
    max_line: Option<usize>,
}

impl LineDecoder {
    /// `keep_ends`: hand out lines with their `\n` / `\r\n`.
    /// `max_line`: the longest line allowed, in bytes without the terminator.
    pub fn new(keep_ends: bool, max_line: Option<usize>) -> Self {
        LineDecoder {
            partial: Vec::new(),
            keep_ends,
            max_line,
        }
    }

    /// Bytes held for a line not finished yet.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Hands each line completed by `data` to `emit`, borrowed: straight
    /// from `data` when the line lies wholly in it.
    pub fn feed_with<E, F>(&mut self, data: &[u8], mut emit: F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let mut rest = data;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let (piece, tail) = rest.split_at(at + 1);
            rest = tail;
            if self.partial.is_empty() {
                self.check_line(piece)?;
                emit(self.trim(piece))?;
            } else {
                // Check before copying: a too-long line is not buffered further.
                self.check_pending(self.partial.len() + piece.len() - 1, None)?;
                self.partial.extend_from_slice(piece);
                self.check_line(&self.partial)?;
                let result = emit(self.trim(&self.partial));
                self.reset();
                result?;
            }
        }
        if !rest.is_empty() {
            self.check_pending(self.partial.len() + rest.len(), rest.last().copied())?;
            self.partial.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Hands out the last line if the stream did not end with a newline.
    pub fn finish_with<E, F>(&mut self, mut emit: F) -> Result<(), E>
    where
        E: From<StreamError>,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        if self.partial.is_empty() {
            return Ok(());
        }
        // No terminator follows, so a trailing `\r` is content.
        if let Some(limit) = self.max_line {
            if self.partial.len() > limit {
                self.reset();
                return Err(StreamError::LineTooLong { limit }.into());
            }
        }
        let result = emit(&self.partial);
        self.reset();
        result
    }

    /// The lines completed by `data`, copied out.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, StreamError> {
        let mut lines = Vec::new();
        self.feed_with(data, |line| {
            lines.push(line.to_vec());
            Ok::<(), StreamError>(())
        })?;
        Ok(lines)
    }

    /// The unterminated last line, if any.
    pub fn finish(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let mut last = None;
        self.finish_with(|line| {
            last = Some(line.to_vec());
            Ok::<(), StreamError>(())
        })?;
        Ok(last)
    }

    /// `line` ends with `\n`; without `keep_ends` its terminator goes.
    fn trim<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        if self.keep_ends {
            line
        } else {
            &line[..line.len() - terminator_len(line)]
        }
    }

    fn check_line(&self, line: &[u8]) -> Result<(), StreamError> {
        match self.max_line {
            Some(limit) if line.len() - terminator_len(line) > limit => {
                Err(StreamError::LineTooLong { limit })
            }
            _ => Ok(()),
        }
    }

    /// A pending line of `len` bytes (ending in `last`, if known) already
    /// breaks the limit unless its final byte is a `\r` that a `\n` may
    /// still turn into a terminator.
    fn check_pending(&self, len: usize, last: Option<u8>) -> Result<(), StreamError> {
        let Some(limit) = self.max_line else {
            return Ok(());
        };
        let allowance = usize::from(last.is_none() || last == Some(b'\r'));
        if len > limit + allowance {
            return Err(StreamError::LineTooLong { limit });
        }
        Ok(())
    }

    fn reset(&mut self) {
        super::release_line(&mut self.partial);
    }
}

/// Length of the terminator of a line that ends with `\n`: 1 or 2 (`\r\n`).
fn terminator_len(line: &[u8]) -> usize {
    if line.len() >= 2 && line[line.len() - 2] == b'\r' {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` and collects every line, the unterminated one included.
    fn lines_of(
        parts: &[&[u8]],
        keep_ends: bool,
        max: Option<usize>,
    ) -> Result<Vec<Vec<u8>>, StreamError> {
        let mut d = LineDecoder::new(keep_ends, max);
        let mut out = Vec::new();
        for p in parts {
            out.extend(d.feed(p)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    fn owned(lines: &[&str]) -> Vec<Vec<u8>> {
        lines.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn several_lines_in_one_part_and_one_line_across_parts() {
        let got = lines_of(&[b"a\nb", b"c\n\nd"], false, None).unwrap();
        assert_eq!(got, owned(&["a", "bc", "", "d"]));
    }

    #[test]
    fn crlf_split_across_parts_is_one_terminator() {
        let got = lines_of(&[b"x\r", b"\ny\r", b"\r\n"], false, None).unwrap();
        assert_eq!(got, owned(&["x", "y\r"]));
        let kept = lines_of(&[b"x\r", b"\ny"], true, None).unwrap();
        assert_eq!(kept, owned(&["x\r\n", "y"]));
    }

    #[test]
    fn lone_cr_is_content_and_last_line_needs_no_newline() {
        let got = lines_of(&[b"a\rb\n", b"tail\r"], false, None).unwrap();
        assert_eq!(got, owned(&["a\rb", "tail\r"]));
        assert!(lines_of(&[b"", b""], false, None).unwrap().is_empty());
    }

    #[test]
    fn limit_counts_content_not_terminator() {
        assert!(lines_of(&[b"abc\r\n"], false, Some(3)).is_ok());
        assert!(lines_of(&[b"ab", b"c\r", b"\n"], false, Some(3)).is_ok());
        assert_eq!(
            lines_of(&[b"abcd\n"], false, Some(3)),
            Err(StreamError::LineTooLong { limit: 3 })
        );
        // Rejected while still pending: nothing past the limit is buffered.
        let mut d = LineDecoder::new(false, Some(3));
        d.feed(b"ab").unwrap();
        assert_eq!(d.feed(b"cd"), Err(StreamError::LineTooLong { limit: 3 }));
        // A trailing `\r` at the very end is content, so it counts.
        assert!(lines_of(&[b"abc\r"], false, Some(3)).is_err());
    }

    #[test]
    fn long_line_one_byte_at_a_time_then_buffer_released() {
        let mut d = LineDecoder::new(false, None);
        let line = vec![b'z'; 1 << 20];
        for b in &line {
            assert!(d.feed(std::slice::from_ref(b)).unwrap().is_empty());
        }
        assert_eq!(d.buffered(), line.len());
        assert_eq!(d.feed(b"\n").unwrap(), vec![line]);
        assert_eq!(d.buffered(), 0);
        assert!(d.partial.capacity() <= RETAINED_CAPACITY);
    }
}
