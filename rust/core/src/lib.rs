//! sagerun's wire core, free of PyO3 and of any I/O:
//! the event-stream codec, the SigV4 signer and the protocol tables.

pub mod eventstream;
pub mod panics;
pub mod protocol;
pub mod sigv4;
pub mod streaming;
pub mod uuid;
