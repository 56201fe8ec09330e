//! The aggregate's tests: shared fixtures, value types and error codes here; the workflow in [`workflow`], who
//! may do what in which state in [`authorisation`], and the persisted-event contract in [`stored`].

use cqrs_es::test::TestFramework;
use proptest::{prop_assert_eq, proptest};

use super::*;

mod authorisation;
mod stored;
mod workflow;

fn framework() -> TestFramework<TestCase> {
    TestFramework::with(())
}

/// A fixed id, readable in the stored literals (`id(1)` is "00000000-0000-0000-0000-000000000001").
fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

/// An instant written as RFC 3339, e.g. "2025-03-01T12:00:00Z".
fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

/// When every command in these tests is given.
fn now() -> DateTime<Utc> {
    at("2025-03-01T12:00:00Z")
}

/// The user acting in `role`: one user per role, and the techs are the assignees in [`assigned`].
fn user(role: Role) -> Uuid {
    id(match role {
        Role::Admin => 1,
        Role::RedLead => 2,
        Role::RedTech => 3,
        Role::BlueLead => 4,
        Role::BlueTech => 5,
        Role::Viewer => 6,
    })
}

fn actor(role: Role) -> Actor {
    Actor::new(user(role), [role])
}

/// A tech of `role` who is not assigned to the test case.
fn unassigned(role: Role) -> Actor {
    Actor::new(id(9), [role])
}

fn command(actor: Actor, action: TestCaseAction) -> TestCaseCommand {
    TestCaseCommand {
        actor,
        at: now(),
        action,
    }
}

/// `action`, given by the user of `role`.
fn by(role: Role, action: TestCaseAction) -> TestCaseCommand {
    command(actor(role), action)
}

fn text(input: &str) -> Text {
    Text::parse(input).unwrap()
}

fn note(input: &str) -> Note {
    Note::parse(input).unwrap()
}

fn rule(input: &str) -> DetectionRuleRef {
    DetectionRuleRef::parse(input).unwrap()
}

fn tool(input: &str) -> ToolName {
    ToolName::parse(input).unwrap()
}

fn target(input: &str) -> Target {
    Target::parse(input).unwrap()
}

/// A blind credential-dumping test from Atomic Red Team.
fn plan() -> Plan {
    Plan {
        title: Title::parse("Dump LSASS with comsvcs.dll").unwrap(),
        objective: text("An LSASS dump through comsvcs.dll is blocked."),
        technique: TechniqueId::parse("T1003.001").unwrap(),
        procedure: ProcedureSource::AtomicTest { guid: id(100) },
        steps: text("rundll32 comsvcs.dll MiniDump <lsass pid> lsass.dmp full"),
        platforms: [Platform::parse("windows").unwrap()].into(),
        targets: [target("ws-01")].into(),
        tags: [Tag::parse("credential-access").unwrap()].into(),
        blind: true,
    }
}

fn execution(started_at: &str, stopped_at: &str) -> Execution {
    Execution {
        command: text("rundll32 comsvcs.dll MiniDump 612 lsass.dmp full"),
        target: target("ws-01"),
        started_at: at(started_at),
        stopped_at: at(stopped_at),
        output_excerpt: text("Access is denied."),
    }
}

/// `tool`'s `outcome` with nothing else recorded.
fn defense(tool_name: &str, outcome: Outcome) -> DefenseOutcome {
    DefenseOutcome {
        tool: tool(tool_name),
        outcome,
        severity: None,
        detected_at: None,
        rules_fired: BTreeSet::new(),
    }
}

/// A high-severity alert by `tool` at `detected_at`, fired by the rule "sigma-lsass-dump".
fn alerted(tool_name: &str, detected_at: &str) -> DefenseOutcome {
    DefenseOutcome {
        severity: Some(Severity::High),
        detected_at: Some(at(detected_at)),
        rules_fired: [rule("sigma-lsass-dump")].into(),
        ..defense(tool_name, Outcome::Alerted)
    }
}

