//! The interop readers never panic, whatever the bytes: arbitrary input, and valid files cut and spliced at
//! random (seeded from the corpus's Navigator sample, VECTR export and ATTiRe README sample). Each gives values
//! or a reason; the rest of an import goes on.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod support;

use importers::interop::{execution_log, navigator, vectr};
use proptest::prelude::*;

fn seed(path: &str, limit: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(support::corpus_dir().join(path)).unwrap();
    bytes.truncate(limit);
    bytes
}

fn attire_sample() -> Vec<u8> {
    let readme = String::from_utf8(seed("attire/README.md", usize::MAX)).unwrap();
    readme
        .split("```js")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap()
        .as_bytes()
        .to_vec()
}

const ATOMIC_CSV: &str = "\"Execution Time (UTC)\",\"Execution Time (Local)\",\"Technique\",\"Test Number\",\"Test Name\",\"Hostname\",\"IP Address\",\"Username\",\"GUID\",\"ProcessId\",\"ExitCode\"\r\n\"2021-10-28T02:02:23Z\",\"2021-10-27T22:02:23Z\",\"T1218.010\",\"1\",\"Regsvr32\",\"HOST\",\"10.0.0.1\",\"HOST\\User\",\"c9d0c4ef-8a96-4794-a75b-3d3a5e6f2a36\",\"4242\",\"0\"\r\n";

/// `bytes` with `length` bytes from `position` replaced by `insert`.
fn splice(mut bytes: Vec<u8>, position: usize, length: usize, insert: &[u8]) -> Vec<u8> {
    let start = position.min(bytes.len());
    let end = (start + length).min(bytes.len());
    bytes.splice(start..end, insert.iter().copied());
    bytes
}

fn every_reader(bytes: &[u8]) {
    let _ = navigator::parse(bytes);
    let _ = vectr::parse(bytes);
    let _ = execution_log::parse_attire(bytes);
    let _ = execution_log::parse_atomic_csv(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        every_reader(&bytes);
    }

    #[test]
    fn spliced_files_never_panic(
        which in 0usize..4,
        position in 0usize..4096,
        length in 0usize..64,
        insert in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let valid = match which {
            0 => seed("attack-navigator/layers/samples/Bear_APT.json", 4096),
            1 => seed("vectr-tools/vectr_tools/csv_import_example/sample_data/DEMO_PURPLE_CE.csv", 4096),
            2 => attire_sample(),
            _ => ATOMIC_CSV.as_bytes().to_vec(),
        };
        every_reader(&splice(valid, position, length, &insert));
    }
}
