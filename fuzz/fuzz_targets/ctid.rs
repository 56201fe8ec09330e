//! The CTID mappings parser (JSON) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::ctid;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "mappings.json".into(),
        bytes: bytes.to_vec(),
    };
    let _ = ctid::parse(&[file]);
});
