//! Passwords: the policy a new password must meet, and the Argon2id hasher behind login.
//!
//! Password hashes live in the credentials table, never in the event log, so this module only turns
//! plaintext into PHC strings and checks candidates against them. Argon2id at OWASP's parameters
//! (m = 19 MiB, t = 2, p = 1) is deliberately expensive; [`PasswordHasher`] bounds how many hashes run at
//! once so a burst of logins queues instead of exhausting memory or every core.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;
use zxcvbn::Score;

/// A candidate plaintext password that passed [`PasswordPolicy::check`].
///
/// It is deliberately neither `Display` nor `Serialize`, and its `Debug` is redacted, so it cannot end up
/// in a log line, an event or a response by accident. The only way to use it is to hash it.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

/// Why a candidate password was refused; the messages are written for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    /// Fewer than [`PasswordPolicy::MIN_CHARS`] characters.
    #[error("the password must be at least {min} characters long")]
    TooShort {
        /// The minimum number of characters.
        min: usize,
    },
    /// More than [`PasswordPolicy::MAX_CHARS`] characters.
    #[error("the password must be at most {max} characters long")]
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// Among the passwords attackers try first: common passwords, keyboard walks, repeats, or the
    /// person's own e-mail address or name.
    #[error("the password is too easy to guess: {hint}")]
    TooCommon {
        /// What makes it guessable, from zxcvbn's feedback when it has some.
        hint: String,
    },
}

/// The rules a new password must meet: a length range and "not among the first million guesses".
///
/// There are no composition rules (digits, symbols, mixed case): they push people towards predictable
/// patterns such as `Password1!` without making passwords harder to guess.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordPolicy;

impl PasswordPolicy {
    /// The fewest characters a password may have.
    pub const MIN_CHARS: usize = 12;
    /// The most characters a password may have; it keeps the strength estimate cheap and rules out
    /// megabyte-sized "passwords" sent to the hasher.
    pub const MAX_CHARS: usize = 128;

    /// Accepts `candidate` as a [`Password`] if it has 12 to 128 characters (Unicode scalar values, not
    /// bytes) and zxcvbn estimates it needs more than about a million guesses.
    ///
    /// `user_inputs` are words an attacker would try first for this person: their e-mail address, name,
    /// the product name. A password built from them is refused.
    pub fn check(candidate: &str, user_inputs: &[&str]) -> Result<Password, PasswordRejected> {
        // Length first: zxcvbn's cost grows with the input, so it only ever sees bounded candidates.
        let chars = candidate.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordRejected::TooShort {
                min: Self::MIN_CHARS,
            });
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordRejected::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        let estimate = zxcvbn::zxcvbn(candidate, user_inputs);
        // Score One means "guessable within 10^6 guesses": the common-password lists and simple
        // patterns that online guessing and credential stuffing go through first.
        if estimate.score() <= Score::One {
            let hint = estimate
                .feedback()
                .and_then(zxcvbn::feedback::Feedback::warning)
                .map_or_else(
                    || "it is built from common words, patterns or your own details.".to_owned(),
                    |warning| warning.to_string(),
                );
            return Err(PasswordRejected::TooCommon { hint });
        }
        Ok(Password(candidate.to_owned()))
    }
}

/// A password hash as stored in the credentials table: an Argon2 PHC string such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// The string carries its own parameters, so hashes made with other Argon2 costs still verify.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Parses a stored PHC string, refusing anything that is not an Argon2 (`argon2id`, `argon2i`,
    /// `argon2d`) hash with a salt and an output.
    pub fn parse(phc: &str) -> Result<Self, HashError> {
        let parsed = argon2::PasswordHash::new(phc).map_err(HashError::Malformed)?;
        Algorithm::try_from(parsed.algorithm).map_err(HashError::Malformed)?;
        if parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(HashError::Malformed(
                argon2::password_hash::Error::PhcStringField,
            ));
        }
        Ok(Self(phc.to_owned()))
    }

    /// The PHC string, for storing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    // The hash is not the password, but it is what an offline guessing attack starts from.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PasswordHash(<redacted>)")
    }
}

