//! Second factor: time-based one-time passwords (RFC 6238) and single-use recovery codes.
//!
//! Codes are the RFC defaults every authenticator app understands: HMAC-SHA-1, 6 digits, 30-second steps.
//! Nothing here reads the clock; the command layer passes the current Unix time in, so tests use real codes
//! at fixed instants. Each code is usable once: [`verify`] returns the time step it matched, the caller
//! stores it, and the next login passes it back as `last_used_step`.

use std::fmt;

use rand::Rng as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use totp_rs::TOTP;

/// Length of a code in digits.
pub const DIGITS: usize = 6;
/// Length of a time step in seconds.
pub const STEP_SECONDS: u64 = 30;
/// How many steps either side of the current one are accepted, for phones whose clock drifts.
const SKEW_STEPS: u64 = 1;

/// A shared TOTP secret: 20 bytes (160 bits, the size RFC 4226 recommends).
///
/// Its `Debug` is redacted; it leaves the server only once, inside the enrolment URI.
#[derive(Clone)]
pub struct TotpSecret([u8; 20]);

impl TotpSecret {
    /// A fresh secret from the operating system's random number generator.
    pub fn generate() -> Self {
        let mut bytes = [0; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret read back from storage.
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(bytes)
    }

    /// The raw secret, for storing.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The secret in unpadded RFC 4648 base32, as authenticator apps expect it when typed by hand.
    pub fn to_base32(&self) -> String {
        self.totp().get_secret_base32()
    }

    /// The `otpauth://totp/Issuer:account?secret=…&issuer=Issuer&algorithm=SHA1&digits=6&period=30` URI
    /// an authenticator app enrols from; the web app renders it as a QR code.
    ///
    /// Neither `issuer` nor `account` may contain `:`, which separates them in the URI's label.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Result<String, OtpauthUriError> {
        if issuer.contains(':') {
            return Err(OtpauthUriError::ColonInIssuer);
        }
        if account.contains(':') {
            return Err(OtpauthUriError::ColonInAccount);
        }
        let totp = TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.to_vec(),
            Some(issuer.to_owned()),
            account.to_owned(),
        );
        // totp-rs leaves out parameters that equal the defaults; spelling them out costs nothing and
        // spares apps that guess differently.
        Ok(format!(
            "{}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            totp.get_url()
        ))
    }

    fn totp(&self) -> TOTP {
        // Skew is handled in `verify`, which needs to know which step matched; totp-rs' own check only
        // says whether one did.
        TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.to_vec(),
            None,
            String::new(),
        )
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("TotpSecret(<redacted>)")
    }
}

/// Why an enrolment URI could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OtpauthUriError {
    /// The issuer contains `:`, which would make the label ambiguous.
    #[error("the TOTP issuer must not contain ':'")]
    ColonInIssuer,
    /// The account name contains `:`, which would make the label ambiguous.
    #[error("the TOTP account name must not contain ':'")]
    ColonInAccount,
}

/// Why a TOTP code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpRejected {
    /// Not six digits.
    #[error("the code must be six digits")]
    Malformed,
    /// Six digits, but not the code for now or the neighbouring steps.
    #[error("the code is wrong or has expired")]
    Invalid,
    /// The code is right but its step was already used for a login.
    #[error("the code has already been used; wait for the next one")]
    Replayed,
}

/// The code `secret` produces at Unix time `unix`.
pub fn code_at(secret: &TotpSecret, unix: u64) -> String {
    secret.totp().generate(unix)
}

/// Checks `code` against the steps around `now_unix` and returns the step it matched.
///
/// The current step and one step either side are accepted. Whitespace inside the code is ignored because
/// apps display it as `123 456`. A match at or before `last_used_step` is [`TotpRejected::Replayed`]: the
/// caller must store the returned step so that each code logs in once.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now_unix: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpRejected> {
    let code: String = code
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    if code.len() != DIGITS || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(TotpRejected::Malformed);
    }
    let totp = secret.totp();
    let current = now_unix / STEP_SECONDS;
    let first = current.saturating_sub(SKEW_STEPS);
    let mut replayed = false;
    let mut matched = None;
    // Every candidate step is computed and compared, match or not, so the time taken does not depend on
    // which step (if any) the code belongs to.
    for step in first..=current + SKEW_STEPS {
        let expected = totp.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            if last_used_step.is_some_and(|last| step <= last) {
                replayed = true;
            } else if matched.is_none() {
                matched = Some(step);
            }
        }
    }
    match (matched, replayed) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(TotpRejected::Replayed),
        (None, false) => Err(TotpRejected::Invalid),
    }
}