fn evidence(number: u128) -> EvidenceRef {
    EvidenceRef {
        id: id(number),
        sha256: Sha256::parse("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap(),
        file_name: FileName::parse("lsass-dump.log").unwrap(),
        stored: None,
    }
}

fn planned() -> TestCaseEvent {
    TestCaseEvent::Planned {
        planned_by: user(Role::RedLead),
        at: now(),
        plan: plan(),
    }
}

/// Both techs assigned, by an admin.
fn assigned() -> TestCaseEvent {
    TestCaseEvent::Assigned {
        assigned_by: user(Role::Admin),
        at: now(),
        red_assignee: Some(user(Role::RedTech)),
        blue_assignee: Some(user(Role::BlueTech)),
    }
}

fn rule_linked() -> TestCaseEvent {
    TestCaseEvent::DetectionRuleLinked {
        linked_by: user(Role::BlueLead),
        at: now(),
        rule: rule("sigma-lsass-dump"),
    }
}

fn execution_started() -> TestCaseEvent {
    TestCaseEvent::ExecutionStarted {
        started_by: user(Role::RedTech),
        at: now(),
    }
}

fn execution_recorded(execution: Execution) -> TestCaseEvent {
    TestCaseEvent::ExecutionRecorded {
        recorded_by: user(Role::RedTech),
        at: now(),
        execution,
    }
}

fn execution_completed() -> TestCaseEvent {
    TestCaseEvent::ExecutionCompleted {
        completed_by: user(Role::RedTech),
        at: now(),
    }
}

fn review_started() -> TestCaseEvent {
    TestCaseEvent::ReviewStarted {
        started_by: user(Role::BlueTech),
        at: now(),
    }
}

fn outcome_recorded(role: Role, defense: DefenseOutcome) -> TestCaseEvent {
    TestCaseEvent::OutcomeRecorded {
        recorded_by: user(role),
        at: now(),
        defense,
    }
}

fn submitted() -> TestCaseEvent {
    TestCaseEvent::SubmittedForApproval {
        submitted_by: user(Role::BlueTech),
        at: now(),
    }
}

fn evidence_attached(role: Role, side: Side, number: u128) -> TestCaseEvent {
    TestCaseEvent::EvidenceAttached {
        attached_by: user(role),
        at: now(),
        side,
        evidence: evidence(number),
    }
}

/// Paused while executing.
const PAUSED: TestState = TestState::Paused {
    previous: ActiveState::Executing,
};

/// Every state, the paused one as [`PAUSED`]; the active ones first, then paused, so `STATES[..6]` are the
/// active states and `STATES[..7]` the open ones.
const STATES: [TestState; 9] = [
    TestState::Planned,
    TestState::Assigned,
    TestState::Executing,
    TestState::Executed,
    TestState::Reviewing,
    TestState::AwaitingApproval,
    PAUSED,
    TestState::Completed,
    TestState::Abandoned,
];

/// The events that bring the test case of [`plan`] to `state` along the usual path: planned with the rule
/// "sigma-lsass-dump" linked, assigned to both techs, executed once from 12:05 to 12:06, reviewed by the blue
/// tech with an alert from "EDR" at 12:08, approved by the red lead. Paused while executing; abandoned once
/// assigned. The plan is blind and not revealed.
fn history(state: TestState) -> Vec<TestCaseEvent> {
    let path = [
        (TestState::Assigned, vec![assigned()]),
        (
            TestState::Executing,
            vec![
                execution_started(),
                execution_recorded(execution("2025-03-01T12:05:00Z", "2025-03-01T12:06:00Z")),
            ],
        ),
        (TestState::Executed, vec![execution_completed()]),
        (
            TestState::Reviewing,
            vec![
                review_started(),
                outcome_recorded(Role::BlueTech, alerted("EDR", "2025-03-01T12:08:00Z")),
            ],
        ),
        (TestState::AwaitingApproval, vec![submitted()]),
        (
            TestState::Completed,
            vec![TestCaseEvent::ResultApproved {
                approved_by: user(Role::RedLead),
                at: now(),
                outcome: Outcome::Alerted,
            }],
        ),
    ];
    let reached = match state {
        TestState::Paused { previous } => previous.into(),
        TestState::Abandoned => TestState::Assigned,
        other => other,
    };
    let steps = path
        .iter()
        .position(|(step, _)| *step == reached)
        .map_or(0, |index| index + 1);
    let mut events = vec![planned(), rule_linked()];
    events.extend(path.into_iter().take(steps).flat_map(|(_, events)| events));
    match state {
        TestState::Paused { previous } => events.push(TestCaseEvent::Paused {
            paused_by: user(Role::RedLead),
            at: now(),
            previous,
        }),
        TestState::Abandoned => events.push(TestCaseEvent::Abandoned {
            abandoned_by: user(Role::BlueLead),
            at: now(),
            reason: note("Out of scope."),
        }),
        _ => {}
    }
    events
}

/// The test case after `events`.
fn rebuild(events: Vec<TestCaseEvent>) -> TestCase {
    let mut test_case = TestCase::default();
    for event in events {
        test_case.apply(event);
    }
    test_case
}

#[test]
fn every_history_reaches_its_state() {
    for state in STATES {
        assert_eq!(rebuild(history(state)).state(), Some(state));
    }
}

// TechniqueId

#[test]
fn technique_id_is_trimmed_and_upper_cased() {
    let technique = TechniqueId::parse(" t1003.001\n").unwrap();
    assert_eq!(technique.as_str(), "T1003.001");
    assert!(technique.is_sub_technique());
    assert_eq!(
        technique.parent(),
        Some(TechniqueId::parse("T1003").unwrap())
    );
}

#[test]
fn a_technique_has_no_parent() {
    let technique = TechniqueId::parse("T1059").unwrap();
    assert!(!technique.is_sub_technique());
    assert_eq!(technique.parent(), None);
}

#[test]
fn technique_id_rejects_everything_but_t1234_and_t1234_001() {
    for input in [
        "",
        "T",
        "T123",
        "T12345",
        "1003",
        "TA0001",
        "T1003.",
        "T1003.01",
        "T1003.0011",
        "T1003-001",
        "T1003.001.001",
        "T 1003",
        "T１００３",
        "S0002",
    ] {
        assert_eq!(
            TechniqueId::parse(input),
            Err(TestCaseError::InvalidTechnique(input.to_owned())),
            "input {input:?}"
        );
    }
}

proptest! {
    #[test]
    fn every_well_formed_technique_id_parses(input in "[tT][0-9]{4}(\\.[0-9]{3})?") {
        let technique = TechniqueId::parse(&input).unwrap();
        prop_assert_eq!(technique.as_str(), input.to_uppercase());
        prop_assert_eq!(technique.is_sub_technique(), input.len() == 9);
        if let Some(parent) = technique.parent() {
            prop_assert_eq!(parent.as_str(), &input.to_uppercase()[..5]);
        }
    }
}

// The other string values

#[test]
fn labels_are_trimmed_and_keep_their_case() {
    assert_eq!(
        Title::parse("  Dump LSASS ").unwrap().as_str(),
        "Dump LSASS"
    );
    assert_eq!(target(" WS-01 ").as_str(), "WS-01");
    assert_eq!(tool(" CrowdStrike Falcon ").as_str(), "CrowdStrike Falcon");
    assert_eq!(rule(" Sigma-LSASS ").as_str(), "Sigma-LSASS");
    assert_eq!(
        TemplateRef::parse(" Rundll32 ").unwrap().as_str(),
        "Rundll32"
    );
    assert_eq!(FileName::parse(" dump.LOG ").unwrap().as_str(), "dump.LOG");
}

#[test]
fn tags_and_platforms_are_lower_cased() {
    assert_eq!(
        Tag::parse(" Credential-Access ").unwrap().as_str(),
        "credential-access"
    );
    assert_eq!(Platform::parse("macOS").unwrap().as_str(), "macos");
    assert_eq!(Platform::parse("IaaS:AWS").unwrap().as_str(), "iaas:aws");
}

#[test]
fn each_label_rejects_a_bad_value_with_its_reason() {
    let long = |count: usize| "a".repeat(count);
    let cases = [
        (
            Title::parse(" ").map(|_| ()),
            TestCaseError::InvalidTitle("it is empty".to_owned()),
        ),
        (
            Title::parse(&long(201)).map(|_| ()),
            TestCaseError::InvalidTitle("it is longer than 200 characters".to_owned()),
        ),
        (
            Title::parse("Dump\nLSASS").map(|_| ()),
            TestCaseError::InvalidTitle("it contains control characters".to_owned()),
        ),
        (
            Tag::parse(&long(51)).map(|_| ()),
            TestCaseError::InvalidTag("it is longer than 50 characters".to_owned()),
        ),
        (
            Platform::parse("").map(|_| ()),
            TestCaseError::InvalidPlatform("it is empty".to_owned()),
        ),
        (
            Target::parse(&long(256)).map(|_| ()),
            TestCaseError::InvalidTarget("it is longer than 255 characters".to_owned()),
        ),
        (
            ToolName::parse("\t").map(|_| ()),
            TestCaseError::InvalidToolName("it is empty".to_owned()),
        ),
        (
            DetectionRuleRef::parse("rule\u{7}").map(|_| ()),
            TestCaseError::InvalidDetectionRule("it contains control characters".to_owned()),
        ),
        (
            TemplateRef::parse("").map(|_| ()),
            TestCaseError::InvalidTemplateRef("it is empty".to_owned()),
        ),
        (
            FileName::parse("../etc/passwd").map(|_| ()),
            TestCaseError::InvalidFileName(
                "it must be a file name, without '/' or '\\'".to_owned(),
            ),
        ),
        (
            FileName::parse("C:\\dump.log").map(|_| ()),
            TestCaseError::InvalidFileName(
                "it must be a file name, without '/' or '\\'".to_owned(),
            ),
        ),
    ];
    for (result, error) in cases {
        assert_eq!(result, Err(error));
    }
}

#[test]
fn label_length_counts_characters_not_bytes() {
    let greek = "λ".repeat(200);
    assert_eq!(Title::parse(&greek).unwrap().as_str(), greek);
}

#[test]
fn sha256_is_lower_cased_and_must_be_64_hex_digits() {
    let digest = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    assert_eq!(
        Sha256::parse(digest).unwrap().as_str(),
        digest.to_lowercase()
    );
    for input in [
        "",
        &digest[1..],
        &format!("{digest}0"),
        &digest.replace('E', "G"),
    ] {
        assert_eq!(
            Sha256::parse(input),
            Err(TestCaseError::InvalidSha256(input.to_owned()))
        );
    }
}

#[test]
fn text_is_kept_as_typed_and_may_be_empty() {
    for input in [
        "",
        "  indented\n\tline\n",
        "\u{1b}[31mred\u{1b}[0m",
        &"a".repeat(10_000),
    ] {
        assert_eq!(text(input).as_str(), input);
    }
    assert_eq!(
        Text::parse(&"a".repeat(10_001)),
        Err(TestCaseError::InvalidText(
            "it is longer than 10000 characters".to_owned()
        ))
    );
    assert_eq!(
        Text::parse("a\0b"),
        Err(TestCaseError::InvalidText(
            "it contains a NUL character".to_owned()
        ))
    );
}

#[test]
fn note_is_trimmed_keeps_line_breaks_and_must_not_be_blank() {
    assert_eq!(
        note("  Wrong host.\r\n\tRetry on ws-02. ").as_str(),
        "Wrong host.\r\n\tRetry on ws-02."
    );
    let cases = [
        (" \n ".to_owned(), "it is empty"),
        ("a".repeat(10_001), "it is longer than 10000 characters"),
        (
            "bell\u{7}".to_owned(),
            "it contains control characters other than line breaks and tabs",
        ),
    ];
    for (input, reason) in cases {
        assert_eq!(
            Note::parse(&input),
            Err(TestCaseError::InvalidNote(reason.to_owned()))
        );
    }
}

#[test]
fn string_values_serialize_as_plain_strings_and_are_checked_when_read() {
    assert_eq!(
        serde_json::to_string(&plan().technique).unwrap(),
        "\"T1003.001\""
    );
    assert_eq!(
        serde_json::from_str::<TechniqueId>("\"t1003\"").unwrap(),
        TechniqueId::parse("T1003").unwrap()
    );
    assert_eq!(
        serde_json::from_str::<Tag>("\"Purple\"").unwrap().as_str(),
        "purple"
    );
    assert!(serde_json::from_str::<TechniqueId>("\"T1\"").is_err());
    assert!(serde_json::from_str::<Title>("\"\"").is_err());
    assert!(serde_json::from_str::<Tag>("\"\"").is_err());
    assert!(serde_json::from_str::<Platform>("\"\"").is_err());
    assert!(serde_json::from_str::<Target>("\"\"").is_err());
    assert!(serde_json::from_str::<ToolName>("\"\"").is_err());
    assert!(serde_json::from_str::<DetectionRuleRef>("\"\"").is_err());
    assert!(serde_json::from_str::<TemplateRef>("\"\"").is_err());
    assert!(serde_json::from_str::<Sha256>("\"00\"").is_err());
    assert!(serde_json::from_str::<FileName>("\"a/b\"").is_err());
    assert!(serde_json::from_str::<Text>("\"\\u0000\"").is_err());
    assert!(serde_json::from_str::<Note>("\" \"").is_err());
}

#[test]
fn values_display_as_their_normalised_string() {
    assert_eq!(plan().technique.to_string(), "T1003.001");
    assert_eq!(Tag::parse("Purple").unwrap().to_string(), "purple");
    assert_eq!(String::from(note(" Done. ")), "Done.");
}

// States

#[test]
fn states_have_stable_names() {
    let names: Vec<String> = STATES.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "planned",
            "assigned",
            "executing",
            "executed",
            "reviewing",
            "awaiting_approval",
            "paused",
            "completed",
            "abandoned"
        ]
    );
    assert_eq!(
        serde_json::to_string(&TestState::AwaitingApproval).unwrap(),
        r#""awaiting_approval""#
    );
    assert_eq!(
        serde_json::to_string(&PAUSED).unwrap(),
        r#"{"paused":{"previous":"executing"}}"#
    );
}

