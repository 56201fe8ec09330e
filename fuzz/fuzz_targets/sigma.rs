//! The Sigma parser (YAML) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::sigma;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "rules/windows/process_creation/rule.yml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = sigma::parse(&[file]);
});
