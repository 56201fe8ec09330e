//! Who may do what: the role rules, written once. Every GraphQL field names one [`Operation`]; the API's
//! authorisation asks [`authorize`] and nothing else, and README's role table is generated from here.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::role::Role;

/// Whether an operation only reads or also changes something. Read-only tokens may only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Who an operation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everyone, signed in or not (signing in itself).
    Anyone,
    /// Any signed-in, active user, whatever their roles.
    SignedIn,
    /// Users holding one of these roles. `admin` may always act and is not listed.
    Roles(&'static [Role]),
}

/// Everything a request can ask for, at the granularity the role rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Sign in with e-mail and password.
    SignIn,
    /// The server's version and event count.
    ReadServerInfo,
    /// One's own account: profile, roles, API tokens.
    ReadOwnAccount,
    /// One's own account: sign out, password, profile, two-factor login, API tokens.
    ManageOwnAccount,
    /// The list of users (leads assign work to them).
    ReadUsers,
    /// Create users, grant and revoke roles, deactivate and reactivate, force password resets.
    ManageUsers,
    /// Projection progress and other internals.
    ReadSystemStatus,
    /// The organisation's security settings (which roles need two-factor login).
    ReadSecurityPolicy,
    /// Change the security settings.
    ManageSecurityPolicy,
    /// Test cases, with blind tests redacted for blue.
    ReadTestCases,
    /// Campaigns, their members, progress, recurrence and spawns; blind tests' times to detect are left out
    /// of blue's figures.
    ReadCampaigns,
    /// Scoring policies, the active one, and every version of their settings.
    ReadScoringPolicies,
    /// An aggregate's events, for auditors (accounts and the security policy: admins only).
    ReadHistory,
    /// The whole audit log: every event of every aggregate, filtered and paged. Admins only: it spans
    /// accounts, the security policy and blind tests, which other roles read only through `ReadHistory`'s
    /// per-aggregate rules.
    ReadAuditLog,
    /// Plan, run, judge and approve test cases; which step each role may take is decided by the `TestCase`
    /// aggregate itself.
    WorkOnTestCases,
    /// Create, edit, run and close campaigns and choose their test cases and recurrence; the `Campaign`
    /// aggregate decides which change each status allows.
    ManageCampaigns,
    /// Define, change, activate and retire the scoring policies every score is computed with.
    ManageScoringPolicies,
    /// The reference catalogs (ATT&CK, templates, detection rules, D3FEND, compliance) and their import runs.
    ReadCatalog,
    /// Import reference content from upstream.
    ImportCatalog,
    /// Say which detection rules are deployed (they count in scores).
    ManageDetectionRules,
    /// The heatmap now and at any past moment, explained, compared, re-scored, trended; the snapshots.
    ReadCoverage,
    /// Take a coverage snapshot on demand.
    TakeCoverageSnapshots,
    /// One's own notifications (assigned, review requested, rejected, approved, campaign due) and whether
    /// each is read.
    ReadOwnNotifications,
    /// Mark one's own notifications read.
    ManageOwnNotifications,
    /// The scheduled jobs' runs (what ran when, with what outcome).
    ReadJobRuns,
    /// Run a scheduled job now.
    RunJobs,
    /// The intel items the scheduler raised (new ATT&CK releases, changed techniques, new rules and
    /// procedures, actors' new techniques, stale coverage).
    ReadIntel,
    /// Acknowledge an intel item.
    AcknowledgeIntel,
    /// Export test cases and campaigns (CSV, JSON), a campaign's signed history, and printable reports: all
    /// unredacted, so admins only.
    ExportData,
    /// Import VECTR exports and other instances' campaign histories (one person plays every part of the
    /// workflow, which only an admin may).
    ImportHistory,
    /// Bring in, rename and delete saved layers (Navigator layers kept as scoped views), and plan test cases
    /// from a layer.
    ManageSavedLayers,
}

impl Operation {
    pub const ALL: [Self; 31] = [
        Self::SignIn,
        Self::ReadServerInfo,
        Self::ReadOwnAccount,
        Self::ManageOwnAccount,
        Self::ReadUsers,
        Self::ManageUsers,
        Self::ReadSystemStatus,
        Self::ReadSecurityPolicy,
        Self::ManageSecurityPolicy,
        Self::ReadTestCases,
        Self::ReadCampaigns,
        Self::ReadScoringPolicies,
        Self::ReadHistory,
        Self::ReadAuditLog,
        Self::WorkOnTestCases,
        Self::ManageCampaigns,
        Self::ManageScoringPolicies,
        Self::ReadCatalog,
        Self::ImportCatalog,
        Self::ManageDetectionRules,
        Self::ReadCoverage,
        Self::TakeCoverageSnapshots,
        Self::ReadOwnNotifications,
        Self::ManageOwnNotifications,
        Self::ReadJobRuns,
        Self::RunJobs,
        Self::ReadIntel,
        Self::AcknowledgeIntel,
        Self::ManageSavedLayers,
        Self::ExportData,
        Self::ImportHistory,
    ];