/// Why hashing or verifying could not give an answer (as opposed to "the password is wrong").
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The stored string is not an Argon2 PHC string.
    #[error("not an Argon2 PHC string")]
    Malformed(#[source] argon2::password_hash::Error),
    /// Argon2 itself failed, for example on parameters outside what it supports.
    #[error("Argon2 failed")]
    Argon2(#[source] argon2::password_hash::Error),
    /// The blocking task running Argon2 panicked or was cancelled at shutdown.
    #[error("the password hashing task did not finish")]
    Task(#[from] tokio::task::JoinError),
}

/// OWASP's Argon2id recommendation (m = 19 MiB, t = 2, p = 1); written out rather than relying on the
/// crate's defaults so a dependency upgrade cannot change the cost silently.
const PARAMS: Params = match Params::new(19 * 1024, 2, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP Argon2 parameters are valid"),
};

/// A hash of a password nobody knows, made with [`PARAMS`], so that a login for an unknown e-mail address
/// spends the same time verifying as one for a known address and does not reveal which addresses exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$iGJf9kIGoyOjfuJSAWpDkg$05e0y8yQe+3KKvhq59/bvb1JdMpWLaxHCrXdoiN6Fmg";

/// The metric reporting how many callers are queued for a hashing slot.
const WAITING_GAUGE: &str = "aegis_password_hashes_waiting";

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// Hashes and verifies passwords with Argon2id, at most `max_concurrent` at a time.
///
/// Each hash needs 19 MiB and tens of milliseconds of one core, so it runs on tokio's blocking pool and
/// holds a semaphore permit while it does; callers beyond the bound wait in the semaphore's FIFO queue.
/// Memory for hashing is therefore bounded by `max_concurrent × 19 MiB`.
#[derive(Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    max_concurrent: NonZeroUsize,
    waiting: AtomicUsize,
}

impl Default for PasswordHasher {
    /// One hash per available core: more would only queue inside the operating system instead.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}

impl PasswordHasher {
    /// A hasher that runs at most `max_concurrent` Argon2 computations at once.
    pub fn new(max_concurrent: NonZeroUsize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.get())),
            max_concurrent,
            waiting: AtomicUsize::new(0),
        }
    }

    /// How many hashes may run at once.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent.get()
    }

    /// How many callers are queued for a hashing slot right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Hashes a policy-checked password with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let plaintext = password.0.clone();
        self.run_bounded(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2()
                .hash_password(plaintext.as_bytes(), &salt)
                .map(|hash| PasswordHash(hash.to_string()))
                .map_err(HashError::Argon2)
        })
        .await
    }

    /// Whether `candidate` is the password behind `hash`, using the parameters recorded in `hash`.
    ///
    /// `candidate` is a plain `&str` rather than a [`Password`] because a login must check whatever was
    /// typed, including passwords set before the current policy.
    pub async fn verify(&self, candidate: &str, hash: &PasswordHash) -> Result<bool, HashError> {
        let candidate = candidate.to_owned();
        let phc = hash.0.clone();
        self.run_bounded(move || {
            let parsed = argon2::PasswordHash::new(&phc).map_err(HashError::Malformed)?;
            match argon2().verify_password(candidate.as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(error) => Err(HashError::Argon2(error)),
            }
        })
        .await
    }

    /// Spends the time of a real [`verify`](Self::verify) without a real hash, for logins naming an
    /// unknown account, so response times do not reveal which e-mail addresses have accounts.
    pub async fn verify_against_nothing(&self, candidate: &str) {
        let dummy = PasswordHash(DUMMY_HASH.to_owned());
        // The answer is meaningless; only an error is worth knowing about, and the caller rejects the
        // login either way.
        if let Err(error) = self.verify(candidate, &dummy).await {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "dummy password verification failed"
            );
        }
    }

    /// Runs `work` on the blocking pool once a permit is free, counting the wait.
    async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = {
            // The guard, not straight-line code, lowers the count so that a caller dropped while queued
            // (a client that hung up) is not counted as waiting forever.
            let _queued = WaitingGuard::enter(&self.waiting);
            Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .expect("the hashing semaphore is never closed")
        };
        // The permit moves into the task so the bound holds even if the caller goes away mid-hash.
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await?
    }
}

/// Counts one caller as waiting for as long as it lives, and publishes the count.
struct WaitingGuard<'a> {
    waiting: &'a AtomicUsize,
}

