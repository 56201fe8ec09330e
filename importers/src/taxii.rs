//! A TAXII 2.1 client: from a server's discovery URL and a collection (its id or its title) to the collection's
//! objects, one [`SourceFile`] per page, which the ATT&CK parser reads like bundles.
//!
//! The flow is the specification's (TAXII 2.1, sections 4 and 5): discovery (`GET …/taxii2/`) names the API
//! roots; each root lists its collections (`GET {root}collections/`), matched by id or by title, ignoring case;
//! the objects (`GET {root}collections/{id}/objects/`) come in pages, each an envelope `{"more", "next",
//! "objects"}`, followed with `next` until `more` is false. Every request asks for
//! `application/taxii+json;version=2.1` and sends the basic-auth credentials, if any.
//!
//! Every page must reach the parser in one call: a relationship and the objects it joins are often on different
//! pages. For the same reason an incremental fetch (`added_after`) gives incomplete records — a relationship whose
//! technique is not on the fetched pages is dropped — so catalog imports fetch whole collections by default and
//! `added_after` is an option for looking at what changed.
//!
//! Server behaviour handled here:
//! - medallion (the OASIS reference server) answers 500 to a `next` request without `limit`, and 400 when a
//!   `next` request's filters differ from the first request's: every request sends `limit` and the same
//!   `added_after`.
//! - An empty result may be `{}` (no `more`, no `objects`): both default to nothing. Pages without objects are
//!   not passed on (the parser would have nothing to read in them).
//! - The specification lets a server page without `next`: then the next request sets `added_after` to the
//!   page's `X-TAXII-Date-Added-Last`.
//! - API root URLs in discovery may be relative: they are resolved against the discovery URL.
//! - Error answers are TAXII error resources (`title`, `description`) or, from authentication layers, plain text:
//!   either is kept as the error's message.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::percent_decode_str;
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::fetch::{self, FetchError};
use crate::record::SourceFile;

/// The media type every request accepts.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// Objects asked for per page; servers cap it at their own maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

const DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";

/// Basic-auth credentials. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What to fetch and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The server's discovery endpoint, without user or password (those are in `credentials`).
    pub discovery_url: Url,
    /// A collection's id or title (titles are compared ignoring case).
    pub collection: String,
    /// Only objects added after this time (an incremental fetch: incomplete records, see the module docs).
    pub added_after: Option<DateTime<Utc>>,
    pub credentials: Option<Credentials>,
    pub page_size: u32,
}

impl Config {
    /// `server` is a discovery URL (`https://host/taxii2/`) or a server's base URL (`https://host`, to which
    /// `taxii2/` is added). A user and password in the URL become the credentials and leave the URL.
    pub fn new(server: &str, collection: &str) -> Result<Self, TaxiiError> {
        let invalid = |reason: String| TaxiiError::InvalidUrl {
            url: redact(server),
            reason,
        };
        let mut url = Url::parse(server.trim()).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("not an http or https URL".into()));
        }
        let credentials = (!url.username().is_empty()).then(|| Credentials {
            username: percent_decode_str(url.username())
                .decode_utf8_lossy()
                .into_owned(),
            password: url
                .password()
                .map(|password| {
                    percent_decode_str(password)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .unwrap_or_default(),
        });
        // Only URLs with a host have userinfo, and those accept an empty one.
        url.set_username("").ok();
        url.set_password(None).ok();
        if url.path() == "/" {
            url.set_path("/taxii2/");
        }
        with_trailing_slash(&mut url);
        let collection = collection.trim();
        if collection.is_empty() {
            return Err(TaxiiError::CollectionNotNamed);
        }
        Ok(Self {
            discovery_url: url,
            collection: collection.to_owned(),
            added_after: None,
            credentials,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// The fetch as a user would write it, never with a password.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.discovery_url, self.collection);
        if let Some(added_after) = self.added_after {
            text.push_str(" --added-after ");
            text.push_str(&taxii_time(added_after));
        }
        text
    }
}

/// A collection as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Collection {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// The collection a [`Config`] names, and the API root it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub api_root: Url,
    pub collection: Collection,
}

/// One collection in an error's list of what the server has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSummary {
    pub api_root: String,
    pub id: String,
    pub title: String,
}

impl fmt::Display for CollectionSummary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {:?} (in {})",
            self.id, self.title, self.api_root
        )
    }
}

