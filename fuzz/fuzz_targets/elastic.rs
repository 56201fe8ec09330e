//! The Elastic detection rules parser (TOML) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::elastic;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "rules/windows/rule.toml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = elastic::parse(&[file]);
});