impl<'a> WaitingGuard<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Self {
        let now = waiting.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!(WAITING_GAUGE).set(now as f64);
        Self { waiting }
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        let now = self.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::gauge!(WAITING_GAUGE).set(now as f64);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    const STRONG: &str = "Zebra-Lantern-77";

    fn strong_password() -> Password {
        PasswordPolicy::check(STRONG, &[]).unwrap()
    }

    #[test]
    fn eleven_characters_are_too_short() {
        assert_eq!(
            PasswordPolicy::check("tb9#Vq!x2Lm", &[]).unwrap_err(),
            PasswordRejected::TooShort { min: 12 }
        );
    }

    #[test]
    fn twelve_strong_characters_are_accepted() {
        PasswordPolicy::check("tb9#Vq!x2Lmz", &[]).unwrap();
    }

    #[test]
    fn one_hundred_and_twenty_eight_characters_are_accepted_and_one_more_is_too_long() {
        let alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".as_bytes();
        let longest: String = (0..128)
            .map(|index| char::from(alphabet[(index * 37 + 11) % 62]))
            .collect();
        PasswordPolicy::check(&longest, &[]).unwrap();
        let too_long = format!("{longest}x");
        assert_eq!(
            PasswordPolicy::check(&too_long, &[]).unwrap_err(),
            PasswordRejected::TooLong { max: 128 }
        );
    }

    #[test]
    fn common_passwords_walks_and_repeats_are_too_common() {
        for candidate in ["password1234", "qwertyuiop12", "aaaaaaaaaaaa"] {
            let rejection = PasswordPolicy::check(candidate, &[]).unwrap_err();
            assert!(
                matches!(rejection, PasswordRejected::TooCommon { .. }),
                "{candidate} gave {rejection:?}"
            );
        }
    }

    #[test]
    fn zxcvbn_warning_becomes_the_hint() {
        assert_eq!(
            PasswordPolicy::check("password1234", &[]).unwrap_err(),
            PasswordRejected::TooCommon {
                hint: "This is a very common password.".to_owned()
            }
        );
    }

    #[test]
    fn the_users_own_email_is_too_common() {
        let email = "alice.wonderland@example.com";
        let rejection = PasswordPolicy::check(email, &[email, "Alice Wonderland"]).unwrap_err();
        assert!(
            matches!(rejection, PasswordRejected::TooCommon { .. }),
            "{rejection:?}"
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Twelve characters in 24 bytes: accepted. Eleven characters in 22 bytes: too short.
        PasswordPolicy::check("çàéèùâêîôûëï", &[]).unwrap();
        assert_eq!(
            PasswordPolicy::check("çàéèùâêîôûë", &[]).unwrap_err(),
            PasswordRejected::TooShort { min: 12 }
        );
    }

    #[test]
    fn debug_never_prints_secrets() {
        let password = strong_password();
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        let hash = PasswordHash::parse(DUMMY_HASH).unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
    }

    #[test]
    fn parse_accepts_argon2_phc_strings_only() {
        PasswordHash::parse(DUMMY_HASH).unwrap();
        for malformed in [
            "",
            "hunter2",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$iGJf9kIGoyOjfuJSAWpDkg",
        ] {
            assert!(
                matches!(PasswordHash::parse(malformed), Err(HashError::Malformed(_))),
                "{malformed} was accepted"
            );
        }
    }

    #[test]
    fn the_dummy_hash_costs_the_same_as_a_real_one() {
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(
            Algorithm::try_from(dummy.algorithm).unwrap(),
            Algorithm::Argon2id
        );
        let params = Params::try_from(&dummy).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (PARAMS.m_cost(), PARAMS.t_cost(), PARAMS.p_cost())
        );
        assert_eq!(dummy.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_rejects_others() {
        let hasher = PasswordHasher::default();
        let hash = hasher.hash(&strong_password()).await.unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
        assert_eq!(PasswordHash::parse(hash.as_str()).unwrap(), hash);
        assert!(hasher.verify(STRONG, &hash).await.unwrap());
        assert!(!hasher.verify("Zebra-Lantern-78", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_by_salt() {
        let hasher = PasswordHasher::default();
        let password = strong_password();
        let first = hasher.hash(&password).await.unwrap();
        let second = hasher.hash(&password).await.unwrap();
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_still_verify() {
        let cheap = Params::new(8 * 1024, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap)
            .hash_password(STRONG.as_bytes(), &salt)
            .unwrap()
            .to_string();
        let hash = PasswordHash::parse(&phc).unwrap();
        let hasher = PasswordHasher::default();
        assert!(hasher.verify(STRONG, &hash).await.unwrap());
        assert!(!hasher.verify("Zebra-Lantern-78", &hash).await.unwrap());
    }

    #[tokio::test]
    async fn verifying_against_nothing_completes() {
        PasswordHasher::default()
            .verify_against_nothing(STRONG)
            .await;
    }

    /// Polls until `condition` holds; the deadline only guards against a hang, the outcome does not
    /// depend on timing.
    async fn eventually(condition: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(60), async {
            while !condition() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn callers_beyond_the_bound_queue() {
        let hasher = Arc::new(PasswordHasher::new(NonZeroUsize::MIN));
        assert_eq!(hasher.max_concurrent(), 1);
        // The test holds the only permit, so every hash must queue whatever the scheduler does.
        let held = Arc::clone(&hasher.permits).acquire_owned().await.unwrap();
        let queued_hashes: Vec<_> = (0..3)
            .map(|_| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move { hasher.hash(&strong_password()).await })
            })
            .collect();
        eventually(|| hasher.waiting() == 3).await;

        drop(held);
        for hash in queued_hashes {
            hash.await.unwrap().unwrap();
        }
        assert_eq!(hasher.waiting(), 0);
        assert_eq!(hasher.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_stops_counting_as_waiting() {
        let hasher = Arc::new(PasswordHasher::new(NonZeroUsize::MIN));
        let held = Arc::clone(&hasher.permits).acquire_owned().await.unwrap();
        let queued = {
            let hasher = Arc::clone(&hasher);
            tokio::spawn(async move { hasher.hash(&strong_password()).await })
        };
        eventually(|| hasher.waiting() == 1).await;

        queued.abort();
        assert!(queued.await.unwrap_err().is_cancelled());
        assert_eq!(hasher.waiting(), 0);
        drop(held);
    }
}