/// A whole fetch: the pages in the server's order, numbered from 1.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub located: Located,
    /// `taxii/<collection-id>/page-0001.json`, … Pages without objects are left out.
    pub pages: Vec<SourceFile>,
    pub objects: usize,
    /// The latest `X-TAXII-Date-Added-Last` of the pages: where a later incremental fetch would start.
    pub newest_added: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxiiError {
    #[error("not a TAXII server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("no collection named: give a collection's id or title")]
    CollectionNotNamed,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered {status}{}", message.as_deref().map(|message| format!(": {message}")).unwrap_or_default())]
    Status {
        url: String,
        status: StatusCode,
        /// The server's TAXII error (`title: description`) or the plain text it sent.
        message: Option<String>,
    },
    #[error("{url} sent more than a page may hold")]
    TooLarge { url: String },
    #[error("{url} is not a TAXII {expected}: {reason}")]
    Malformed {
        url: String,
        expected: &'static str,
        reason: String,
    },
    #[error(
        "no collection {wanted:?} on {server}; the server has {}",
        list(available)
    )]
    CollectionNotFound {
        server: String,
        wanted: String,
        available: Vec<CollectionSummary>,
    },
    #[error(
        "{wanted:?} is the title of several collections on {server}, give an id: {}",
        list(matches)
    )]
    CollectionAmbiguous {
        server: String,
        wanted: String,
        matches: Vec<CollectionSummary>,
    },
}

fn list(collections: &[CollectionSummary]) -> String {
    if collections.is_empty() {
        return "no collection".into();
    }
    collections
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the collection `config` names: by id in any API root (the default first), else by title.
pub async fn locate(config: &Config) -> Result<Located, TaxiiError> {
    Session::new(config)?.locate(config).await
}

/// Fetches every page of the collection `config` names; `on_page` hears the number of pages so far.
pub async fn fetch(
    config: &Config,
    on_page: &(dyn Fn(usize) + Sync),
) -> Result<Fetched, TaxiiError> {
    let session = Session::new(config)?;
    let located = session.locate(config).await?;
    session.objects(located, config, on_page).await
}

#[derive(Deserialize)]
struct Discovery {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    api_roots: Vec<String>,
}

#[derive(Deserialize)]
struct Collections {
    #[serde(default)]
    collections: Vec<Collection>,
}

/// A page of objects; the objects themselves are the parser's business, only counted here.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    more: bool,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    objects: Vec<IgnoredAny>,
}

/// A TAXII error resource.
#[derive(Deserialize)]
struct ErrorResource {
    title: String,
    #[serde(default)]
    description: Option<String>,
}

struct Answer {
    url: Url,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self, expected: &'static str) -> Result<T, TaxiiError> {
        serde_json::from_slice(&self.bytes).map_err(|error| TaxiiError::Malformed {
            url: self.url.to_string(),
            expected,
            reason: error.to_string(),
        })
    }
}

struct Session {
    http: reqwest::Client,
    credentials: Option<Credentials>,
}

impl Session {
    fn new(config: &Config) -> Result<Self, TaxiiError> {
        Ok(Self {
            http: fetch::client().map_err(|error| TaxiiError::Client(error_chain(&error)))?,
            credentials: config.credentials.clone(),
        })
    }

