//! The Atomic Red Team parser (YAML) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::atomic;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "atomics/T1059.001/T1059.001.yaml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = atomic::parse(&[file]);
});
