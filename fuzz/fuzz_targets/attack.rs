//! The ATT&CK parser (STIX 2.x bundles, TAXII envelopes) on arbitrary bytes: a reason for the file, never a panic, a hang or a blown stack.
#![no_main]

use importers::parsers::attack;
use importers::record::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let file = SourceFile {
        path: "enterprise-attack.json".into(),
        bytes: bytes.to_vec(),
    };
    let _ = attack::parse(&[file]);
});
