//! The Invoke-AtomicRedTeam CSV execution-log reader on arbitrary bytes: a reason, never a panic, a hang or a
//! blown stack.
#![no_main]

use importers::interop::execution_log;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = execution_log::parse_atomic_csv(bytes);
});
