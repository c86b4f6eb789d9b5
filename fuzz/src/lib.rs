//! The fuzz targets' checks, as plain functions: the libFuzzer binaries in
//! `fuzz_targets/` call them on generated inputs, and the root workspace's
//! `cargo test` (rust/core/tests/fuzz_corpus.rs, which includes these files)
//! replays every seed in `fuzz/corpus/` through the very same code, so CI
//! runs a fuzz smoke without cargo-fuzz or a nightly toolchain.
//!
//! The check modules refer to `crate::SplitInput`, which both crate roots
//! provide.

mod split;
pub use split::SplitInput;

pub mod eventstream_decoder;
pub mod streaming_decoders;