    async fn get(&self, url: Url) -> Result<Answer, TaxiiError> {
        let mut request = self.http.get(url.clone()).header(ACCEPT, MEDIA_TYPE);
        if let Some(credentials) = &self.credentials {
            request = request.basic_auth(&credentials.username, Some(&credentials.password));
        }
        let unreachable = |url: &Url, error: &dyn std::error::Error| TaxiiError::Unreachable {
            url: url.to_string(),
            reason: error_chain(error),
        };
        let response = request
            .send()
            .await
            .map_err(|error| unreachable(&url, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = fetch::body(response).await.map_err(|error| match error {
            FetchError::TooLarge => TaxiiError::TooLarge {
                url: url.to_string(),
            },
            other => unreachable(&url, &other),
        })?;
        if !status.is_success() {
            return Err(TaxiiError::Status {
                url: url.to_string(),
                status,
                message: error_message(&bytes),
            });
        }
        Ok(Answer {
            url,
            headers,
            bytes,
        })
    }

    /// The API roots discovery names, the default first, as absolute URLs ending in `/`.
    async fn api_roots(&self, discovery_url: &Url) -> Result<Vec<Url>, TaxiiError> {
        let answer = self.get(discovery_url.clone()).await?;
        let discovery: Discovery = answer.json("discovery resource")?;
        let mut roots: Vec<Url> = Vec::new();
        for root in discovery.default.iter().chain(&discovery.api_roots) {
            let mut url = discovery_url
                .join(root)
                .map_err(|error| TaxiiError::Malformed {
                    url: discovery_url.to_string(),
                    expected: "discovery resource",
                    reason: format!("API root {root:?}: {error}"),
                })?;
            with_trailing_slash(&mut url);
            if !roots.contains(&url) {
                roots.push(url);
            }
        }
        if roots.is_empty() {
            return Err(TaxiiError::Malformed {
                url: discovery_url.to_string(),
                expected: "discovery resource",
                reason: "it names no API root".into(),
            });
        }
        Ok(roots)
    }

    async fn locate(&self, config: &Config) -> Result<Located, TaxiiError> {
        let wanted = config.collection.as_str();
        let mut seen: Vec<(Url, Collection)> = Vec::new();
        for api_root in self.api_roots(&config.discovery_url).await? {
            let url = api_root
                .join("collections/")
                .unwrap_or_else(|_| api_root.clone());
            let collections: Collections = self.get(url).await?.json("collections resource")?;
            for collection in collections.collections {
                if collection.id.eq_ignore_ascii_case(wanted) {
                    return Ok(Located {
                        api_root,
                        collection,
                    });
                }
                seen.push((api_root.clone(), collection));
            }
        }
        let summary = |(api_root, collection): &(Url, Collection)| CollectionSummary {
            api_root: api_root.to_string(),
            id: collection.id.clone(),
            title: collection.title.clone(),
        };
        let titled: Vec<&(Url, Collection)> = seen
            .iter()
            .filter(|(_, collection)| collection.title.to_lowercase() == wanted.to_lowercase())
            .collect();
        match titled.as_slice() {
            [(api_root, collection)] => Ok(Located {
                api_root: api_root.clone(),
                collection: collection.clone(),
            }),
            [] => Err(TaxiiError::CollectionNotFound {
                server: config.discovery_url.to_string(),
                wanted: wanted.to_owned(),
                available: seen.iter().map(summary).collect(),
            }),
            several => Err(TaxiiError::CollectionAmbiguous {
                server: config.discovery_url.to_string(),
                wanted: wanted.to_owned(),
                matches: several.iter().copied().map(summary).collect(),
            }),
        }
    }

    async fn objects(
        &self,
        located: Located,
        config: &Config,
        on_page: &(dyn Fn(usize) + Sync),
    ) -> Result<Fetched, TaxiiError> {
        let mut objects_url = located.api_root.clone();
        objects_url
            .path_segments_mut()
            .map_err(|()| TaxiiError::InvalidUrl {
                url: located.api_root.to_string(),
                reason: "cannot hold a path".into(),
            })?
            .pop_if_empty()
            .extend(["collections", &located.collection.id, "objects", ""]);
        let mut pages = Vec::new();
        let mut objects = 0;
        let mut newest_added = None;
        let mut added_after = config.added_after;
        let mut next: Option<String> = None;
        loop {
            let mut url = objects_url.clone();
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("limit", &config.page_size.to_string());
                if let Some(added_after) = added_after {
                    query.append_pair("added_after", &taxii_time(added_after));
                }
                if let Some(next) = &next {
                    query.append_pair("next", next);
                }
            }
            let answer = self.get(url).await?;
            let envelope: Envelope = answer.json("envelope")?;
            let page_added_last = answer
                .headers
                .get(DATE_ADDED_LAST)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| DateTime::parse_from_rfc3339(value.trim()).ok())
                .map(|time| time.with_timezone(&Utc));
            newest_added = newest_added.max(page_added_last);
            let count = envelope.objects.len();
            if count > 0 {
                objects += count;
                let path = format!(
                    "taxii/{}/page-{:04}.json",
                    located.collection.id,
                    pages.len() + 1
                );
                pages.push(SourceFile {
                    path: path.into(),
                    bytes: answer.bytes,
                });
                on_page(pages.len());
            }
            if !envelope.more {
                break;
            }
            let malformed = |reason: &str| TaxiiError::Malformed {
                url: answer.url.to_string(),
                expected: "envelope",
                reason: reason.into(),
            };
            // Without these checks a server that keeps saying `more` would be asked forever.
            if count == 0 {
                return Err(malformed("a page without objects says there are more"));
            }
            if let Some(token) = envelope.next {
                next = Some(token);
                continue;
            }
            match page_added_last {
                Some(last) if added_after.is_none_or(|previous| last > previous) => {
                    added_after = Some(last);
                }
                Some(_) => {
                    return Err(malformed(
                        "more pages without `next`, and X-TAXII-Date-Added-Last does not advance",
                    ));
                }
                None => {
                    return Err(malformed(
                        "more pages without `next` or X-TAXII-Date-Added-Last",
                    ));
                }
            }
        }
        Ok(Fetched {
            located,
            pages,
            objects,
            newest_added,
        })
    }
}