    pub const fn audience(self) -> Audience {
        match self {
            Self::SignIn => Audience::Anyone,
            Self::ReadServerInfo
            | Self::ReadOwnAccount
            | Self::ManageOwnAccount
            | Self::ReadSecurityPolicy
            | Self::ReadTestCases
            | Self::ReadCampaigns
            | Self::ReadScoringPolicies
            | Self::ReadHistory
            | Self::ReadCatalog
            | Self::ReadCoverage
            | Self::ReadOwnNotifications
            | Self::ManageOwnNotifications
            | Self::ReadIntel => Audience::SignedIn,
            Self::WorkOnTestCases => {
                Audience::Roles(&[Role::RedLead, Role::RedTech, Role::BlueLead, Role::BlueTech])
            }
            Self::ReadUsers
            | Self::ManageCampaigns
            | Self::AcknowledgeIntel
            | Self::ManageSavedLayers => Audience::Roles(&[Role::RedLead, Role::BlueLead]),
            Self::ManageDetectionRules => Audience::Roles(&[Role::BlueLead]),
            Self::ManageUsers
            | Self::ReadSystemStatus
            | Self::ReadAuditLog
            | Self::ManageSecurityPolicy
            | Self::ManageScoringPolicies
            | Self::ImportCatalog
            | Self::TakeCoverageSnapshots
            | Self::ReadJobRuns
            | Self::RunJobs
            | Self::ExportData
            | Self::ImportHistory => Audience::Roles(&[]),
        }
    }

    pub const fn access(self) -> Access {
        match self {
            Self::SignIn
            | Self::ManageOwnAccount
            | Self::ManageUsers
            | Self::ManageSecurityPolicy
            | Self::WorkOnTestCases
            | Self::ManageCampaigns
            | Self::ManageScoringPolicies
            | Self::ImportCatalog
            | Self::ManageDetectionRules
            | Self::TakeCoverageSnapshots
            | Self::ManageOwnNotifications
            | Self::RunJobs
            | Self::AcknowledgeIntel
            | Self::ManageSavedLayers
            | Self::ImportHistory => Access::Write,
            Self::ReadServerInfo
            | Self::ReadOwnAccount
            | Self::ReadUsers
            | Self::ReadSystemStatus
            | Self::ReadSecurityPolicy
            | Self::ReadTestCases
            | Self::ReadCampaigns
            | Self::ReadScoringPolicies
            | Self::ReadHistory
            | Self::ReadAuditLog
            | Self::ReadCatalog
            | Self::ReadCoverage
            | Self::ReadOwnNotifications
            | Self::ReadJobRuns
            | Self::ReadIntel
            | Self::ExportData => Access::Read,
        }
    }

