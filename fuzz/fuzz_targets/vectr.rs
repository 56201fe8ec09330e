//! The VECTR CSV export reader on arbitrary bytes: a reason, never a panic, a hang or a blown stack.
#![no_main]

use importers::interop::vectr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = vectr::parse(bytes);
});
