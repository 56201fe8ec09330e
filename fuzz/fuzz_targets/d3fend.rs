//! The D3FEND parser (Turtle) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::d3fend;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "d3fend.ttl".into(),
        bytes: bytes.to_vec(),
    };
    let _ = d3fend::parse(&[file]);
});
