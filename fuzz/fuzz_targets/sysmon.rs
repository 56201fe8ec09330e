//! The Sysmon configuration parser (XML) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::sysmon;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "1_process_creation/include_rule.xml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = sysmon::parse(&[file]);
});