    /// A sentence for the README table and for error messages.
    pub const fn description(self) -> &'static str {
        match self {
            Self::SignIn => "sign in",
            Self::ReadServerInfo => "read server info",
            Self::ReadOwnAccount => "read own account and tokens",
            Self::ManageOwnAccount => {
                "sign out; change own password, profile, two-factor login, API tokens"
            }
            Self::ReadUsers => "list users",
            Self::ManageUsers => {
                "create users, grant/revoke roles, deactivate/reactivate, force password reset"
            }
            Self::ReadSystemStatus => "read projection progress",
            Self::ReadSecurityPolicy => "read the security policy",
            Self::ManageSecurityPolicy => "require two-factor login per role",
            Self::ReadTestCases => "read test cases (blind tests redacted for blue)",
            Self::ReadCampaigns => {
                "read campaigns and their progress (blind tests' times to detect left out for blue)"
            }
            Self::ReadScoringPolicies => "read scoring policies and their versions",
            Self::ReadHistory => "read an aggregate's history (accounts: admins only)",
            Self::ReadAuditLog => "read the whole audit log (every event, filtered and paged)",
            Self::WorkOnTestCases => {
                "plan, run, judge, approve test cases (each step as the workflow allows)"
            }
            Self::ManageCampaigns => {
                "create, edit, activate, complete, cancel campaigns; their test cases and recurrence"
            }
            Self::ManageScoringPolicies => {
                "define, change, rename, activate, deactivate, retire scoring policies"
            }
            Self::ReadCatalog => {
                "read the reference catalogs (ATT&CK, templates, rules, D3FEND, compliance) and import runs"
            }
            Self::ImportCatalog => "start an import of reference content",
            Self::ManageDetectionRules => {
                "deploy and retire detection rules (they count in scores)"
            }
            Self::ReadCoverage => {
                "read the heatmap now and as of any moment; explain, diff, re-score, trend, snapshots"
            }
            Self::TakeCoverageSnapshots => "take a coverage snapshot on demand",
            Self::ReadOwnNotifications => "read own notifications",
            Self::ManageOwnNotifications => "mark own notifications read",
            Self::ReadJobRuns => "read the scheduled jobs' runs",
            Self::RunJobs => "run a scheduled job now",
            Self::ReadIntel => {
                "read the intel items (new ATT&CK releases, techniques, rules, stale coverage)"
            }
            Self::AcknowledgeIntel => "acknowledge an intel item",
            Self::ExportData => {
                "export test cases and campaigns (CSV, JSON), a campaign's signed history, printable reports"
            }
            Self::ImportHistory => "import VECTR exports and other instances' campaign histories",
            Self::ManageSavedLayers => {
                "import Navigator layers as saved views or planned test cases; rename, delete saved layers"
            }
        }
    }
}

/// The caller as far as authorisation is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User {
        roles: BTreeSet<Role>,
        /// Holds a read-only token (attenuated or issued with a read-only scope).
        read_only: bool,
    },
}

/// Why an operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("sign in first")]
    NotSignedIn,
    #[error("your roles do not allow this")]
    MissingRole,
    #[error("this token is read-only")]
    ReadOnly,
}

impl Denied {
    /// Whether signing in (again) could help: the API answers UNAUTHENTICATED rather than FORBIDDEN.
    pub const fn is_unauthenticated(self) -> bool {
        matches!(self, Self::NotSignedIn)
    }
}

/// Deny by default: an operation is allowed only when its audience includes the caller and, for writes, the
/// caller's token may write.
pub fn authorize(caller: &Caller, operation: Operation) -> Result<(), Denied> {
    let (roles, read_only) = match (caller, operation.audience()) {
        (_, Audience::Anyone) => return Ok(()),
        (Caller::Anonymous, _) => return Err(Denied::NotSignedIn),
        (Caller::User { roles, read_only }, _) => (roles, *read_only),
    };
    if read_only && operation.access() == Access::Write {
        return Err(Denied::ReadOnly);
    }
    match operation.audience() {
        Audience::Anyone | Audience::SignedIn => Ok(()),
        Audience::Roles(allowed) => {
            if roles.contains(&Role::Admin) || allowed.iter().any(|role| roles.contains(role)) {
                Ok(())
            } else {
                Err(Denied::MissingRole)
            }
        }
    }
}

