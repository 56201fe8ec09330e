//! Biscuit tokens: minting for sessions and API tokens, verifying on every request, and the signing keys.
//!
//! A token's authority block names the user and the token (`user(…)`, `token(…)`) and checks its own expiry;
//! a read-only token also checks `operation("read")`. Holders may append blocks of their own (attenuation:
//! a shorter expiry, read-only) without asking Aegis; the verifier supplies `time(…)` and `operation(…)` and
//! only trusts `user` and `token` facts from the authority block. Revocation is not in the token: the
//! authority block's revocation id is looked up in Postgres on every request (see `session`).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use biscuit_auth::builder::{Algorithm, Term};
use biscuit_auth::{
    AuthorizerBuilder, AuthorizerLimits, Biscuit, BiscuitBuilder, KeyPair, PrivateKey, PublicKey,
};
use chrono::{DateTime, Utc};
use domain::access::Access;
use uuid::Uuid;

/// The keys tokens are signed and verified with. Rotation: sign with a new key under a new id while the
/// previous public keys still verify the tokens they signed, until those expire.
pub struct SigningKeys {
    current: KeyPair,
    current_id: u32,
    verifying: HashMap<u32, PublicKey>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("current_id", &self.current_id)
            .field("verifying_ids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("AEGIS_BISCUIT_PRIVATE_KEY is not a hex Ed25519 private key: {0}")]
    InvalidPrivateKey(String),
    #[error("AEGIS_BISCUIT_PREVIOUS_PUBLIC_KEYS must be `id:hex` pairs separated by commas: {0}")]
    InvalidPreviousKeys(String),
    #[error("cannot read or write the signing key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

impl SigningKeys {
    /// `private_key_hex` when given (production: from a secret); otherwise the key persisted under
    /// `data_dir`, generated on first start. `previous` lists `id:public-key-hex` pairs still accepted.
    pub fn load(
        private_key_hex: Option<&str>,
        key_id: u32,
        previous: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, KeyError> {
        let current = match private_key_hex {
            Some(hex) => key_pair_from_hex(hex)?,
            None => persisted_key_pair(&data_dir.join("biscuit-private-key"))?,
        };
        let mut verifying = HashMap::from([(key_id, current.public())]);
        for pair in previous
            .unwrap_or_default()
            .split(',')
            .filter(|pair| !pair.trim().is_empty())
        {
            let (id, hex) = pair
                .trim()
                .split_once(':')
                .ok_or_else(|| KeyError::InvalidPreviousKeys(pair.to_owned()))?;
            let id: u32 = id
                .parse()
                .map_err(|_| KeyError::InvalidPreviousKeys(pair.to_owned()))?;
            let key = PublicKey::from_bytes_hex(hex, Algorithm::Ed25519)
                .map_err(|error| KeyError::InvalidPreviousKeys(format!("{pair}: {error}")))?;
            verifying.entry(id).or_insert(key);
        }
        Ok(Self {
            current,
            current_id: key_id,
            verifying,
        })
    }

    /// A fresh key held in memory only (tests, benchmarks).
    pub fn ephemeral() -> Self {
        let current = KeyPair::new();
        Self {
            verifying: HashMap::from([(1, current.public())]),
            current,
            current_id: 1,
        }
    }

    /// The public key, hex, for `AEGIS_BISCUIT_PREVIOUS_PUBLIC_KEYS` during a rotation and for offline
    /// verification by integrators.
    pub fn public_key_hex(&self) -> String {
        self.current.public().to_bytes_hex()
    }

    /// The instance key's Ed25519 secret, for signing what this instance exports (portable history); the
    /// public half is [`Self::public_key_hex`].
    pub fn instance_secret(&self) -> [u8; 32] {
        let bytes = self.current.private().to_bytes();
        let mut secret = [0; 32];
        secret.copy_from_slice(&bytes[..32]);
        secret
    }
}

impl biscuit_auth::RootKeyProvider for &SigningKeys {
    fn choose(&self, key_id: Option<u32>) -> Result<PublicKey, biscuit_auth::error::Format> {
        self.verifying
            .get(&key_id.unwrap_or(self.current_id))
            .copied()
            .ok_or(biscuit_auth::error::Format::UnknownPublicKey)
    }
}

fn key_pair_from_hex(hex: &str) -> Result<KeyPair, KeyError> {
    let private = PrivateKey::from_bytes_hex(hex.trim(), Algorithm::Ed25519)
        .map_err(|error| KeyError::InvalidPrivateKey(error.to_string()))?;
    Ok(KeyPair::from(&private))
}

fn persisted_key_pair(path: &Path) -> Result<KeyPair, KeyError> {
    let file_error = |source| KeyError::File {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(hex) => key_pair_from_hex(&hex),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key_pair = KeyPair::new();
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(file_error)?;
            }
            match write_private(path, &key_pair.private().to_bytes_hex()) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "generated the token signing key");
                    Ok(key_pair)
                }
                // Another process sharing the data directory won the race: use its key.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let hex = std::fs::read_to_string(path).map_err(file_error)?;
                    key_pair_from_hex(&hex)
                }
                Err(error) => Err(file_error(error)),
            }
        }
        Err(error) => Err(file_error(error)),
    }
}

