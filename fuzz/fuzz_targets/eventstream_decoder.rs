//! libFuzzer entry point; the check itself is `sagerun_fuzz::eventstream_decoder::check`
//! (documented there), shared with the corpus replay in `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sagerun_fuzz::eventstream_decoder::check(data));
