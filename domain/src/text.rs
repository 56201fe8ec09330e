//! What the domain's string value types share: the [`string_newtype!`] macro for the code every one of them
//! needs around its own `parse`, and the checks that more than one of them applies with the same rules.
//!
//! Crate-private: the types are public, the way they are built is not.

/// Implements the parts every string value type (`struct Name(String)` with its own
/// `fn parse(input: &str) -> Result<Self, Error>`) shares, so that only its rules are written by hand:
///
/// - `as_str`: the value as `parse` left it (trimmed or normalised where the type's rules say so);
/// - `TryFrom<String>`, which calls `parse`: serde reads the type through it
///   (`#[serde(try_from = "String")]`), so a stored or received value is checked again and none bypasses
///   the rules;
/// - `From<Name> for String`: serde writes the type as a plain string (`#[serde(into = "String")]`);
/// - `Display`, writing the value unchanged; `string_newtype!(Name, Error, without Display)` leaves it out
///   for the types that have never had one (a campaign's description, the reasons for a cancellation or a
///   policy change), so folding them into the macro added no API.
///
/// Why a macro: these 25-odd lines were copied into every type, and a copy that drifted (a `TryFrom` that skips
/// `parse`) would let unchecked values into the event log. The type, its derives, its serde attributes and
/// its `parse` stay next to each other in the type's own module, where the rules are read.
macro_rules! string_newtype {
    ($type:ident, $error:ty) => {
        $crate::text::string_newtype!($type, $error, without Display);

        impl std::fmt::Display for $type {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
    ($type:ident, $error:ty, without Display) => {
        impl $type {
            /// The value as normalised by `parse`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $type {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.0
            }
        }
    };
}

// A path for the macro (`crate::text::string_newtype`), so modules import it like any other item instead of
// depending on the order of `mod` lines in `lib.rs`.
pub(crate) use string_newtype;

/// Trims `input` and checks that it is a one-line label (a name, a title, a keyword) of 1 to `max`
/// characters; the error is the reason, for the type's own error variant.
pub(crate) fn label(input: &str, max: usize) -> Result<&str, String> {
    let label = input.trim();
    if label.is_empty() {
        return Err("it is empty".to_owned());
    }
    // Characters, not bytes: a label in Greek or Japanese gets the same room as one in English.
    if label.chars().count() > max {
        return Err(format!("it is longer than {max} characters"));
    }
    if label.chars().any(char::is_control) {
        return Err("it contains control characters".to_owned());
    }
    Ok(label)
}

/// Trims `input` and checks that it is prose a person wrote (a reason, a comment) of 1 to `max` characters,
/// line breaks and tabs allowed; the error is the reason, for the type's own error variant.
pub(crate) fn prose(input: &str, max: usize) -> Result<&str, String> {
    let prose = input.trim();
    if prose.is_empty() {
        return Err("it is empty".to_owned());
    }
    if prose.chars().count() > max {
        return Err(format!("it is longer than {max} characters"));
    }
    if !prose.chars().all(is_allowed_in_text) {
        return Err("it contains control characters other than line breaks and tabs".to_owned());
    }
    Ok(prose)
}

/// Whether `character` is allowed in free text: line breaks and tabs yes (text areas send them), other
/// control characters no (they forge lines in logs and break layouts).
pub(crate) fn is_allowed_in_text(character: char) -> bool {
    !character.is_control() || matches!(character, '\n' | '\r' | '\t')
}

/// Whether an upper-cased `id` has the syntax of an ATT&CK technique or sub-technique id: `T`, four digits,
/// and for a sub-technique `.` and three digits (`T1003`, `T1003.001`). Whether ATT&CK knows the id is not
/// checked: that needs the catalogue, which the domain does not hold.
pub(crate) fn is_technique_id(id: &str) -> bool {
    let digits = |part: &str, count: usize| {
        part.len() == count && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    id.strip_prefix('T')
        .is_some_and(|number| match number.split_once('.') {
            Some((technique, sub_technique)) => digits(technique, 4) && digits(sub_technique, 3),
            None => digits(number, 4),
        })
}