/// Writes a file only its owner can read, failing with `AlreadyExists` when it is there. The contents go to a
/// file of this process first and are linked into place whole, so a process racing to read `path` never sees
/// it empty or half-written.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let staged = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .and_then(|()| std::fs::hard_link(&staged, path));
    let _ = std::fs::remove_file(&staged);
    written
}

/// What Aegis writes into a token it issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub user_id: Uuid,
    pub token_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub read_only: bool,
}

/// A token's value (shown once) and the id it is revoked by.
#[derive(Clone)]
pub struct MintedToken {
    pub value: String,
    pub revocation_id: Vec<u8>,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("revocation_id", &hex::encode(&self.revocation_id))
            .finish_non_exhaustive()
    }
}

/// What a verified token says; whether it is still valid is decided against the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub token_id: Uuid,
    /// True when the token (or a block its holder appended) only allows reads.
    pub read_only: bool,
    pub revocation_ids: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Malformed, signed by an unknown key, or tampered with.
    #[error("the token is not valid")]
    Invalid,
    /// Its checks fail now (expired), whatever the operation.
    #[error("the token has expired or does not allow this")]
    Refused,
    /// Checking it took longer than [`LIMITS`] allow. That says nothing about the token, only that this
    /// process was too busy to finish (the fact and iteration limits catch a token that makes work on
    /// purpose), so the caller is told to try again: neither read-only nor expired nor invalid.
    #[error("the token could not be checked in time")]
    TimedOut,
    #[error("cannot build the token: {0}")]
    Build(String),
}

/// Datalog evaluation is bounded: a hostile token cannot make verification expensive.
///
/// The fact and iteration limits are what bound a token that makes work on purpose (a holder may append
/// rules): they count what evaluation produces, so they give the same answer on an idle and on an overloaded
/// machine, and a token that exceeds them is invalid. The time limit is a backstop, looked at between
/// iterations, and it measures wall-clock time, which includes every moment the thread waits for a core: with
/// 50 ms, two overloaded cores timed out ordinary sessions although evaluating one takes about 0.2 ms even in
/// a debug build. One second leaves that headroom while still ending a long run of iterations; when it is hit
/// anyway the request is answered as unavailable ([`TokenError::TimedOut`]), never by guessing what the token
/// allows.
const LIMITS: AuthorizerLimits = AuthorizerLimits {
    max_facts: 256,
    max_iterations: 64,
    max_time: Duration::from_secs(1),
};

impl SigningKeys {
    pub fn mint(&self, claims: &Claims) -> Result<MintedToken, TokenError> {
        let build_error = |error: biscuit_auth::error::Token| TokenError::Build(error.to_string());
        let params = HashMap::from([
            ("user".to_owned(), Term::Str(claims.user_id.to_string())),
            ("token".to_owned(), Term::Str(claims.token_id.to_string())),
            // biscuit's conversion from SystemTime panics before 1970 (schemathesis asked for a token expiring
            // in 1969); a token that expired then is expired all the same, and the domain refuses it.
            (
                "expires".to_owned(),
                Term::Date(u64::try_from(claims.expires_at.timestamp()).unwrap_or(0)),
            ),
        ]);
        let mut builder = BiscuitBuilder::new()
            .root_key_id(self.current_id)
            .code_with_params(
                "user({user}); token({token}); check if time($time), $time <= {expires};",
                params,
                HashMap::new(),
            )
            .map_err(build_error)?;
        if claims.read_only {
            builder = builder
                .code("check if operation(\"read\");")
                .map_err(build_error)?;
        }
        let token = builder.build(&self.current).map_err(build_error)?;
        Ok(MintedToken {
            value: token.to_base64().map_err(build_error)?,
            revocation_id: token
                .revocation_identifiers()
                .into_iter()
                .next()
                .unwrap_or_default(),
        })
    }

