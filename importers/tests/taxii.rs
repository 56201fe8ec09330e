//! The TAXII 2.1 client against a real TAXII 2.1 server: medallion, the OASIS reference implementation
//! (installed by `deploy/dev/ensure-medallion`), serving the ICS ATT&CK bundle of the corpus from its memory
//! backend, 400 objects a page at most, behind basic authentication. Each test starts its own server on a free
//! port and stops it when done. Expected numbers come from the bundle itself, read with `serde_json::Value`.

#![allow(clippy::unwrap_used)]

// Each test binary uses its own part of the shared helpers.
#[allow(dead_code)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use importers::parsers::attack;
use importers::record::{CatalogRecord, Parsed, RecordKind, SourceFile};
use importers::taxii::{self, Config, Credentials, TaxiiError};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ICS_BUNDLE: &str = "mitre-attack/ics-attack.json";
const ICS_COLLECTION: &str = "1f58a3a6-43c4-4a4b-9e2c-2d1c5b1f8d21";
const ICS_TITLE: &str = "ICS ATT&CK";
const EMPTY_COLLECTION: &str = "7d0e3c9b-6b7e-4d8a-a1f3-5f8c2e4b9a10";
const EMPTY_TITLE: &str = "Empty";
/// medallion's `taxii.max_page_size`: the client asks for more, so the server's cap is what pages.
const SERVER_PAGE_SIZE: usize = 400;
const USER: &str = "aegis";
const PASSWORD: &str = "correct horse";

/// The ICS bundle's objects, and the date each is added to the collection: one second apart, in bundle order,
/// from `FIRST_ADDED`.
struct Bundle {
    file: SourceFile,
    objects: Vec<Value>,
}

fn first_added() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn added(index: usize) -> DateTime<Utc> {
    first_added() + TimeDelta::seconds(i64::try_from(index).unwrap())
}

fn bundle() -> Bundle {
    let path = support::corpus_dir().join(ICS_BUNDLE);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    let objects = value["objects"].as_array().unwrap().clone();
    Bundle {
        file: SourceFile {
            path: ICS_BUNDLE.into(),
            bytes,
        },
        objects,
    }
}

/// The medallion executable: `$AEGIS_MEDALLION`, else where `deploy/dev/ensure-medallion` puts it.
fn medallion_executable() -> PathBuf {
    let path = std::env::var_os("AEGIS_MEDALLION").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/venv-medallion/bin/medallion"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "medallion, the TAXII 2.1 reference server these tests run against, is not at {}: run \
         deploy/dev/ensure-medallion (it installs it into target/venv-medallion and prints its path) or set \
         AEGIS_MEDALLION to a medallion executable",
        path.display()
    );
    path
}

/// The Python interpreter of a pip-installed `medallion` script: its `#!` line.
fn interpreter(medallion: &Path) -> Vec<String> {
    let script = std::fs::read_to_string(medallion).unwrap();
    let words: Vec<String> = script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    assert!(
        words.iter().any(|word| word.contains("python")),
        "{} does not start with a #! line naming Python; point AEGIS_MEDALLION at the script pip installs",
        medallion.display()
    );
    words
}

/// medallion's own entry point, with one pure function memoised: its memory backend compares every manifest
/// entry with every object and parses both timestamps with `strptime` each time, so the first page of the
/// 1,825 ICS objects takes 17 s; with the cache, about 2 s. Nothing else changes.
const LAUNCHER: &str = "\
import functools, sys
import medallion.common
medallion.common.string_to_datetime = functools.lru_cache(maxsize=None)(medallion.common.string_to_datetime)
from medallion.scripts.run import main
sys.exit(main())
";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running medallion, killed when dropped.
struct Medallion {
    child: Child,
    port: u16,
    _directory: tempfile::TempDir,
}

