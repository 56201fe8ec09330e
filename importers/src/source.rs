//! The upstream sources an import can name (`aegis import <source> …`), and which parser reads each.

use std::path::Path;

use serde::Serialize;

use crate::parsers;
use crate::record::{Parsed, SourceFile};

/// One upstream source. `Taxii` reads the same STIX content as `Attack`, from a TAXII 2.1 server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Attack,
    Taxii,
    D3fend,
    Atomic,
    Caldera,
    Lolbas,
    Gtfobins,
    Sigma,
    Elastic,
    Sysmon,
    Ctid,
    Oscal,
}

/// A source name that is not one of [`Source::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source {0:?}; expected one of: {names}", names = Source::names())]
pub struct UnknownSource(pub String);

impl Source {
    pub const ALL: [Source; 12] = [
        Self::Attack,
        Self::Taxii,
        Self::D3fend,
        Self::Atomic,
        Self::Caldera,
        Self::Lolbas,
        Self::Gtfobins,
        Self::Sigma,
        Self::Elastic,
        Self::Sysmon,
        Self::Ctid,
        Self::Oscal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attack => "attack",
            Self::Taxii => "taxii",
            Self::D3fend => "d3fend",
            Self::Atomic => "atomic",
            Self::Caldera => "caldera",
            Self::Lolbas => "lolbas",
            Self::Gtfobins => "gtfobins",
            Self::Sigma => "sigma",
            Self::Elastic => "elastic",
            Self::Sysmon => "sysmon",
            Self::Ctid => "ctid",
            Self::Oscal => "oscal",
        }
    }

    fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// Whether a file found by walking a directory belongs to this source.
    pub fn accepts(self, path: &Path) -> bool {
        match self {
            Self::Attack | Self::Taxii => parsers::attack::accepts(path),
            Self::D3fend => parsers::d3fend::accepts(path),
            Self::Atomic => parsers::atomic::accepts(path),
            Self::Caldera => parsers::caldera::accepts(path),
            Self::Lolbas => parsers::lolbas::accepts(path),
            Self::Gtfobins => parsers::gtfobins::accepts(path),
            Self::Sigma => parsers::sigma::accepts(path),
            Self::Elastic => parsers::elastic::accepts(path),
            Self::Sysmon => parsers::sysmon::accepts(path),
            Self::Ctid => parsers::ctid::accepts(path),
            Self::Oscal => parsers::oscal::accepts(path),
        }
    }

    /// Parses every file of one import.
    pub fn parse(self, files: &[SourceFile]) -> Parsed {
        match self {
            Self::Attack | Self::Taxii => parsers::attack::parse(files),
            Self::D3fend => parsers::d3fend::parse(files),
            Self::Atomic => parsers::atomic::parse(files),
            Self::Caldera => parsers::caldera::parse(files),
            Self::Lolbas => parsers::lolbas::parse(files),
            Self::Gtfobins => parsers::gtfobins::parse(files),
            Self::Sigma => parsers::sigma::parse(files),
            Self::Elastic => parsers::elastic::parse(files),
            Self::Sysmon => parsers::sysmon::parse(files),
            Self::Ctid => parsers::ctid::parse(files),
            Self::Oscal => parsers::oscal::parse(files),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = UnknownSource;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == name.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownSource(name.to_owned()))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}
