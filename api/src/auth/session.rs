//! Who is asking: the token a request presents (session cookie or `Authorization: Bearer`), verified by
//! signature and then against its record in Postgres, which decides revocation, expiry, deactivation and
//! current roles. Records are cached for a moment; any change to an account or token is announced by
//! Postgres (`aegis_credentials_changed`) and empties the cache on every replica at once.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, header};
use chrono::Utc;
use commands::accounts::{self, TokenGrant, TokenKind};
use domain::access::Caller;
use domain::role::Role;
use domain::user::TokenScope;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::tokens::{SigningKeys, TokenError};

/// The cookie that carries a browser session's token.
pub const SESSION_COOKIE: &str = "aegis_session";

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub token_id: Uuid,
    pub kind: TokenKind,
    /// The account's roles now (not when the token was issued).
    pub roles: BTreeSet<Role>,
    pub read_only: bool,
    pub password_reset_required: bool,
    /// A role requires two-factor login and the user has not enrolled yet.
    pub two_factor_enrolment_required: bool,
}

/// The outcome of looking at a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    Anonymous,
    /// A token was presented but is not (or no longer) good; the reason is safe to show.
    Rejected(&'static str),
    /// A token was presented but could not be checked now (the database did not answer, or verification ran
    /// out of time on a busy machine). Nothing is granted, as to an anonymous caller, but the caller is told
    /// to try again rather than to sign in again: the token may well be good. The reason is safe to show.
    Unverified(&'static str),
    SignedIn(Principal),
}

impl Authentication {
    pub fn caller(&self) -> Caller {
        match self {
            Self::SignedIn(principal) => Caller::User {
                roles: principal.roles.clone(),
                read_only: principal.read_only,
            },
            Self::Anonymous | Self::Rejected(_) | Self::Unverified(_) => Caller::Anonymous,
        }
    }

    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::SignedIn(principal) => Some(principal),
            Self::Anonymous | Self::Rejected(_) | Self::Unverified(_) => None,
        }
    }
}

/// The token a long-lived connection (a WebSocket) opened with: checked again for every operation on it, so
/// that a sign-out, revocation or deactivation reaches open connections too.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken(pub Option<String>);

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PresentedToken")
            .field(&self.0.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How long a token's record is trusted without asking Postgres again, when no change was announced.
const GRANT_TTL: Duration = Duration::from_secs(2);

/// Grants by revocation id, with when they were fetched; `None` remembers that a token has no grant.
type GrantCache = HashMap<Vec<u8>, (Instant, Option<TokenGrant>)>;

/// Verifies tokens and finds their grants.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: Arc<SigningKeys>,
    pool: PgPool,
    cache: Arc<Mutex<GrantCache>>,
}

impl Authenticator {
    pub fn new(keys: Arc<SigningKeys>, pool: PgPool) -> Self {
        Self {
            keys,
            pool,
            cache: Arc::default(),
        }
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// The credentials of a request: the bearer token wins over the session cookie.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Authentication {
        self.authenticate_presented(presented_token(headers).as_deref())
            .await
    }

    pub async fn authenticate_presented(&self, token: Option<&str>) -> Authentication {
        match token {
            Some(token) => self.authenticate_token(token).await,
            None => Authentication::Anonymous,
        }
    }

    pub async fn authenticate_token(&self, token: &str) -> Authentication {
        let started = Instant::now();
        let verified = match self.keys.verify(token, SystemTime::now()) {
            Ok(verified) => verified,
            Err(TokenError::Refused) => return Authentication::Rejected("the token has expired"),
            Err(TokenError::TimedOut) => {
                tracing::warn!("verifying a token ran out of time; the server is overloaded");
                metrics::counter!("aegis_token_verification_timeouts_total").increment(1);
                return Authentication::Unverified("the token could not be checked in time");
            }
            Err(TokenError::Invalid | TokenError::Build(_)) => {
                return Authentication::Rejected("the token is not valid");
            }
        };
        let grant = match self.grant(&verified.revocation_ids).await {
            Ok(grant) => grant,
            Err(error) => {
                tracing::error!(%error, "cannot look up a token's grant");
                return Authentication::Unverified("the token cannot be checked right now");
            }
        };
        metrics::histogram!("aegis_token_verification_seconds")
            .record(started.elapsed().as_secs_f64());
        let Some(grant) = grant.filter(|grant| {
            grant.user_id == verified.user_id && grant.token_id == verified.token_id
        }) else {
            return Authentication::Rejected("the token is not valid");
        };
        if grant.revoked_at.is_some() {
            return Authentication::Rejected("the token has been revoked");
        }
        if grant.expires_at <= Utc::now() {
            return Authentication::Rejected("the token has expired");
        }
        if !grant.account_active {
            return Authentication::Rejected("the account is deactivated");
        }
        // A scope this version cannot read grants nothing beyond reading.
        let scope_read_only = !matches!(
            serde_json::from_value(grant.scope.clone()),
            Ok(TokenScope::Full)
        );
        Authentication::SignedIn(Principal {
            user_id: grant.user_id,
            token_id: grant.token_id,
            kind: grant.kind,
            roles: grant.roles,
            read_only: verified.read_only || scope_read_only,
            password_reset_required: grant.password_reset_required,
            two_factor_enrolment_required: grant.two_factor_enrolment_required,
        })
    }

    async fn grant(&self, revocation_ids: &[Vec<u8>]) -> Result<Option<TokenGrant>, sqlx::Error> {
        let key = revocation_ids.first().cloned().unwrap_or_default();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((fetched, grant)) = cache.get(&key)
                && fetched.elapsed() < GRANT_TTL
            {
                return Ok(grant.clone());
            }
        }
        let grant = accounts::token_grant(&self.pool, revocation_ids).await?;
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (Instant::now(), grant.clone()));
        Ok(grant)
    }

    /// Forgets every cached grant (after this process changed credentials, or when told another did).
    pub fn forget_grants(&self) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Empties the cache whenever Postgres announces a credentials change, until `shutdown`.
    pub async fn follow_credential_changes(
        &self,
        shutdown: CancellationToken,
    ) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("aegis_credentials_changed").await?;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                notification = listener.recv() => {
                    // Whatever happened (a change, or a reconnect that may have missed changes), forget.
                    if let Err(error) = notification {
                        tracing::warn!(%error, "lost the credentials notification channel");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    self.forget_grants();
                }
            }
        }
    }
}

/// The bearer token, else the session cookie's.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        return authorization
            .strip_prefix("Bearer ")
            .map(|token| token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| {
            cookie
                .trim()
                .strip_prefix(SESSION_COOKIE)?
                .strip_prefix('=')
        })
        .map(str::to_owned)
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Path=/, Secure when served over TLS.
pub fn session_cookie(token: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> String {
    session_cookie("", Duration::ZERO, secure)
}
