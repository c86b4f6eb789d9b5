//! What can go wrong decoding or encoding a frame.

/// Which of a frame's two CRCs failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Prelude,
    Message,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{which:?} checksum mismatch: expected {expected:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        which: Checksum,
        expected: u32,
        computed: u32,
    },
    #[error("invalid event-stream frame: {0}")]
    InvalidFrame(String),
    #[error("event stream ended inside a frame ({buffered} bytes of an unfinished message)")]
    TruncatedStream { buffered: usize },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("invalid event-stream message: {0}")]
    Invalid(String),
}

pub(crate) fn invalid(msg: impl Into<String>) -> DecodeError {
    DecodeError::InvalidFrame(msg.into())
}
