//! The role matrix: every root field the schema has, called by every kind of caller, is allowed or refused
//! exactly as `domain::access::authorize` says. The fields come from the schema's own introspection, so a
//! new field without an access rule (or a rule naming a field that is gone) fails here, and its call is
//! synthesised from its arguments' types rather than written by hand.
//!
//! Callers: each of the six roles, anonymous, a deactivated user, an expired token, a revoked token, a token
//! signed by another key, and an admin's API token attenuated to read-only by its holder. A refusal must be
//! the guard's (its code and message) and the field must not have run; an allowed call may still fail on
//! the dummy arguments (VALIDATION, NOT_FOUND, …), which proves authorisation let it through.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use api::auth::session::Authentication;
use api::auth::tokens::{Claims, SigningKeys};
use api::graphql::AegisSchema;
use api::graphql::guard::{FIELD_OPERATIONS, operation_of};
use api::state::AppState;
use biscuit_auth::{Biscuit, BlockBuilder};
use chrono::{SecondsFormat, TimeDelta, Utc};
use domain::access::{Access, Audience, Caller, Denied, Operation, authorize};
use domain::role::Role;
use futures::StreamExt;
use serde_json::Value;
use sqlx::PgPool;
use support::{PASSWORD, create_user, graphql, signed_in, state};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------------------
// The schema, as introspection describes it.

/// Enough `ofType` levels for `[[X!]!]!`.
const INTROSPECTION: &str = r"
query RoleMatrixIntrospection {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types {
      kind
      name
      fields(includeDeprecated: true) {
        name
        args(includeDeprecated: true) { name defaultValue type { ...TypeRef } }
        type { ...TypeRef }
      }
      inputFields(includeDeprecated: true) { name defaultValue type { ...TypeRef } }
      enumValues(includeDeprecated: true) { name }
    }
  }
}

fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
}
";

#[derive(Debug, Clone, PartialEq, Eq)]
enum TypeRef {
    NonNull(Box<TypeRef>),
    List(Box<TypeRef>),
    Named { kind: String, name: String },
}

impl TypeRef {
    fn parse(value: &Value) -> Self {
        let kind = value["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("a type reference nested too deep for the matrix: {value}"));
        match kind {
            "NON_NULL" => Self::NonNull(Box::new(Self::parse(&value["ofType"]))),
            "LIST" => Self::List(Box::new(Self::parse(&value["ofType"]))),
            _ => Self::Named {
                kind: kind.to_owned(),
                name: value["name"].as_str().unwrap().to_owned(),
            },
        }
    }

    /// The named type inside any list and non-null wrappers: (kind, name).
    fn innermost(&self) -> (&str, &str) {
        match self {
            Self::NonNull(inner) | Self::List(inner) => inner.innermost(),
            Self::Named { kind, name } => (kind, name),
        }
    }
}

/// An argument or an input object's field.
#[derive(Debug, Clone)]
struct InputValue {
    name: String,
    type_ref: TypeRef,
    has_default: bool,
}

impl InputValue {
    fn parse(value: &Value) -> Self {
        Self {
            name: value["name"].as_str().unwrap().to_owned(),
            type_ref: TypeRef::parse(&value["type"]),
            has_default: !value["defaultValue"].is_null(),
        }
    }