#[test]
fn active_states_are_the_ones_before_completion_except_paused() {
    let active: Vec<TestState> = STATES
        .into_iter()
        .filter_map(TestState::active)
        .map(TestState::from)
        .collect();
    assert_eq!(active, STATES[..6]);
    let open: Vec<TestState> = STATES.into_iter().filter(|state| state.is_open()).collect();
    assert_eq!(open, STATES[..7]);
}

// Errors

#[test]
fn every_error_has_its_stable_code() {
    let reason = || "reason".to_owned();
    let cases = [
        (
            TestCaseError::InvalidTechnique(reason()),
            "INVALID_TECHNIQUE",
        ),
        (TestCaseError::InvalidTitle(reason()), "INVALID_TITLE"),
        (TestCaseError::InvalidTag(reason()), "INVALID_TAG"),
        (TestCaseError::InvalidPlatform(reason()), "INVALID_PLATFORM"),
        (TestCaseError::InvalidTarget(reason()), "INVALID_TARGET"),
        (
            TestCaseError::InvalidToolName(reason()),
            "INVALID_TOOL_NAME",
        ),
        (
            TestCaseError::InvalidDetectionRule(reason()),
            "INVALID_DETECTION_RULE",
        ),
        (
            TestCaseError::InvalidTemplateRef(reason()),
            "INVALID_TEMPLATE_REF",
        ),
        (TestCaseError::InvalidSha256(reason()), "INVALID_SHA256"),
        (
            TestCaseError::InvalidFileName(reason()),
            "INVALID_FILE_NAME",
        ),
        (TestCaseError::InvalidText(reason()), "INVALID_TEXT"),
        (TestCaseError::InvalidNote(reason()), "INVALID_NOTE"),
        (TestCaseError::NotFound, "NOT_FOUND"),
        (TestCaseError::AlreadyExists, "ALREADY_EXISTS"),
        (
            TestCaseError::RoleRequired(&[Role::RedLead]),
            "ROLE_REQUIRED",
        ),
        (TestCaseError::NotAssignee, "NOT_ASSIGNEE"),
        (
            TestCaseError::WrongState {
                state: TestState::Planned,
            },
            "WRONG_STATE",
        ),
        (TestCaseError::SelfApproval, "SELF_APPROVAL"),
        (TestCaseError::NothingToAssign, "NOTHING_TO_ASSIGN"),
        (TestCaseError::InvalidTimeRange, "INVALID_TIME_RANGE"),
        (TestCaseError::InconsistentOutcome, "INCONSISTENT_OUTCOME"),
        (TestCaseError::NoExecution, "NO_EXECUTION"),
        (TestCaseError::NoOutcome, "NO_OUTCOME"),
        (TestCaseError::NotBlind, "NOT_BLIND"),
        (TestCaseError::AlreadyRevealed, "ALREADY_REVEALED"),
        (TestCaseError::AlreadyLinked(rule("r")), "ALREADY_LINKED"),
        (TestCaseError::NotLinked(rule("r")), "NOT_LINKED"),
        (
            TestCaseError::DuplicateEvidence(id(1)),
            "DUPLICATE_EVIDENCE",
        ),
        (TestCaseError::UnknownEvidence(id(1)), "UNKNOWN_EVIDENCE"),
    ];
    for (error, code) in cases {
        assert_eq!(error.code(), code, "{error:?}");
    }
}

#[test]
fn error_messages_name_what_is_needed() {
    assert_eq!(
        TestCaseError::RoleRequired(&[Role::RedLead, Role::BlueLead]).to_string(),
        "This needs one of the roles red_lead, blue_lead."
    );
    assert_eq!(
        TestCaseError::WrongState {
            state: TestState::AwaitingApproval
        }
        .to_string(),
        "Not possible while the test case is awaiting_approval."
    );
    assert_eq!(
        TestCaseError::InvalidTechnique("T1".to_owned()).to_string(),
        "\"T1\" is not an ATT&CK technique id; write T1234 or T1234.001."
    );
}
