//! Fuzz smoke for CI: replays every seed of `fuzz/corpus/<target>/` through
//! the fuzz targets' own checks (the files of `fuzz/src/`, included here so
//! one code path serves libFuzzer and `cargo test`). No cargo-fuzz, no
//! nightly. Long runs: `bash scripts/fuzz.sh <target> 600`.

#[path = "../../../fuzz/src/split.rs"]
mod split;
pub use split::SplitInput;

#[path = "../../../fuzz/src/eventstream_decoder.rs"]
mod eventstream_decoder;
#[path = "../../../fuzz/src/streaming_decoders.rs"]
mod streaming_decoders;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Every seed of a target's corpus (the README is not one).
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("a readable seed"))
        })
        .collect();
    out.sort();
    out
}

/// Runs `check` on every seed and names each one that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let failed: Vec<&str> = seeds
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(failed.is_empty(), "{target}: seeds failing: {failed:?}");
}

#[test]
fn eventstream_decoder_corpus() {
    replay("eventstream_decoder", eventstream_decoder::check);
}

#[test]
fn streaming_decoders_corpus() {
    replay("streaming_decoders", streaming_decoders::check);
}

/// Every seed again, cut differently: the control byte rewritten to feed
/// the stream in 1-byte chunks (and with each target switch), so the smoke
/// covers more than the seeds' own cuts.
#[test]
fn every_seed_byte_by_byte_with_each_switch() {
    for (target, check) in [
        (
            "eventstream_decoder",
            eventstream_decoder::check as fn(&[u8]),
        ),
        ("streaming_decoders", streaming_decoders::check),
    ] {
        for (name, data) in seeds(target) {
            let Some(input) = SplitInput::parse(&data, 2) else {
                continue;
            };
            for flags in 0..16u8 {
                let mut variant = vec![0x10 | flags];
                variant.extend_from_slice(input.params);
                variant.push(1);
                variant.extend_from_slice(input.stream);
                let ok = catch_unwind(AssertUnwindSafe(|| check(&variant))).is_ok();
                assert!(ok, "{target}/{name} with flags {flags:#x}, 1-byte chunks");
            }
        }
    }
}