    /// Checks the signature and the token's own checks at `now`; finds out whether it may write.
    pub fn verify(&self, value: &str, now: SystemTime) -> Result<VerifiedToken, TokenError> {
        self.verify_within(value, now, &LIMITS)
    }

    /// [`Self::verify`] under the given evaluation limits (tests use tiny ones).
    fn verify_within(
        &self,
        value: &str,
        now: SystemTime,
        limits: &AuthorizerLimits,
    ) -> Result<VerifiedToken, TokenError> {
        let token = Biscuit::from_base64(value.trim(), self).map_err(|_| TokenError::Invalid)?;
        // Only checks that ran to the end and refused writing make a token read-only. Any other failure of
        // the write run (out of time, over the limits, malformed) is the answer itself: downgrading on it
        // would turn a busy server into sessions that suddenly cannot write.
        let (ids, read_only) = match authorize(&token, Access::Write, now, limits) {
            Ok(ids) => (ids, false),
            Err(TokenError::Refused) => (authorize(&token, Access::Read, now, limits)?, true),
            Err(error) => return Err(error),
        };
        let parse = |text: &str| Uuid::parse_str(text).map_err(|_| TokenError::Invalid);
        Ok(VerifiedToken {
            user_id: parse(&ids.0)?,
            token_id: parse(&ids.1)?,
            read_only,
            revocation_ids: token.revocation_identifiers(),
        })
    }
}

/// Runs the token's checks with the ambient facts of a request; returns the authority block's user and token.
fn authorize(
    token: &Biscuit,
    access: Access,
    now: SystemTime,
    limits: &AuthorizerLimits,
) -> Result<(String, String), TokenError> {
    let operation = match access {
        Access::Read => "read",
        Access::Write => "write",
    };
    let params = HashMap::from([
        ("now".to_owned(), Term::from(now)),
        ("operation".to_owned(), Term::Str(operation.to_owned())),
    ]);
    let mut authorizer = AuthorizerBuilder::new()
        .code_with_params(
            "time({now}); operation({operation}); allow if user($user);",
            params,
            HashMap::new(),
        )
        .map_err(|error| TokenError::Build(error.to_string()))?
        .set_limits(limits.clone())
        .build(token)
        .map_err(|error| token_error(&error))?;
    authorizer
        .authorize()
        .map_err(|error| token_error(&error))?;
    // Queries see only the authority block and the authorizer: an appended block cannot claim another user.
    // The query shares the run's time budget, so it can run out of time too.
    authorizer
        .query_exactly_one("identity($user, $token) <- user($user), token($token)")
        .map_err(|error| token_error(&error))
}

