//! The CALDERA abilities parser (YAML) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::caldera;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "data/abilities/execution/ability.yml".into(),
        bytes: bytes.to_vec(),
    };
    let _ = caldera::parse(&[file]);
});
