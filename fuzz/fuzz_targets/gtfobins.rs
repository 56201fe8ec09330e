//! The GTFOBins entry parser (YAML front matter) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::gtfobins;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "_gtfobins/entry".into(),
        bytes: bytes.to_vec(),
    };
    let _ = gtfobins::parse(&[file]);
});