/// A time as TAXII writes them (`2025-10-28T14:03:01.123456Z`, what the reference server parses).
pub fn taxii_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `text` without the password, if it is a URL with one (or, if it does not parse, without its userinfo).
pub fn redact(text: &str) -> String {
    match Url::parse(text.trim()) {
        Ok(mut url) if url.password().is_some() => {
            url.set_password(Some("redacted")).ok();
            url.to_string()
        }
        Ok(_) => text.to_owned(),
        Err(_) => {
            let Some((scheme, rest)) = text.split_once("://") else {
                return text.to_owned();
            };
            let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
            match authority.rfind('@') {
                Some(at) => format!("{scheme}://redacted@{}", &rest[at + 1..]),
                None => text.to_owned(),
            }
        }
    }
}

fn with_trailing_slash(url: &mut Url) {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
}

/// The message of an error answer: a TAXII error resource's title and description, else the text itself.
fn error_message(bytes: &[u8]) -> Option<String> {
    if let Ok(error) = serde_json::from_slice::<ErrorResource>(bytes) {
        return Some(match error.description {
            Some(description) if !description.is_empty() => {
                format!("{}: {description}", error.title)
            }
            _ => error.title,
        });
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(300).collect())
}

/// An error with its causes: reqwest's own message ("error sending request") hides the reason.
fn error_chain(error: &dyn std::error::Error) -> String {
    std::iter::successors(Some(error), |error| error.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_becomes_its_discovery_url_and_its_userinfo_the_credentials() {
        let config = Config::new("https://reader:p%40ss@taxii.example.org", " ICS ATT&CK ")
            .expect("a valid URL");
        assert_eq!(
            config.discovery_url.as_str(),
            "https://taxii.example.org/taxii2/"
        );
        assert_eq!(
            config.credentials,
            Some(Credentials {
                username: "reader".into(),
                password: "p@ss".into(),
            })
        );
        assert_eq!(config.collection, "ICS ATT&CK");
        assert!(!format!("{config:?}").contains("p@ss"));
        assert!(!config.describe().contains("p%40ss"));
    }

    #[test]
    fn a_discovery_url_is_kept_with_a_trailing_slash() {
        let config = Config::new("http://127.0.0.1:5000/taxii2", "x").expect("a valid URL");
        assert_eq!(
            config.discovery_url.as_str(),
            "http://127.0.0.1:5000/taxii2/"
        );
        assert_eq!(config.credentials, None);
    }

    #[test]
    fn bad_urls_and_missing_collections_are_refused() {
        assert!(matches!(
            Config::new("ftp://example.org/taxii2/", "x"),
            Err(TaxiiError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Config::new("https://u:secret@[bad", "x"),
            Err(TaxiiError::InvalidUrl { url, .. }) if url == "https://redacted@[bad"
        ));
        assert_eq!(
            Config::new("https://example.org/taxii2/", " "),
            Err(TaxiiError::CollectionNotNamed)
        );
    }

    #[test]
    fn error_answers_keep_the_servers_message() {
        assert_eq!(
            error_message(br#"{"title": "ProcessingError", "http_status": "404", "description": "Collection 'x' not found"}"#),
            Some("ProcessingError: Collection 'x' not found".into())
        );
        assert_eq!(
            error_message(b"Unauthorized Access"),
            Some("Unauthorized Access".into())
        );
        assert_eq!(error_message(b" "), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("https://reader:secret@example.org/taxii2/"),
            "https://reader:redacted@example.org/taxii2/"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
