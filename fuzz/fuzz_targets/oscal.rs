//! The OSCAL parser (XML and JSON, told apart by content) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::oscal;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "catalog.xml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = oscal::parse(&[file]);
});