    /// A value must be sent: non-null and without a default.
    fn is_required(&self) -> bool {
        matches!(self.type_ref, TypeRef::NonNull(_)) && !self.has_default
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Root {
    Query,
    Mutation,
    Subscription,
}

impl Root {
    const fn keyword(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

#[derive(Debug, Clone)]
struct RootField {
    root: Root,
    /// The root type's name as the schema spells it (`Query`, …), which `FIELD_OPERATIONS` uses.
    type_name: String,
    name: String,
    args: Vec<InputValue>,
    returns: TypeRef,
}

impl RootField {
    fn key(&self) -> String {
        format!("{}.{}", self.type_name, self.name)
    }

    fn operation(&self) -> Operation {
        operation_of(&self.type_name, &self.name)
            .unwrap_or_else(|| panic!("{} has no access rule", self.key()))
    }
}

#[derive(Debug)]
struct SchemaModel {
    fields: Vec<RootField>,
    enums: BTreeMap<String, Vec<String>>,
    input_objects: BTreeMap<String, Vec<InputValue>>,
}

impl SchemaModel {
    async fn introspect(schema: &AegisSchema) -> Self {
        let response = schema.execute(INTROSPECTION).await;
        assert!(
            response.errors.is_empty(),
            "introspection failed: {:?}",
            response.errors
        );
        let data = response.data.into_json().unwrap();
        let schema_json = &data["__schema"];
        let types: BTreeMap<&str, &Value> = schema_json["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|described| (described["name"].as_str().unwrap(), described))
            .collect();

        let mut fields = Vec::new();
        for (root, key) in [
            (Root::Query, "queryType"),
            (Root::Mutation, "mutationType"),
            (Root::Subscription, "subscriptionType"),
        ] {
            let Some(type_name) = schema_json[key]["name"].as_str() else {
                continue;
            };
            for field in types[type_name]["fields"].as_array().unwrap() {
                fields.push(RootField {
                    root,
                    type_name: type_name.to_owned(),
                    name: field["name"].as_str().unwrap().to_owned(),
                    args: field["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(InputValue::parse)
                        .collect(),
                    returns: TypeRef::parse(&field["type"]),
                });
            }
        }

        let mut enums = BTreeMap::new();
        let mut input_objects = BTreeMap::new();
        for (name, described) in types {
            match described["kind"].as_str() {
                Some("ENUM") => {
                    let values = described["enumValues"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|value| value["name"].as_str().unwrap().to_owned())
                        .collect();
                    enums.insert(name.to_owned(), values);
                }
                Some("INPUT_OBJECT") => {
                    let input_fields = described["inputFields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(InputValue::parse)
                        .collect();
                    input_objects.insert(name.to_owned(), input_fields);
                }
                _ => {}
            }
        }
        Self {
            fields,
            enums,
            input_objects,
        }
    }

    /// A syntactically valid literal of `type_ref`; meaningless, but of the right shape.
    fn dummy_value(&self, type_ref: &TypeRef) -> String {
        match type_ref {
            TypeRef::NonNull(inner) => self.dummy_value(inner),
            TypeRef::List(inner) => format!("[{}]", self.dummy_value(inner)),
            TypeRef::Named { kind, name } => match kind.as_str() {
                "SCALAR" => dummy_scalar(name),
                "ENUM" => self.enums[name]
                    .first()
                    .unwrap_or_else(|| panic!("enum {name} has no values"))
                    .clone(),
                "INPUT_OBJECT" => format!(
                    "{{ {} }}",
                    self.dummy_arguments(&self.input_objects[name]).join(", ")
                ),
                other => panic!("{name} ({other}) cannot be an input"),
            },
        }
    }

    /// `name: value` for every value that must be sent.
    fn dummy_arguments(&self, inputs: &[InputValue]) -> Vec<String> {
        inputs
            .iter()
            .filter(|input| input.is_required())
            .map(|input| format!("{}: {}", input.name, self.dummy_value(&input.type_ref)))
            .collect()
    }

    /// The document that calls `field` alone, with dummy arguments (or real ones where dummies cannot tell
    /// a refusal from a failure) and the smallest selection set its type allows.
    fn operation_text(&self, field: &RootField, fixture: &Fixture) -> String {
        let arguments = fixture.real_arguments(&field.key()).unwrap_or_else(|| {
            let arguments = self.dummy_arguments(&field.args);
            if arguments.is_empty() {
                String::new()
            } else {
                format!("({})", arguments.join(", "))
            }
        });
        let selection = match field.returns.innermost().0 {
            "OBJECT" | "INTERFACE" | "UNION" => " { __typename }",
            _ => "",
        };
        format!(
            "{} {{ {}{arguments}{selection} }}",
            field.root.keyword(),
            field.name
        )
    }
}

/// A literal for a scalar; a scalar unknown here fails the test, naming it, until it is taught one.
fn dummy_scalar(name: &str) -> String {
    match name {
        "String" => r#""x""#.to_owned(),
        "ID" | "UUID" => format!(r#""{}""#, Uuid::new_v4()),
        "Int" => "1".to_owned(),
        "Float" => "1.0".to_owned(),
        // Off, so that a dummy call to a switch (`required: false`, …) turns nothing on for later calls.
        "Boolean" => "false".to_owned(),
        "BigInt" => r#""1""#.to_owned(),
        "DateTime" => format!(r#""{}""#, in_a_day()),
        "JSON" => "{}".to_owned(),
        other => panic!("no dummy value for the scalar {other}: add one to role_matrix.rs"),
    }
}

fn in_a_day() -> String {
    (Utc::now() + TimeDelta::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What the matrix needs beyond the schema.
#[derive(Debug)]
struct Fixture {
    /// An account `login` can really sign in to: with dummy credentials it would answer UNAUTHENTICATED
    /// ("the e-mail address or password is wrong"), indistinguishable by code from a refusal.
    login_email: String,
}

/// Fields called with real arguments instead of dummies, and why: see [`Fixture`].
const FIELDS_WITH_REAL_ARGUMENTS: &[&str] = &["Mutation.login"];

impl Fixture {
    async fn new(state: &AppState) -> Self {
        let login_email = format!("login-target-{}@example.org", Uuid::now_v7());
        create_user(state, &login_email, &[Role::Viewer]).await;
        Self { login_email }
    }

    fn real_arguments(&self, field: &str) -> Option<String> {
        match field {
            "Mutation.login" => Some(format!(
                r#"(email: "{}", password: "{PASSWORD}")"#,
                self.login_email
            )),
            _ => None,
        }
    }
}

/// The schema's root fields; fails, naming them, on fields without a rule and rules without a field.
async fn root_fields(state: &AppState) -> SchemaModel {
    let mut model = SchemaModel::introspect(&api::graphql::schema(state)).await;
    let keys: BTreeSet<String> = model.fields.iter().map(RootField::key).collect();
    let mut problems = Vec::new();
    for field in &model.fields {
        if operation_of(&field.type_name, &field.name).is_none() {
            problems.push(format!(
                "{} has no access rule in guard::FIELD_OPERATIONS",
                field.key()
            ));
        }
    }
    let mut named = BTreeSet::new();
    for (name, _) in FIELD_OPERATIONS {
        if !keys.contains(*name) {
            problems.push(format!(
                "guard::FIELD_OPERATIONS names {name}, which the schema does not have"
            ));
        }
        if !named.insert(*name) {
            problems.push(format!("guard::FIELD_OPERATIONS names {name} twice"));
        }
    }
    for name in FIELDS_WITH_REAL_ARGUMENTS {
        if !keys.contains(*name) {
            problems.push(format!(
                "role_matrix.rs has real arguments for {name}, which the schema does not have"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    // Reads first: an allowed mutation with dummy arguments may still change something global.
    model
        .fields
        .sort_by_key(|field| field.root == Root::Mutation);
    model
}

// ---------------------------------------------------------------------------------------------------------
// Callers.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerKind {
    Role(Role),
    Anonymous,
    Deactivated,
    Expired,
    Revoked,
    OtherKey,
    /// An admin's full API token, attenuated by its holder with `check if operation("read")`.
    ReadOnly,
}

impl CallerKind {
    fn all() -> Vec<Self> {
        Role::ALL
            .into_iter()
            .map(Self::Role)
            .chain([
                Self::Anonymous,
                Self::Deactivated,
                Self::Expired,
                Self::Revoked,
                Self::OtherKey,
                Self::ReadOnly,
            ])
            .collect()
    }

    /// The caller as the role rules see it: a token that is not (or no longer) good is nobody.
    fn caller(self) -> Caller {
        match self {
            Self::Role(role) => Caller::User {
                roles: BTreeSet::from([role]),
                read_only: false,
            },
            Self::ReadOnly => Caller::User {
                roles: BTreeSet::from([Role::Admin]),
                read_only: true,
            },
            Self::Anonymous
            | Self::Deactivated
            | Self::Expired
            | Self::Revoked
            | Self::OtherKey => Caller::Anonymous,
        }
    }

    /// Why the authenticator may turn this caller's token away, as the client is told; empty when the
    /// caller presents no bad token. Deactivation revokes every token of the account as well, so either
    /// reason is right for a deactivated user.
    const fn rejections(self) -> &'static [&'static str] {
        match self {
            Self::Deactivated => &["the account is deactivated", "the token has been revoked"],
            Self::Expired => &["the token has expired"],
            Self::Revoked => &["the token has been revoked"],
            Self::OtherKey => &["the token is not valid"],
            Self::Role(_) | Self::Anonymous | Self::ReadOnly => &[],
        }
    }
}

impl fmt::Display for CallerKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role(role) => formatter.write_str(role.as_str()),
            Self::Anonymous => formatter.write_str("anonymous"),
            Self::Deactivated => formatter.write_str("deactivated user"),
            Self::Expired => formatter.write_str("expired token"),
            Self::Revoked => formatter.write_str("revoked token"),
            Self::OtherKey => formatter.write_str("other key"),
            Self::ReadOnly => formatter.write_str("read-only admin token"),
        }
    }
}

/// Runs a mutation that must succeed and returns its data.
async fn must_succeed(state: &AppState, token: &str, document: &str) -> Value {
    let response = graphql(state, Some(token), document).await;
    assert!(response.get("errors").is_none(), "{document}: {response}");
    response["data"].clone()
}

/// A full API token of the user signed in with `session`: (id, value).
async fn full_api_token(state: &AppState, session: &str) -> (String, String) {
    let data = must_succeed(
        state,
        session,
        &format!(
            r#"mutation {{ createApiToken(name: "matrix", scope: {{ kind: FULL }}, expiresAt: "{}") {{ id token }} }}"#,
            in_a_day()
        ),
    )
    .await;
    let created = &data["createApiToken"];
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

async fn authenticate(state: &AppState, token: &str) -> Authentication {
    state
        .identity
        .authenticator()
        .authenticate_token(token)
        .await
}

/// The session's claims as the state's keys would mint them, expiring at `expires_at`.
async fn claims_of(state: &AppState, session: &str, expires_at: chrono::DateTime<Utc>) -> Claims {
    let authentication = authenticate(state, session).await;
    let principal = authentication.principal().unwrap();
    Claims {
        user_id: principal.user_id,
        token_id: principal.token_id,
        expires_at,
        read_only: false,
    }
}

/// A token for each kind of caller that keeps one for the whole matrix. Every bad token belongs to an admin,
/// so that anything it were wrongly let through to would show.
async fn shared_tokens(state: &AppState) -> BTreeMap<String, Option<String>> {
    let (_, operator) = signed_in(state, &[Role::Admin]).await;
    let mut tokens = BTreeMap::new();
    for kind in CallerKind::all() {
        let token = match kind {
            CallerKind::Role(role) => Some(signed_in(state, &[role]).await.1),
            CallerKind::Anonymous => None,
            CallerKind::Deactivated => {
                let (user_id, session) = signed_in(state, &[Role::Admin]).await;
                assert!(authenticate(state, &session).await.principal().is_some());
                must_succeed(
                    state,
                    &operator,
                    &format!(r#"mutation {{ deactivateUser(userId: "{user_id}") }}"#),
                )
                .await;
                Some(session)
            }
            CallerKind::Expired => {
                let (_, session) = signed_in(state, &[Role::Admin]).await;
                let keys = state.identity.authenticator().keys();
                // A re-minted token has a revocation id of its own that Postgres does not know, so it would be
                // refused as "not valid" even if expiry went unchecked: the expected message pins the reason.
                let expired = claims_of(state, &session, Utc::now() - TimeDelta::minutes(1)).await;
                Some(keys.mint(&expired).unwrap().value)
            }
            CallerKind::Revoked => {
                let (_, session) = signed_in(state, &[Role::Admin]).await;
                let (id, token) = full_api_token(state, &session).await;
                assert!(authenticate(state, &token).await.principal().is_some());
                must_succeed(
                    state,
                    &session,
                    &format!(r#"mutation {{ revokeApiToken(id: "{id}") }}"#),
                )
                .await;
                Some(token)
            }
            CallerKind::OtherKey => {
                let (_, session) = signed_in(state, &[Role::Admin]).await;
                let claims = claims_of(state, &session, Utc::now() + TimeDelta::hours(1)).await;
                Some(SigningKeys::ephemeral().mint(&claims).unwrap().value)
            }
            CallerKind::ReadOnly => {
                let (_, session) = signed_in(state, &[Role::Admin]).await;
                let (_, full) = full_api_token(state, &session).await;
                let before = authenticate(state, &full).await;
                assert!(!before.principal().unwrap().read_only, "{before:?}");
                let keys = state.identity.authenticator().keys();
                let attenuated = Biscuit::from_base64(&full, keys)
                    .unwrap()
                    .append(
                        BlockBuilder::new()
                            .code("check if operation(\"read\");")
                            .unwrap(),
                    )
                    .unwrap()
                    .to_base64()
                    .unwrap();
                // The holder's own block, not the token's scope, is what makes it read-only.
                let after = authenticate(state, &attenuated).await;
                assert!(after.principal().unwrap().read_only, "{after:?}");
                Some(attenuated)
            }
        };
        tokens.insert(kind.to_string(), token);
    }
    tokens
}

// ---------------------------------------------------------------------------------------------------------
// Outcomes.

const DENIAL_CODES: [&str; 2] = ["UNAUTHENTICATED", "FORBIDDEN"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Allowed,
    /// Refused with this code and one of these messages.
    Denied {
        code: &'static str,
        messages: Vec<String>,
    },
}

impl Expected {
    fn of(denied: Result<(), Denied>, rejections: &[&str]) -> Self {
        match denied {
            Ok(()) => Self::Allowed,
            Err(Denied::NotSignedIn) if !rejections.is_empty() => Self::Denied {
                code: "UNAUTHENTICATED",
                messages: rejections
                    .iter()
                    .map(|reason| format!("sign in again: {reason}"))
                    .collect(),
            },
            Err(denied) => Self::denied(
                if denied.is_unauthenticated() {
                    "UNAUTHENTICATED"
                } else {
                    "FORBIDDEN"
                },
                &denied.to_string(),
            ),
        }
    }

    fn denied(code: &'static str, message: &str) -> Self {
        Self::Denied {
            code,
            messages: vec![message.to_owned()],
        }
    }

    fn matches(&self, got: &Outcome) -> bool {
        match (self, got) {
            (Self::Allowed, Outcome::Ran(_)) => true,
            (
                Self::Denied { code, messages },
                Outcome::Denied {
                    code: got,
                    message: said,
                },
            ) => code == got && messages.contains(said),
            _ => false,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowed => formatter.write_str("allowed"),
            Self::Denied { code, messages } => {
                write!(formatter, "{code} \"{}\"", messages.join("\" or \""))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Authorisation let the call through: it returned data ("ok") or failed with this other code.
    Ran(String),
    Denied {
        code: String,
        message: String,
    },
    /// Refused, and yet the field returned data or changed something.
    DeniedAfterRunning {
        code: String,
        message: String,
        evidence: String,
    },
}

impl Outcome {
    fn of(response: &Value, field: &str, events_appended: i64) -> Self {
        let errors = response["errors"].as_array().cloned().unwrap_or_default();
        let denial = errors.iter().find(|error| {
            DENIAL_CODES.contains(&error["extensions"]["code"].as_str().unwrap_or_default())
        });
        let Some(denial) = denial else {
            return Self::Ran(errors.first().map_or_else(
                || "ok".to_owned(),
                |error| {
                    error["extensions"]["code"].as_str().map_or_else(
                        || format!("error without a code: {}", error["message"]),
                        str::to_owned,
                    )
                },
            ));
        };
        let code = denial["extensions"]["code"].as_str().unwrap().to_owned();
        let message = denial["message"].as_str().unwrap_or_default().to_owned();
        let mut evidence = Vec::new();
        if !response["data"][field].is_null() {
            evidence.push(format!("returned {}", response["data"][field]));
        }
        if events_appended > 0 {
            evidence.push(format!("appended {events_appended} events"));
        }
        if evidence.is_empty() {
            Self::Denied { code, message }
        } else {
            Self::DeniedAfterRunning {
                code,
                message,
                evidence: evidence.join(", "),
            }
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ran(code) => write!(formatter, "ran ({code})"),
            Self::Denied { code, message } => write!(formatter, "{code} \"{message}\""),
            Self::DeniedAfterRunning {
                code,
                message,
                evidence,
            } => write!(formatter, "{code} \"{message}\" but {evidence}"),
        }
    }
}

/// Events other than refusals (which the guard records for signed-in callers): a refused field adds none.
async fn events_besides_refusals(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type <> 'UserAccessDenied'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Calls `field` as the holder of `token`: queries and mutations over HTTP, subscriptions on the schema.
async fn call(
    state: &AppState,
    schema: &AegisSchema,
    field: &RootField,
    token: Option<&str>,
    document: &str,
) -> Outcome {
    let before = events_besides_refusals(&state.pool).await;
    let response = match field.root {
        Root::Query | Root::Mutation => graphql(state, token, document).await,
        Root::Subscription => {
            let authentication = match token {
                Some(token) => authenticate(state, token).await,
                None => Authentication::Anonymous,
            };
            let mut stream =
                schema.execute_stream(async_graphql::Request::new(document).data(authentication));
            let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap_or_else(|_| panic!("{document}: no first item within 10 s"))
                .unwrap_or_else(|| panic!("{document}: the stream ended at once"));
            serde_json::to_value(&first).unwrap()
        }
    };
    let appended = events_besides_refusals(&state.pool).await - before;
    Outcome::of(&response, &field.name, appended)
}

/// Collects (caller, field, expected, got) rows that disagree, and prints them as a table.
#[derive(Debug, Default)]
struct Mismatches {
    checked: usize,
    rows: Vec<[String; 4]>,
}

impl Mismatches {
    fn record(&mut self, caller: &str, field: &RootField, expected: &Expected, got: &Outcome) {
        self.checked += 1;
        if !expected.matches(got) {
            self.rows.push([
                caller.to_owned(),
                field.key(),
                expected.to_string(),
                got.to_string(),
            ]);
        }
    }

    fn assert_none(&self) {
        println!("checked {} calls", self.checked);
        if self.rows.is_empty() {
            return;
        }
        let header = [
            "caller".to_owned(),
            "field".to_owned(),
            "expected".to_owned(),
            "got".to_owned(),
        ];
        let mut widths = [0; 4];
        for row in std::iter::once(&header).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |row: &[String; 4]| {
            row.iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let table: Vec<String> = std::iter::once(line(&header))
            .chain(self.rows.iter().map(line))
            .collect();
        panic!(
            "{} of {} calls disagree with the role rules:\n{}",
            self.rows.len(),
            self.checked,
            table.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// The tests.

#[sqlx::test(migrations = "../migrations")]
async fn every_root_field_has_exactly_one_access_rule(pool: PgPool) {
    let model = root_fields(&state(&pool)).await;
    for root in [Root::Query, Root::Mutation, Root::Subscription] {
        assert!(
            model.fields.iter().any(|field| field.root == root),
            "the schema has no {root:?} fields"
        );
    }
    // The matrix takes each field's operation from the guard's own table, so it cannot tell a field given the
    // wrong operation. The costliest such slip, a change labelled a read (read-only tokens could make it), is
    // caught here: queries and subscriptions read, mutations write.
    let mislabelled: Vec<String> = model
        .fields
        .iter()
        .filter(|field| {
            let reads = field.operation().access() == Access::Read;
            reads == (field.root == Root::Mutation)
        })
        .map(|field| format!("{} is {:?}", field.key(), field.operation()))
        .collect();
    assert!(
        mislabelled.is_empty(),
        "queries and subscriptions must map to read operations, mutations to write operations: {}",
        mislabelled.join(", ")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn every_caller_is_allowed_or_refused_exactly_as_the_role_rules_say(pool: PgPool) {
    let state = state(&pool);
    let schema = api::graphql::schema(&state);
    let model = root_fields(&state).await;
    let fixture = Fixture::new(&state).await;
    let tokens = shared_tokens(&state).await;
    let mut mismatches = Mismatches::default();
    for field in &model.fields {
        let operation = field.operation();
        let document = model.operation_text(field, &fixture);
        for kind in CallerKind::all() {
            // An allowed mutation may change its caller (logout ends the session), so every role meets each
            // mutation as a fresh user. The other callers cannot write anything of their own.
            let token = match (kind, field.root) {
                (CallerKind::Role(role), Root::Mutation) => {
                    Some(signed_in(&state, &[role]).await.1)
                }
                _ => tokens[&kind.to_string()].clone(),
            };
            let expected = Expected::of(authorize(&kind.caller(), operation), kind.rejections());
            let got = call(&state, &schema, field, token.as_deref(), &document).await;
            mismatches.record(&kind.to_string(), field, &expected, &got);
        }
    }
    mismatches.assert_none();
}

/// The fields a user whose password an admin reset may still call.
const ALLOWED_DURING_RESET: [&str; 3] =
    ["Query.me", "Mutation.changeMyPassword", "Mutation.logout"];

#[sqlx::test(migrations = "../migrations")]
async fn a_forced_password_reset_allows_only_me_change_password_and_logout(pool: PgPool) {
    let state = state(&pool);
    let schema = api::graphql::schema(&state);
    let mut model = root_fields(&state).await;
    // Logging out ends the session the remaining calls use.
    model
        .fields
        .sort_by_key(|field| field.key() == "Mutation.logout");
    let fixture = Fixture::new(&state).await;
    let (_, operator) = signed_in(&state, &[Role::Admin]).await;
    let mut mismatches = Mismatches::default();
    for role in [Role::Admin, Role::Viewer] {
        let (user_id, session) = signed_in(&state, &[role]).await;
        must_succeed(
            &state,
            &operator,
            &format!(r#"mutation {{ requirePasswordReset(userId: "{user_id}") }}"#),
        )
        .await;
        let caller = Caller::User {
            roles: BTreeSet::from([role]),
            read_only: false,
        };
        for field in &model.fields {
            let expected = match Expected::of(authorize(&caller, field.operation()), &[]) {
                // Signing in is open to anyone, so a pending reset never blocks it.
                Expected::Allowed
                    if !ALLOWED_DURING_RESET.contains(&field.key().as_str())
                        && field.operation().audience() != Audience::Anyone =>
                {
                    Expected::denied("FORBIDDEN", "change your password first")
                }
                expected => expected,
            };
            let document = model.operation_text(field, &fixture);
            let got = call(&state, &schema, field, Some(&session), &document).await;
            mismatches.record(&format!("{role} (password reset)"), field, &expected, &got);
        }
    }
    mismatches.assert_none();
}