/// What an authorizer error says about the token. Only checks or policies that were evaluated and failed are
/// a refusal (which, for the write run, means read-only). Running out of time is the server's condition, not
/// the token's. Everything else (too many facts or iterations from rules a holder appended, an expression that
/// fails, a rule that cannot be evaluated, not exactly one identity) is the token's own doing, the same on every
/// attempt, and makes it invalid.
fn token_error(error: &biscuit_auth::error::Token) -> TokenError {
    use biscuit_auth::error::{Logic, RunLimit, Token};
    match error {
        Token::FailedLogic(Logic::Unauthorized { .. } | Logic::NoMatchingPolicy { .. }) => {
            TokenError::Refused
        }
        Token::RunLimit(RunLimit::Timeout) => TokenError::TimedOut,
        _ => TokenError::Invalid,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use biscuit_auth::BlockBuilder;

    fn claims(read_only: bool) -> Claims {
        Claims {
            user_id: Uuid::from_u128(1),
            token_id: Uuid::from_u128(2),
            expires_at: DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            read_only,
        }
    }

    fn at(time: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let keys = SigningKeys::ephemeral();
        let minted = keys.mint(&claims(false)).unwrap();
        let verified = keys
            .verify(&minted.value, at("2026-11-28T11:59:59Z"))
            .unwrap();
        assert_eq!(
            (verified.user_id, verified.token_id, verified.read_only),
            (Uuid::from_u128(1), Uuid::from_u128(2), false)
        );
        assert_eq!(verified.revocation_ids[0], minted.revocation_id);
        assert!(matches!(
            keys.verify(&minted.value, at("2026-11-28T12:00:01Z")),
            Err(TokenError::Refused)
        ));
    }

    #[test]
    fn read_only_tokens_and_holder_attenuation_are_recognised() {
        let keys = SigningKeys::ephemeral();
        let read_only = keys.mint(&claims(true)).unwrap();
        assert!(
            keys.verify(&read_only.value, at("2026-11-28T10:00:00Z"))
                .unwrap()
                .read_only
        );

        // The holder of a full token narrows it offline; the revocation id of the original still applies.
        let full = keys.mint(&claims(false)).unwrap();
        let token = Biscuit::from_base64(&full.value, &keys).unwrap();
        let attenuated = token
            .append(
                BlockBuilder::new()
                    .code("check if operation(\"read\");")
                    .unwrap(),
            )
            .unwrap()
            .to_base64()
            .unwrap();
        let verified = keys
            .verify(&attenuated, at("2026-11-28T10:00:00Z"))
            .unwrap();
        assert!(verified.read_only);
        assert!(verified.revocation_ids.contains(&full.revocation_id));
    }

    #[test]
    fn an_appended_block_cannot_claim_another_user() {
        let keys = SigningKeys::ephemeral();
        let full = keys.mint(&claims(false)).unwrap();
        let token = Biscuit::from_base64(&full.value, &keys).unwrap();
        let forged = token
            .append(
                BlockBuilder::new()
                    .code("user(\"00000000-0000-0000-0000-000000000009\");")
                    .unwrap(),
            )
            .unwrap()
            .to_base64()
            .unwrap();
        assert_eq!(
            keys.verify(&forged, at("2026-11-28T10:00:00Z"))
                .unwrap()
                .user_id,
            Uuid::from_u128(1)
        );
    }

    #[test]
    fn running_out_of_time_is_neither_read_only_nor_a_refusal() {
        // A wall-clock limit that has passed before evaluation starts: what a descheduled thread on an
        // overloaded machine sees. The token is good; only the server was slow.
        let no_time = AuthorizerLimits {
            max_time: Duration::ZERO,
            ..LIMITS
        };
        let keys = SigningKeys::ephemeral();
        for read_only in [false, true] {
            let minted = keys.mint(&claims(read_only)).unwrap();
            assert!(matches!(
                keys.verify_within(&minted.value, at("2026-11-28T10:00:00Z"), &no_time),
                Err(TokenError::TimedOut)
            ));
        }
    }

    #[test]
    fn a_write_check_over_the_limits_does_not_make_a_token_read_only() {
        // The holder appends rules that only generate work when the operation is a write: a chain one fact
        // longer per iteration, longer than the iteration limit. Reading stays cheap.
        let keys = SigningKeys::ephemeral();
        let full = keys.mint(&claims(false)).unwrap();
        let links = (0..100)
            .map(|step| format!("next({step}, {});", step + 1))
            .collect::<Vec<_>>()
            .concat();
        let costly = Biscuit::from_base64(&full.value, &keys)
            .unwrap()
            .append(
                BlockBuilder::new()
                    .code(format!(
                        "{links} reached(0); \
                         reached($to) <- reached($from), next($from, $to), operation(\"write\");"
                    ))
                    .unwrap(),
            )
            .unwrap()
            .to_base64()
            .unwrap();
        assert!(matches!(
            keys.verify(&costly, at("2026-11-28T10:00:00Z")),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_invalid() {
        let keys = SigningKeys::ephemeral();
        let other = SigningKeys::ephemeral();
        let minted = other.mint(&claims(false)).unwrap();
        assert!(matches!(
            keys.verify(&minted.value, at("2026-11-28T10:00:00Z")),
            Err(TokenError::Invalid)
        ));
        assert!(matches!(
            keys.verify("not-a-token", at("2026-11-28T10:00:00Z")),
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn previous_keys_keep_verifying_during_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let old = SigningKeys::load(None, 1, None, dir.path()).unwrap();
        let minted = old.mint(&claims(false)).unwrap();
        // The key persisted under the data directory is reused on the next start.
        let restarted = SigningKeys::load(None, 1, None, dir.path()).unwrap();
        assert!(
            restarted
                .verify(&minted.value, at("2026-11-28T10:00:00Z"))
                .is_ok()
        );

        let new_private = KeyPair::new().private().to_bytes_hex();
        let previous = format!("1:{}", old.public_key_hex());
        let rotated =
            SigningKeys::load(Some(&new_private), 2, Some(&previous), dir.path()).unwrap();
        assert!(
            rotated
                .verify(&minted.value, at("2026-11-28T10:00:00Z"))
                .is_ok()
        );
        let fresh = rotated.mint(&claims(false)).unwrap();
        assert!(
            rotated
                .verify(&fresh.value, at("2026-11-28T10:00:00Z"))
                .is_ok()
        );
        assert!(matches!(
            old.verify(&fresh.value, at("2026-11-28T10:00:00Z")),
            Err(TokenError::Invalid)
        ));
    }
}