impl Medallion {
    /// Serves two API roots: `ics` (the default) with the ICS collection, and `extra`, named by a relative URL,
    /// with an empty collection.
    fn start(bundle: &Bundle) -> Self {
        let medallion = medallion_executable();
        let port = free_port();
        let directory = tempfile::tempdir().unwrap();
        let data_path = directory.path().join("data.json");
        let config_path = directory.path().join("config.json");
        let launcher_path = directory.path().join("launch.py");
        let log_path = directory.path().join("medallion.log");

        let bundle_spec_version = bundle.file_spec_version();
        let manifest: Vec<Value> = bundle
            .objects
            .iter()
            .enumerate()
            .map(|(index, object)| {
                let spec_version = object["spec_version"]
                    .as_str()
                    .unwrap_or(&bundle_spec_version);
                json!({
                    "id": object["id"],
                    "date_added": taxii::taxii_time(added(index)),
                    "version": object.get("modified").or_else(|| object.get("created")).unwrap(),
                    "media_type": format!("application/stix+json;version={spec_version}"),
                })
            })
            .collect();
        let information = |title: &str| {
            json!({
                "title": title,
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10_485_760,
            })
        };
        // The memory backend's data file: discovery, then each API root by the last segment of its URL.
        let data = json!({
            "/discovery": {
                "title": "Aegis test server",
                "default": format!("http://127.0.0.1:{port}/ics/"),
                "api_roots": [format!("http://127.0.0.1:{port}/ics/"), "/extra/"],
            },
            "ics": {
                "information": information("ATT&CK"),
                "status": [],
                "collections": [{
                    "id": ICS_COLLECTION,
                    "title": ICS_TITLE,
                    "description": "The ICS ATT&CK bundle of the corpus",
                    "can_read": true,
                    "can_write": false,
                    "media_types": [format!("application/stix+json;version={bundle_spec_version}")],
                    "objects": bundle.objects,
                    "manifest": manifest,
                }],
            },
            "extra": {
                "information": information("Extra"),
                "status": [],
                "collections": [{
                    "id": EMPTY_COLLECTION,
                    "title": EMPTY_TITLE,
                    "can_read": true,
                    "can_write": false,
                    "media_types": [],
                    "objects": [],
                    "manifest": [],
                }],
            },
        });
        std::fs::write(&data_path, serde_json::to_vec(&data).unwrap()).unwrap();
        let config = json!({
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": data_path,
            },
            "users": { USER: PASSWORD },
            "taxii": { "max_page_size": SERVER_PAGE_SIZE },
        });
        std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
        std::fs::write(&launcher_path, LAUNCHER).unwrap();

        let interpreter = interpreter(&medallion);
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&interpreter[0])
            .args(&interpreter[1..])
            .arg(&launcher_path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--log-level", "ERROR"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", interpreter[0]));
        let mut server = Self {
            child,
            port,
            _directory: directory,
        };
        server.wait_until_it_answers(&log_path);
        server
    }

    /// medallion loads its data before it listens, so an accepted connection means it is ready.
    fn wait_until_it_answers(&mut self, log_path: &Path) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                panic!("medallion exited ({status}) before answering:\n{log}");
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "medallion does not answer on port {} after 20 s:\n{}",
                self.port,
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn discovery_url(&self) -> String {
        format!("http://127.0.0.1:{}/taxii2/", self.port)
    }

    fn config(&self, collection: &str) -> Config {
        let mut config = Config::new(&self.discovery_url(), collection).unwrap();
        config.credentials = Some(Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        });
        config
    }
}