/// The role × operation table, in Markdown, as README shows it.
pub fn markdown_table() -> String {
    let mut table = String::from("| operation | access |");
    for role in Role::ALL {
        let _ = write!(table, " {} |", role.as_str());
    }
    table.push_str(" anonymous |\n|---|---|");
    table.push_str(&"---|".repeat(Role::ALL.len() + 1));
    table.push('\n');
    for operation in Operation::ALL {
        let access = match operation.access() {
            Access::Read => "read",
            Access::Write => "write",
        };
        let _ = write!(table, "| {} | {access} |", operation.description());
        let callers = Role::ALL
            .map(|role| Caller::User {
                roles: BTreeSet::from([role]),
                read_only: false,
            })
            .into_iter()
            .chain([Caller::Anonymous]);
        for caller in callers {
            let mark = if authorize(&caller, operation).is_ok() {
                "✓"
            } else {
                "–"
            };
            let _ = write!(table, " {mark} |");
        }
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role]) -> Caller {
        Caller::User {
            roles: roles.iter().copied().collect(),
            read_only: false,
        }
    }

    #[test]
    fn anonymous_callers_may_only_sign_in() {
        for operation in Operation::ALL {
            let expected = if operation == Operation::SignIn {
                Ok(())
            } else {
                Err(Denied::NotSignedIn)
            };
            assert_eq!(
                authorize(&Caller::Anonymous, operation),
                expected,
                "{operation:?}"
            );
        }
    }

    #[test]
    fn admins_may_do_everything() {
        for operation in Operation::ALL {
            assert_eq!(
                authorize(&user(&[Role::Admin]), operation),
                Ok(()),
                "{operation:?}"
            );
        }
    }

    #[test]
    fn leads_list_users_but_only_admins_manage_them() {
        for role in [Role::RedLead, Role::BlueLead] {
            assert_eq!(authorize(&user(&[role]), Operation::ReadUsers), Ok(()));
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageUsers),
                Err(Denied::MissingRole)
            );
        }
        for role in [Role::RedTech, Role::BlueTech, Role::Viewer] {
            assert_eq!(
                authorize(&user(&[role]), Operation::ReadUsers),
                Err(Denied::MissingRole)
            );
        }
    }

    #[test]
    fn leads_manage_campaigns_and_only_admins_manage_scoring_policies() {
        for role in [Role::RedLead, Role::BlueLead] {
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageCampaigns),
                Ok(())
            );
        }
        for role in [Role::RedTech, Role::BlueTech, Role::Viewer] {
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageCampaigns),
                Err(Denied::MissingRole)
            );
        }
        for role in Role::ALL.into_iter().filter(|role| *role != Role::Admin) {
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageScoringPolicies),
                Err(Denied::MissingRole),
                "{role:?}"
            );
        }
    }

    #[test]
    fn every_signed_in_user_reads_campaigns_and_scoring_policies_even_with_a_read_only_token() {
        for operation in [Operation::ReadCampaigns, Operation::ReadScoringPolicies] {
            for role in Role::ALL {
                let caller = Caller::User {
                    roles: BTreeSet::from([role]),
                    read_only: true,
                };
                assert_eq!(authorize(&caller, operation), Ok(()), "{role:?}");
            }
            assert_eq!(
                authorize(&Caller::Anonymous, operation),
                Err(Denied::NotSignedIn)
            );
        }
    }

    #[test]
    fn only_admins_read_the_whole_audit_log_and_a_read_only_token_suffices() {
        for role in Role::ALL {
            let expected = if role == Role::Admin {
                Ok(())
            } else {
                Err(Denied::MissingRole)
            };
            let caller = Caller::User {
                roles: BTreeSet::from([role]),
                read_only: true,
            };
            assert_eq!(
                authorize(&caller, Operation::ReadAuditLog),
                expected,
                "{role:?}"
            );
        }
    }

    #[test]
    fn every_signed_in_user_manages_their_own_account() {
        for role in Role::ALL {
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageOwnAccount),
                Ok(())
            );
            assert_eq!(authorize(&user(&[role]), Operation::ReadOwnAccount), Ok(()));
        }
    }

    #[test]
    fn every_signed_in_user_reads_their_notifications_but_a_read_only_token_may_not_mark_them() {
        for role in Role::ALL {
            let read_only = Caller::User {
                roles: BTreeSet::from([role]),
                read_only: true,
            };
            assert_eq!(
                authorize(&read_only, Operation::ReadOwnNotifications),
                Ok(())
            );
            assert_eq!(
                authorize(&read_only, Operation::ManageOwnNotifications),
                Err(Denied::ReadOnly)
            );
            assert_eq!(
                authorize(&user(&[role]), Operation::ManageOwnNotifications),
                Ok(())
            );
        }
        for operation in [
            Operation::ReadOwnNotifications,
            Operation::ManageOwnNotifications,
        ] {
            assert_eq!(
                authorize(&Caller::Anonymous, operation),
                Err(Denied::NotSignedIn)
            );
        }
    }

    #[test]
    fn read_only_tokens_never_write_even_for_admins() {
        let caller = Caller::User {
            roles: BTreeSet::from([Role::Admin]),
            read_only: true,
        };
        for operation in Operation::ALL {
            let expected = match (operation.access(), operation.audience()) {
                (_, Audience::Anyone) | (Access::Read, _) => Ok(()),
                (Access::Write, _) => Err(Denied::ReadOnly),
            };
            assert_eq!(authorize(&caller, operation), expected, "{operation:?}");
        }
    }

    #[test]
    fn the_table_has_a_row_per_operation_and_a_column_per_caller() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), 2 + Operation::ALL.len());
        assert!(table.starts_with("| operation | access | admin | red_lead |"));
        assert!(
            table.contains("| list users | read | ✓ | ✓ | – | ✓ | – | – | – |"),
            "{table}"
        );
    }
}