/// Characters of a recovery code: Crockford's base32 in lower case, which leaves out `i`, `l`, `o` and `u`
/// so that nothing reads as `1`, `0` or another letter when copied from paper.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters on each side of the dash; ten characters of five bits each make 50 bits per code.
const RECOVERY_HALF: usize = 5;

/// Freshly generated recovery codes: the plaintext to show the person once, and the digests to store.
pub struct RecoveryCodes {
    codes: Vec<String>,
    digests: Vec<[u8; 32]>,
}

impl RecoveryCodes {
    /// How many codes an enrolment hands out.
    pub const DEFAULT_COUNT: usize = 10;

    /// `count` random codes formatted `xxxxx-xxxxx`.
    pub fn generate(count: usize) -> Self {
        let mut rng = rand::rngs::OsRng;
        let codes: Vec<String> = (0..count)
            .map(|_| {
                let mut code = String::with_capacity(2 * RECOVERY_HALF + 1);
                for position in 0..2 * RECOVERY_HALF {
                    if position == RECOVERY_HALF {
                        code.push('-');
                    }
                    code.push(char::from(
                        RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())],
                    ));
                }
                code
            })
            .collect();
        let digests = codes.iter().map(|code| recovery_digest(code)).collect();
        Self { codes, digests }
    }

    /// The plaintext codes, to show once and never store.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// SHA-256 digests of the normalised codes, in the same order, to store.
    pub fn digests(&self) -> &[[u8; 32]] {
        &self.digests
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RecoveryCodes")
            .field("count", &self.codes.len())
            .finish_non_exhaustive()
    }
}