impl Drop for Medallion {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Bundle {
    /// STIX 2.0 bundles carry the version on the bundle; 2.1 objects carry their own.
    fn file_spec_version(&self) -> String {
        let value: Value = serde_json::from_slice(&self.file.bytes).unwrap();
        value["spec_version"].as_str().unwrap_or("2.1").to_owned()
    }
}

fn install_crypto_provider() {
    // reqwest is built without a default provider; a second install (another test) is refused, harmlessly.
    rustls::crypto::ring::default_provider()
        .install_default()
        .ok();
}

/// The objects of a fetch's pages, read independently of the client (which only counts them).
fn page_objects(pages: &[SourceFile]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| {
            let envelope: Value = serde_json::from_slice(&page.bytes).unwrap();
            envelope["objects"].as_array().unwrap().clone()
        })
        .collect()
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|object| object["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted_records(parsed: &Parsed) -> Vec<CatalogRecord> {
    let mut records = parsed.records.clone();
    records.sort_by(|left, right| {
        (left.kind, &left.scope, &left.id).cmp(&(right.kind, &right.scope, &right.id))
    });
    records
}

fn counts_by_kind(parsed: &Parsed) -> BTreeMap<RecordKind, usize> {
    let mut counts = BTreeMap::new();
    for record in &parsed.records {
        *counts.entry(record.kind).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn a_whole_collection_comes_in_pages_that_parse_like_the_bundle() {
    install_crypto_provider();
    let bundle = bundle();
    let server = Medallion::start(&bundle);
    // By title, ignoring case, with the credentials in the URL.
    let url = format!(
        "http://{USER}:{}@127.0.0.1:{}/taxii2/",
        PASSWORD.replace(' ', "%20"),
        server.port
    );
    let config = Config::new(&url, "ics att&ck").unwrap();

    let fetched = taxii::fetch(&config, &|_| {}).await.unwrap();

    assert_eq!(fetched.located.collection.id, ICS_COLLECTION);
    assert_eq!(
        fetched.located.api_root.as_str(),
        format!("http://127.0.0.1:{}/ics/", server.port)
    );
    let expected_pages = bundle.objects.len().div_ceil(SERVER_PAGE_SIZE);
    assert!(expected_pages > 1);
    assert_eq!(fetched.pages.len(), expected_pages);
    let names: Vec<String> = fetched
        .pages
        .iter()
        .map(|page| page.path.display().to_string())
        .collect();
    assert_eq!(names[0], format!("taxii/{ICS_COLLECTION}/page-0001.json"));
    assert_eq!(
        names[expected_pages - 1],
        format!("taxii/{ICS_COLLECTION}/page-{expected_pages:04}.json")
    );
    assert_eq!(fetched.objects, bundle.objects.len());
    let fetched_objects = page_objects(&fetched.pages);
    assert_eq!(fetched_objects.len(), bundle.objects.len());
    assert_eq!(ids(&fetched_objects), ids(&bundle.objects));
    assert_eq!(fetched.newest_added, Some(added(bundle.objects.len() - 1)));

    // All pages in one call: relationships and the objects they join are on different pages.
    let from_pages = attack::parse(&fetched.pages);
    let from_bundle = attack::parse(std::slice::from_ref(&bundle.file));
    assert_eq!(from_pages.failures, []);
    assert_eq!(from_bundle.failures, []);
    assert!(from_bundle.records.len() > 200);
    assert_eq!(counts_by_kind(&from_pages), counts_by_kind(&from_bundle));
    assert_eq!(from_pages.upstream_version, from_bundle.upstream_version);
    assert_eq!(sorted_records(&from_pages), sorted_records(&from_bundle));
}

#[tokio::test]
async fn added_after_fetches_only_the_objects_added_later() {
    install_crypto_provider();
    let bundle = bundle();
    let server = Medallion::start(&bundle);
    let total = bundle.objects.len();
    let first_new = total - 325;
    let mut config = server.config(ICS_COLLECTION);
    config.added_after = Some(added(first_new - 1));
    config.page_size = 100;

    let fetched = taxii::fetch(&config, &|_| {}).await.unwrap();

    assert_eq!(fetched.objects, total - first_new);
    assert!(fetched.objects < total);
    assert_eq!(fetched.pages.len(), (total - first_new).div_ceil(100));
    let fetched_objects = page_objects(&fetched.pages);
    assert_eq!(ids(&fetched_objects), ids(&bundle.objects[first_new..]));
    assert_eq!(fetched.newest_added, Some(added(total - 1)));

    // Nothing added after the newest object: no page at all.
    config.added_after = fetched.newest_added;
    let nothing = taxii::fetch(&config, &|_| {}).await.unwrap();
    assert_eq!((nothing.objects, nothing.pages.len()), (0, 0));
}

#[tokio::test]
async fn collections_are_found_by_id_or_title_and_failures_say_why() {
    install_crypto_provider();
    let bundle = bundle();
    let server = Medallion::start(&bundle);

    // By id, ignoring case; by title in the second API root, which discovery names by a relative URL.
    let by_id = taxii::locate(&server.config(&ICS_COLLECTION.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(by_id.collection.title, ICS_TITLE);
    let by_title = taxii::locate(&server.config("EMPTY")).await.unwrap();
    assert_eq!(by_title.collection.id, EMPTY_COLLECTION);
    assert_eq!(
        by_title.api_root.as_str(),
        format!("http://127.0.0.1:{}/extra/", server.port)
    );
    let empty = taxii::fetch(&server.config(EMPTY_COLLECTION), &|_| {})
        .await
        .unwrap();
    assert_eq!((empty.objects, empty.pages.len()), (0, 0));

    let error = taxii::locate(&server.config("Enterprise ATT&CK"))
        .await
        .unwrap_err();
    let TaxiiError::CollectionNotFound {
        wanted, available, ..
    } = &error
    else {
        panic!("expected CollectionNotFound, got {error:?}");
    };
    assert_eq!(wanted, "Enterprise ATT&CK");
    let listed: Vec<(&str, &str)> = available
        .iter()
        .map(|collection| (collection.id.as_str(), collection.title.as_str()))
        .collect();
    assert_eq!(
        listed,
        [(ICS_COLLECTION, ICS_TITLE), (EMPTY_COLLECTION, EMPTY_TITLE)]
    );
    let message = error.to_string();
    assert!(message.contains(ICS_COLLECTION) && message.contains("\"ICS ATT&CK\""));

    let mut wrong_password = server.config(ICS_COLLECTION);
    wrong_password.credentials = Some(Credentials {
        username: USER.into(),
        password: "wrong".into(),
    });
    let error = taxii::locate(&wrong_password).await.unwrap_err();
    assert!(
        matches!(&error, TaxiiError::Status { status, message: Some(_), url }
            if *status == StatusCode::UNAUTHORIZED && url == &server.discovery_url()),
        "{error:?}"
    );

    let nobody_there = Config::new(&format!("http://127.0.0.1:{}/", free_port()), "x").unwrap();
    let error = taxii::locate(&nobody_there).await.unwrap_err();
    assert!(
        matches!(&error, TaxiiError::Unreachable { .. }),
        "{error:?}"
    );
}
