//! Not a parser's target: the harness's own check, built and run like the others. It panics on input
//! starting `BUG!`, which libFuzzer finds within seconds by following the comparisons. `deploy/dev/fuzz
//! --planted` runs it and fails unless the run stops with a crash and writes the input that caused it: a
//! fuzzing step that cannot report a finding proves nothing. The regular runs skip it.
//!
//! It calls no parser on purpose: a parser's coverage gives libFuzzer thousands of other inputs to work on,
//! and the planted input was then not found within a minute.
#![no_main]

use std::hint::black_box;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // One comparison per byte, each its own branch (`black_box` keeps the compiler from merging them into
    // one four-byte comparison), so each right byte is new coverage and libFuzzer closes in a byte at a time.
    let byte = |index: usize| black_box(bytes.get(index).copied());
    if byte(0) == Some(b'B') && byte(1) == Some(b'U') && byte(2) == Some(b'G') && byte(3) == Some(b'!') {
        panic!("planted bug: the fuzzing harness found the input it was meant to find");
    }
});