/// The index in `stored` of the digest `candidate` matches, so the caller can delete that code.
///
/// The candidate is normalised first: surrounding whitespace, spaces and dashes are ignored, case does not
/// matter, and `o`, `i` and `l` (which are not in the alphabet) are read as `0`, `1` and `1`.
pub fn recovery_code_matches(candidate: &str, stored: &[[u8; 32]]) -> Option<usize> {
    let digest = recovery_digest(candidate);
    let mut found = None;
    // No early exit: every stored digest is compared in constant time.
    for (index, stored_digest) in stored.iter().enumerate() {
        if bool::from(digest.ct_eq(stored_digest)) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

fn recovery_digest(code: &str) -> [u8; 32] {
    let normalised: String = code
        .trim()
        .chars()
        .filter(|character| *character != '-' && !character.is_whitespace())
        .map(|character| match character.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    Sha256::digest(normalised.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The SHA-1 seed of RFC 6238 Appendix B.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(*b"12345678901234567890")
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        // The RFC lists 8-digit codes; 6-digit codes are their last six digits.
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                code_at(&rfc_secret(), time),
                eight_digits[2..],
                "T = {time}"
            );
        }
    }

    #[test]
    fn the_current_code_verifies_and_returns_its_step() {
        let now = 1_234_567_890;
        let code = code_at(&rfc_secret(), now);
        assert_eq!(
            verify(&rfc_secret(), &code, now, None),
            Ok(now / STEP_SECONDS)
        );
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(
            verify(&rfc_secret(), &spaced, now, None),
            Ok(now / STEP_SECONDS)
        );
    }

    #[test]
    fn one_step_of_skew_is_accepted_and_two_are_not() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = now / STEP_SECONDS;
        let previous = code_at(&secret, now - STEP_SECONDS);
        let next = code_at(&secret, now + STEP_SECONDS);
        assert_eq!(verify(&secret, &previous, now, None), Ok(step - 1));
        assert_eq!(verify(&secret, &next, now, None), Ok(step + 1));
        let two_before = code_at(&secret, now - 2 * STEP_SECONDS);
        let two_after = code_at(&secret, now + 2 * STEP_SECONDS);
        assert_eq!(
            verify(&secret, &two_before, now, None),
            Err(TotpRejected::Invalid)
        );
        assert_eq!(
            verify(&secret, &two_after, now, None),
            Err(TotpRejected::Invalid)
        );
    }

    #[test]
    fn the_first_steps_after_the_epoch_do_not_underflow() {
        let code = code_at(&rfc_secret(), 0);
        assert_eq!(verify(&rfc_secret(), &code, 5, None), Ok(0));
    }

    #[test]
    fn a_used_code_is_replayed() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let code = code_at(&secret, now);
        let used = verify(&secret, &code, now, None).unwrap();
        assert_eq!(
            verify(&secret, &code, now + 5, Some(used)),
            Err(TotpRejected::Replayed)
        );
        // An older code still inside the skew window is no way around it either.
        let previous = code_at(&secret, now - STEP_SECONDS);
        assert_eq!(
            verify(&secret, &previous, now, Some(used)),
            Err(TotpRejected::Replayed)
        );
        // The next step's code is fresh.
        let next = code_at(&secret, now + STEP_SECONDS);
        assert_eq!(
            verify(&secret, &next, now + STEP_SECONDS, Some(used)),
            Ok(used + 1)
        );
    }

    #[test]
    fn a_wrong_code_is_invalid() {
        let now = 1_234_567_890;
        let code = code_at(&rfc_secret(), now);
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(
            verify(&rfc_secret(), wrong, now, None),
            Err(TotpRejected::Invalid)
        );
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for malformed in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "123-456"] {
            assert_eq!(
                verify(&rfc_secret(), malformed, 1_234_567_890, None),
                Err(TotpRejected::Malformed),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn a_generated_secret_round_trips_through_bytes() {
        let secret = TotpSecret::generate();
        let restored = TotpSecret::from_bytes(*secret.as_bytes());
        assert_eq!(
            code_at(&secret, 1_234_567_890),
            code_at(&restored, 1_234_567_890)
        );
        assert_ne!(TotpSecret::generate().as_bytes(), secret.as_bytes());
    }

    #[test]
    fn otpauth_uri_carries_secret_issuer_and_parameters() {
        let secret = rfc_secret();
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = secret.otpauth_uri("Aegis", "alice@example.com").unwrap();
        assert_eq!(
            uri,
            "otpauth://totp/Aegis:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Aegis&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_refuses_colons_in_the_label() {
        let secret = rfc_secret();
        assert_eq!(
            secret.otpauth_uri("Ae:gis", "alice"),
            Err(OtpauthUriError::ColonInIssuer)
        );
        assert_eq!(
            secret.otpauth_uri("Aegis", "a:lice"),
            Err(OtpauthUriError::ColonInAccount)
        );
    }

    #[test]
    fn debug_never_prints_secrets() {
        assert_eq!(format!("{:?}", rfc_secret()), "TotpSecret(<redacted>)");
        let codes = RecoveryCodes::generate(2);
        let debug = format!("{codes:?}");
        assert!(
            codes
                .codes()
                .iter()
                .all(|code| !debug.contains(code.as_str())),
            "{debug}"
        );
    }

    #[test]
    fn recovery_codes_have_the_documented_shape() {
        let codes = RecoveryCodes::generate(RecoveryCodes::DEFAULT_COUNT);
        assert_eq!(codes.codes().len(), 10);
        assert_eq!(codes.digests().len(), 10);
        for code in codes.codes() {
            let (left, right) = code.split_once('-').unwrap();
            assert_eq!((left.len(), right.len()), (5, 5), "{code}");
            assert!(
                left.bytes()
                    .chain(right.bytes())
                    .all(|byte| RECOVERY_ALPHABET.contains(&byte)),
                "{code}"
            );
        }
    }

    #[test]
    fn recovery_codes_match_however_they_are_typed() {
        let codes = RecoveryCodes::generate(RecoveryCodes::DEFAULT_COUNT);
        for (index, code) in codes.codes().iter().enumerate() {
            assert_eq!(recovery_code_matches(code, codes.digests()), Some(index));
            let retyped = format!("  {} ", code.to_uppercase().replace('-', " "));
            assert_eq!(
                recovery_code_matches(&retyped, codes.digests()),
                Some(index),
                "{retyped:?}"
            );
        }
        assert_eq!(recovery_code_matches("00000-00000", codes.digests()), None);
    }

    #[test]
    fn ambiguous_letters_read_as_the_digits_they_resemble() {
        let stored = [recovery_digest("0a1b1-cdefg")];
        assert_eq!(recovery_code_matches("OaIbL-cdefg", &stored), Some(0));
    }

    #[test]
    fn a_removed_recovery_code_no_longer_matches() {
        let codes = RecoveryCodes::generate(RecoveryCodes::DEFAULT_COUNT);
        let mut stored = codes.digests().to_vec();
        let used = &codes.codes()[3];
        let index = recovery_code_matches(used, &stored).unwrap();
        stored.remove(index);
        assert_eq!(recovery_code_matches(used, &stored), None);
        assert_eq!(recovery_code_matches(&codes.codes()[4], &stored), Some(3));
    }
}
