//! Errors of the line, SSE and token decoders (UTF-8 errors have their own
//! type, shaped like Python's `UnicodeDecodeError`).

/// Longest excerpt of an offending record kept in an error.
pub(crate) const EXCERPT_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A line (without its terminator) grew past the caller's limit.
    #[error("line longer than the limit of {limit} bytes")]
    LineTooLong { limit: usize },
    /// An SSE event (its data plus the line being read) grew past the limit.
    #[error("server-sent event longer than the limit of {limit} bytes")]
    EventTooLong { limit: usize },
    /// A record of a token stream is not what its format says.
    #[error("malformed {format} record ({reason}): {excerpt}")]
    MalformedRecord {
        format: &'static str,
        reason: String,
        excerpt: String,
    },
    /// The model reported an error inside an otherwise successful stream.
    #[error("the model reported an error in the stream: {message}")]
    ModelError { message: String, excerpt: String },
}

/// The start of `text`, cut at a character boundary, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}
