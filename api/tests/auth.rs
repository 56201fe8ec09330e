//! Identity end to end through the HTTP app: sessions and their cookie, throttling, logout, deactivation,
//! API tokens, two-factor login with real TOTP codes, passwords, security events, CSRF and introspection.
#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::Utc;
use commands::totp::{TotpSecret, code_at};
use domain::role::Role;
use serde_json::Value;
use sqlx::PgPool;
use support::{
    PASSWORD, create_user, error_code, graphql, graphql_with_headers, send, signed_in, state,
};

fn login(email: &str, password: &str, second_factor: Option<&str>) -> String {
    let second_factor = second_factor
        .map(|code| format!(r#", secondFactor: "{code}""#))
        .unwrap_or_default();
    format!(
        r#"mutation {{ login(email: "{email}", password: "{password}"{second_factor}) {{ userId passwordChangeRequired }} }}"#
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn login_sets_a_strict_http_only_session_cookie(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "ada@example.org", &[Role::RedTech]).await;
    let (response, headers) =
        graphql_with_headers(&state, None, &login("ada@example.org", PASSWORD, None)).await;
    assert!(response.get("errors").is_none(), "{response}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in [
        "aegis_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP must not set Secure: {cookie}"
    );

    // The cookie alone signs the browser in.
    let token = cookie.split(';').next().unwrap();
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, token)
        .body(Body::from(r#"{"query":"{ me { email roles } }"}"#))
        .unwrap();
    let (_, _, body) = send(&state, request).await;
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["data"]["me"]["email"], "ada@example.org");
    assert_eq!(me["data"]["me"]["roles"][0], "RED_TECH");
}

#[sqlx::test(migrations = "../migrations")]
async fn over_tls_the_cookie_is_secure(pool: PgPool) {
    let mut state = state(&pool);
    state.web.secure_cookies = true;
    create_user(&state, "ada@example.org", &[Role::Viewer]).await;
    let (_, headers) =
        graphql_with_headers(&state, None, &login("ada@example.org", PASSWORD, None)).await;
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_and_an_unknown_address_get_the_same_answer(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "ada@example.org", &[Role::Viewer]).await;
    let wrong = graphql(
        &state,
        None,
        &login("ada@example.org", "not the right password", None),
    )
    .await;
    let unknown = graphql(
        &state,
        None,
        &login("nobody@example.org", "not the right password", None),
    )
    .await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(error_code(&wrong), error_code(&unknown));
}

/// Every sign-in appends to the user's one stream, so sign-ins of one user at the same moment (tabs, scripts,
/// a load test) clash on its sequence: each must still succeed, retried rather than refused.
#[sqlx::test(migrations = "../migrations")]
async fn sixteen_sign_ins_of_one_user_at_once_all_succeed(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "ada@example.org", &[Role::Viewer]).await;
    let query = login("ada@example.org", PASSWORD, None);
    let answers = futures::future::join_all((0..16).map(|_| graphql(&state, None, &query))).await;
    for answer in &answers {
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'User' AND event_type = 'UserLoggedIn'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(sessions, 16);
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failures_are_throttled_even_with_the_right_password(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "ada@example.org", &[Role::Viewer]).await;
    for _ in 0..5 {
        let failed = graphql(
            &state,
            None,
            &login("ada@example.org", "guess guess guess", None),
        )
        .await;
        assert_eq!(error_code(&failed), Some("UNAUTHENTICATED"));
    }
    let throttled = graphql(&state, None, &login("ada@example.org", PASSWORD, None)).await;
    assert_eq!(error_code(&throttled), Some("RATE_LIMITED"), "{throttled}");
    let retry_after = throttled["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another account is unaffected (no client address in-process, so only the account was counted).
    create_user(&state, "grace@example.org", &[Role::Viewer]).await;
    assert!(
        graphql(&state, None, &login("grace@example.org", PASSWORD, None))
            .await
            .get("errors")
            .is_none()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn logout_revokes_the_session_everywhere(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    assert!(
        graphql(&state, Some(&token), "{ me { email } }")
            .await
            .get("errors")
            .is_none()
    );
    let (response, headers) =
        graphql_with_headers(&state, Some(&token), "mutation { logout }").await;
    assert_eq!(response["data"]["logout"], true);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );

    // Another replica (a second app with its own cache, sharing the keys) refuses it too.
    let after = graphql(&state, Some(&token), "{ me { email } }").await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"));
    assert!(
        after["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{after}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn deactivating_a_user_kills_their_sessions_and_tokens_at_once(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (user_id, session) = signed_in(&state, &[Role::RedLead]).await;
    let created = graphql(
        &state,
        Some(&session),
        &format!(
            r#"mutation {{ createApiToken(name: "ci", scope: {{ kind: FULL }}, expiresAt: "{}") {{ id token }} }}"#,
            (Utc::now() + chrono::TimeDelta::days(30)).to_rfc3339()
        ),
    )
    .await;
    let api_token = created["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Warm the cache: both work now.
    for token in [&session, &api_token] {
        assert!(
            graphql(&state, Some(token), "{ me { email } }")
                .await
                .get("errors")
                .is_none()
        );
    }

    let deactivated = graphql(
        &state,
        Some(&admin),
        &format!(r#"mutation {{ deactivateUser(userId: "{user_id}") }}"#),
    )
    .await;
    assert_eq!(deactivated["data"]["deactivateUser"], true, "{deactivated}");
    for token in [&session, &api_token] {
        let refused = graphql(&state, Some(token), "{ me { email } }").await;
        assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");
    }
    // And they cannot sign in again.
    let email: String = sqlx::query_scalar("SELECT email FROM accounts WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        error_code(&graphql(&state, None, &login(&email, PASSWORD, None)).await),
        Some("UNAUTHENTICATED")
    );
}

/// schemathesis found this one: minting a token that expires before 1970 panicked inside biscuit and the
/// connection closed without an answer.
#[sqlx::test(migrations = "../migrations")]
async fn a_token_expiring_before_1970_is_refused_like_any_past_expiry(pool: PgPool) {
    let state = state(&pool);
    let (_, session) = signed_in(&state, &[Role::RedTech]).await;
    for expires_at in ["1969-01-01T00:00:00Z", "2020-01-01T00:00:00Z"] {
        let refused = graphql(
            &state,
            Some(&session),
            &format!(
                r#"mutation {{ createApiToken(name: "old", scope: {{ kind: FULL }}, expiresAt: "{expires_at}") {{ id }} }}"#
            ),
        )
        .await;
        assert_eq!(error_code(&refused), Some("VALIDATION"), "{refused}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn api_tokens_work_as_bearer_until_revoked_and_read_only_ones_never_write(pool: PgPool) {
    let state = state(&pool);
    let (_, session) = signed_in(&state, &[Role::Admin]).await;
    let expires = (Utc::now() + chrono::TimeDelta::days(7)).to_rfc3339();
    let create = |kind: &str| {
        format!(
            r#"mutation {{ createApiToken(name: "{kind}", scope: {{ kind: {kind} }}, expiresAt: "{expires}") {{ id token }} }}"#
        )
    };
    let full = graphql(&state, Some(&session), &create("FULL")).await;
    let read_only = graphql(&state, Some(&session), &create("READ_ONLY")).await;
    let full_token = full["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let full_id = full["data"]["createApiToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read_only_token = read_only["data"]["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = graphql(
        &state,
        Some(&session),
        "{ myApiTokens { name scope revokedAt } }",
    )
    .await;
    assert_eq!(
        listed["data"]["myApiTokens"].as_array().unwrap().len(),
        2,
        "{listed}"
    );

    let me = graphql(&state, Some(&read_only_token), "{ me { readOnly } }").await;
    assert_eq!(me["data"]["me"]["readOnly"], true);
    let write = graphql(&state, Some(&read_only_token), &create("FULL")).await;
    assert_eq!(error_code(&write), Some("FORBIDDEN"), "{write}");
    assert_eq!(
        write["errors"][0]["extensions"]["reason"],
        "READ_ONLY_TOKEN"
    );

    assert!(
        graphql(
            &state,
            Some(&full_token),
            "{ users(first: 5) { edges { node { email } } } }"
        )
        .await
        .get("errors")
        .is_none()
    );
    let revoked = graphql(
        &state,
        Some(&session),
        &format!(r#"mutation {{ revokeApiToken(id: "{full_id}") }}"#),
    )
    .await;
    assert_eq!(revoked["data"]["revokeApiToken"], true, "{revoked}");
    let refused = graphql(&state, Some(&full_token), "{ me { email } }").await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"));
}

#[sqlx::test(migrations = "../migrations")]
async fn two_factor_login_with_real_codes_each_usable_once(pool: PgPool) {
    let state = state(&pool);
    let (_, session) = signed_in(&state, &[Role::BlueTech]).await;
    let enrolment = graphql(
        &state,
        Some(&session),
        "mutation { beginTwoFactor { secret otpauthUri } }",
    )
    .await;
    let uri = enrolment["data"]["beginTwoFactor"]["otpauthUri"]
        .as_str()
        .unwrap();
    assert!(uri.starts_with("otpauth://totp/Aegis:"), "{uri}");
    let secret_bytes: Vec<u8> =
        sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE totp_secret IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    let secret = TotpSecret::from_bytes(secret_bytes.try_into().unwrap());
    let now = u64::try_from(Utc::now().timestamp()).unwrap();

    let confirmed = graphql(
        &state,
        Some(&session),
        &format!(
            r#"mutation {{ confirmTwoFactor(code: "{}") }}"#,
            code_at(&secret, now - 30)
        ),
    )
    .await;
    let recovery_codes: Vec<String> = confirmed["data"]["confirmTwoFactor"]
        .as_array()
        .unwrap_or_else(|| panic!("{confirmed}"))
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10);

    let email: String = sqlx::query_scalar("SELECT email FROM accounts WHERE totp_enabled")
        .fetch_one(&pool)
        .await
        .unwrap();
    let without = graphql(&state, None, &login(&email, PASSWORD, None)).await;
    assert_eq!(error_code(&without), Some("UNAUTHENTICATED"));
    assert!(
        without["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("authenticator"),
        "{without}"
    );

    let code = code_at(&secret, now);
    assert!(
        graphql(&state, None, &login(&email, PASSWORD, Some(&code)))
            .await
            .get("errors")
            .is_none()
    );
    let replayed = graphql(&state, None, &login(&email, PASSWORD, Some(&code))).await;
    assert_eq!(
        error_code(&replayed),
        Some("UNAUTHENTICATED"),
        "a TOTP code works once"
    );

    let recovery = &recovery_codes[3];
    assert!(
        graphql(&state, None, &login(&email, PASSWORD, Some(recovery)))
            .await
            .get("errors")
            .is_none()
    );
    let reused = graphql(&state, None, &login(&email, PASSWORD, Some(recovery))).await;
    assert_eq!(
        error_code(&reused),
        Some("UNAUTHENTICATED"),
        "a recovery code works once"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn changing_a_password_needs_the_current_one_and_a_good_new_one(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    let change = |current: &str, new: &str| {
        format!(
            r#"mutation {{ changeMyPassword(currentPassword: "{current}", newPassword: "{new}") }}"#
        )
    };
    let wrong_current = graphql(
        &state,
        Some(&token),
        &change("not it at all!", "a brand new passphrase here"),
    )
    .await;
    assert_eq!(error_code(&wrong_current), Some("VALIDATION"));
    let too_short = graphql(&state, Some(&token), &change(PASSWORD, "short")).await;
    assert_eq!(error_code(&too_short), Some("VALIDATION"));
    let common = graphql(&state, Some(&token), &change(PASSWORD, "password1234")).await;
    assert_eq!(error_code(&common), Some("VALIDATION"));
    let changed = graphql(
        &state,
        Some(&token),
        &change(PASSWORD, "a brand new passphrase here"),
    )
    .await;
    assert_eq!(changed["data"]["changeMyPassword"], true, "{changed}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_forced_reset_allows_only_changing_the_password(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let created = graphql(
        &state,
        Some(&admin),
        r#"mutation { createUser(email: "new@example.org", displayName: "New", roles: [VIEWER]) { id oneTimePassword } }"#,
    )
    .await;
    let one_time = created["data"]["createUser"]["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    let (signed, headers) =
        graphql_with_headers(&state, None, &login("new@example.org", &one_time, None)).await;
    assert_eq!(
        signed["data"]["login"]["passwordChangeRequired"], true,
        "{signed}"
    );
    let token = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("aegis_session=")
        .to_owned();

    let blocked = graphql(&state, Some(&token), "{ serverInfo { version } }").await;
    assert_eq!(error_code(&blocked), Some("FORBIDDEN"));
    let changed = graphql(
        &state,
        Some(&token),
        &format!(r#"mutation {{ changeMyPassword(currentPassword: "{one_time}", newPassword: "my own long passphrase") }}"#),
    )
    .await;
    assert_eq!(changed["data"]["changeMyPassword"], true, "{changed}");
    assert!(
        graphql(&state, Some(&token), "{ serverInfo { version } }")
            .await
            .get("errors")
            .is_none()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn secrets_never_reach_the_event_log_but_security_events_do(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    graphql(
        &state,
        None,
        &login("nobody@example.org", "wrong wrong wrong", None),
    )
    .await;
    let email: String = sqlx::query_scalar("SELECT email FROM accounts")
        .fetch_one(&pool)
        .await
        .unwrap();
    graphql(&state, None, &login(&email, "wrong wrong wrong", None)).await;
    // The failed login is recorded without the answer waiting for it (timing must not tell accounts apart).
    let started = std::time::Instant::now();
    while sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM events WHERE event_type = 'UserLoginFailed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
        == 0
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no UserLoginFailed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = graphql(
        &state,
        Some(&token),
        "{ users(first: 1) { edges { cursor } } }",
    )
    .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));

    let log: Vec<String> = sqlx::query_scalar("SELECT payload::text || metadata::text FROM events")
        .fetch_all(&pool)
        .await
        .unwrap();
    let everything = log.join("\n");
    for secret in ["$argon2", PASSWORD, "wrong wrong wrong", &token] {
        assert!(
            !everything.contains(secret),
            "the event log contains {secret:?}"
        );
    }
    let types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events ORDER BY global_seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    for expected in [
        "UserRegistered",
        "UserLoggedIn",
        "UserLoginFailed",
        "UserAccessDenied",
    ] {
        assert!(
            types.iter().any(|event_type| event_type == expected),
            "{expected} missing from {types:?}"
        );
    }
    let denied: Value =
        sqlx::query_scalar("SELECT payload FROM events WHERE event_type = 'UserAccessDenied'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(denied["AccessDenied"]["operation"], "Query.users");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_edge_refuses_non_json_bodies_and_never_mutates_on_get(pool: PgPool) {
    let state = state(&pool);
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(r#"{"query":"mutation { logout }"}"#))
            .unwrap();
        let (status, _, _) = send(&state, request).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
    }
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let get = Request::get("/graphql?query=mutation%7Blogout%7D")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    send(&state, get).await;
    assert!(
        graphql(&state, Some(&admin), "{ me { email } }")
            .await
            .get("errors")
            .is_none(),
        "GET ran the logout"
    );
    let (_, headers, _) = send(&state, Request::get("/health").body(Body::empty()).unwrap()).await;
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(headers.contains_key(name), "{name} missing");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn introspection_is_for_signed_in_callers(pool: PgPool) {
    let state = state(&pool);
    let anonymous = graphql(&state, None, "{ __schema { queryType { name } } }").await;
    assert!(anonymous["data"]["__schema"].is_null(), "{anonymous}");
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    let signed = graphql(&state, Some(&token), "{ __schema { queryType { name } } }").await;
    assert_eq!(
        signed["data"]["__schema"]["queryType"]["name"], "Query",
        "{signed}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_first_admin_is_created_once(pool: PgPool) {
    let state = state(&pool);
    let (email, password) = state
        .identity
        .ensure_first_admin(None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(email, "admin@aegis.local");
    assert_eq!(state.identity.ensure_first_admin(None).await.unwrap(), None);
    let signed = graphql(&state, None, &login(&email, &password, None)).await;
    assert_eq!(
        signed["data"]["login"]["passwordChangeRequired"], true,
        "{signed}"
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn profile_changes_keep_e_mail_addresses_unique(pool: PgPool) {
    let state = state(&pool);
    create_user(&state, "taken@example.org", &[Role::Viewer]).await;
    let (_, token) = signed_in(&state, &[Role::Viewer]).await;
    let clash = graphql(
        &state,
        Some(&token),
        r#"mutation { updateMyProfile(email: "TAKEN@example.org") }"#,
    )
    .await;
    assert_eq!(error_code(&clash), Some("CONFLICT"), "{clash}");

    let renamed = graphql(
        &state,
        Some(&token),
        r#"mutation { updateMyProfile(displayName: "Grace Hopper", email: "grace@example.org") }"#,
    )
    .await;
    assert_eq!(renamed["data"]["updateMyProfile"], true, "{renamed}");
    state.projector.catch_up().await.unwrap();
    let me = graphql(&state, Some(&token), "{ me { email displayName } }").await;
    assert_eq!(me["data"]["me"]["email"], "grace@example.org");
    assert_eq!(me["data"]["me"]["displayName"], "Grace Hopper");
    // The new address signs in; the old one no longer does.
    assert!(
        graphql(&state, None, &login("grace@example.org", PASSWORD, None))
            .await
            .get("errors")
            .is_none()
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_can_require_two_factor_login_per_role(pool: PgPool) {
    let state = state(&pool);
    let (_, admin) = signed_in(&state, &[Role::Admin]).await;
    let (_, lead) = signed_in(&state, &[Role::RedLead]).await;
    let (_, viewer) = signed_in(&state, &[Role::Viewer]).await;
    let require = graphql(
        &state,
        Some(&admin),
        "mutation { setTwoFactorRequirement(role: RED_LEAD, required: true) }",
    )
    .await;
    assert_eq!(
        require["data"]["setTwoFactorRequirement"], true,
        "{require}"
    );
    let again = graphql(
        &state,
        Some(&admin),
        "mutation { setTwoFactorRequirement(role: RED_LEAD, required: true) }",
    )
    .await;
    assert_eq!(error_code(&again), Some("VALIDATION"));
    let policy = graphql(
        &state,
        Some(&viewer),
        "{ securityPolicy { twoFactorRequiredFor } }",
    )
    .await;
    assert_eq!(
        policy["data"]["securityPolicy"]["twoFactorRequiredFor"][0],
        "RED_LEAD"
    );

    // The lead's existing session is held to enrolment at once; the viewer is unaffected.
    let me = graphql(&state, Some(&lead), "{ me { twoFactorEnrolmentRequired } }").await;
    assert_eq!(me["data"]["me"]["twoFactorEnrolmentRequired"], true, "{me}");
    let blocked = graphql(
        &state,
        Some(&lead),
        "{ users(first: 1) { edges { cursor } } }",
    )
    .await;
    assert_eq!(error_code(&blocked), Some("FORBIDDEN"));
    assert!(
        graphql(&state, Some(&viewer), "{ serverInfo { version } }")
            .await
            .get("errors")
            .is_none()
    );

    // Enrolling lifts the restriction.
    graphql(
        &state,
        Some(&lead),
        "mutation { beginTwoFactor { secret } }",
    )
    .await;
    let user_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM accounts WHERE totp_secret IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    let secret: Vec<u8> = sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let code = code_at(
        &TotpSecret::from_bytes(secret.try_into().unwrap()),
        u64::try_from(Utc::now().timestamp()).unwrap(),
    );
    let confirmed = graphql(
        &state,
        Some(&lead),
        &format!(r#"mutation {{ confirmTwoFactor(code: "{code}") }}"#),
    )
    .await;
    assert!(confirmed.get("errors").is_none(), "{confirmed}");
    assert!(
        graphql(
            &state,
            Some(&lead),
            "{ users(first: 1) { edges { cursor } } }"
        )
        .await
        .get("errors")
        .is_none()
    );

    let waived = graphql(
        &state,
        Some(&admin),
        "mutation { setTwoFactorRequirement(role: RED_LEAD, required: false) }",
    )
    .await;
    assert_eq!(waived["data"]["setTwoFactorRequirement"], true);
    let refused = graphql(
        &state,
        Some(&viewer),
        "mutation { setTwoFactorRequirement(role: VIEWER, required: true) }",
    )
    .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"));
}

#[sqlx::test(migrations = "../migrations")]
async fn behind_a_proxy_each_client_is_throttled_by_its_own_address(pool: PgPool) {
    let mut state = state(&pool);
    state.web.client_ip_header = Some(axum::http::HeaderName::from_static("x-forwarded-for"));
    create_user(&state, "ada@example.org", &[Role::Viewer]).await;
    let attempt = |client: &str, email: &str, password: &str| {
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            // The client may claim anything on the left; the proxy appends the address it saw.
            .header("x-forwarded-for", format!("203.0.113.99, {client}"))
            .body(Body::from(
                serde_json::json!({ "query": login(email, password, None) }).to_string(),
            ))
            .unwrap()
    };
    for index in 0..5 {
        let (_, _, body) = send(
            &state,
            attempt(
                "198.51.100.7",
                &format!("nobody{index}@example.org"),
                "wrong wrong wrong",
            ),
        )
        .await;
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
    }
    let (_, _, blocked) = send(&state, attempt("198.51.100.7", "ada@example.org", PASSWORD)).await;
    assert!(
        blocked.contains("RATE_LIMITED"),
        "the attacking address is blocked: {blocked}"
    );
    let (_, _, other) = send(&state, attempt("198.51.100.8", "ada@example.org", PASSWORD)).await;
    assert!(other.contains("userId"), "another client is not: {other}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_replica_forgets_a_cached_grant_as_soon_as_another_revokes_it(pool: PgPool) {
    let keys = std::sync::Arc::new(api::auth::tokens::SigningKeys::ephemeral());
    let replica_a = support::state_with_keys(&pool, std::sync::Arc::clone(&keys));
    let replica_b = support::state_with_keys(&pool, keys);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listening = {
        let authenticator = replica_a.identity.authenticator().clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move { authenticator.follow_credential_changes(shutdown).await })
    };
    let (_, token) = signed_in(&replica_a, &[Role::Viewer]).await;
    // Replica A caches the grant (valid for 2 s without news).
    assert!(
        graphql(&replica_a, Some(&token), "{ me { email } }")
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(
        graphql(&replica_b, Some(&token), "mutation { logout }").await["data"]["logout"],
        true
    );

    let started = std::time::Instant::now();
    loop {
        let refused = graphql(&replica_a, Some(&token), "{ me { email } }").await;
        if error_code(&refused) == Some("UNAUTHENTICATED") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1_500),
            "replica A still trusts the token"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    listening.await.unwrap().unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn batches_and_overly_complex_queries_are_refused(pool: PgPool) {
    let state = state(&pool);
    let (_, token) = signed_in(&state, &[Role::Admin]).await;
    let batch = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(
            r#"[{"query":"{ me { email } }"},{"query":"{ me { email } }"}]"#,
        ))
        .unwrap();
    let (status, _, body) = send(&state, batch).await;
    assert!(
        status.is_client_error() || body.contains("errors"),
        "a batch was executed: {status} {body}"
    );
    assert!(!body.contains("\"email\""), "{body}");

    // 150 aliases of a connection of 100 users: far beyond the complexity budget.
    let alias = |index: usize| {
        format!("u{index}: users(first: 100) {{ edges {{ node {{ email roles }} }} }}")
    };
    let aliases = (0..150).map(alias).collect::<Vec<_>>().join(" ");
    let complex = graphql(&state, Some(&token), &format!("{{ {aliases} }}")).await;
    let message = complex["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{complex}");
}
