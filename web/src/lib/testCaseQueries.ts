import { graphql } from '../generated';

export const TestCaseFieldsFragment = graphql(`
  fragment TestCaseFields on TestCase {
    id run state title technique techniqueName techniqueKnown objective procedure steps platforms targets tags
    blind revealed redacted redAssignee blueAssignee detectionRules outcome timeToDetectSeconds
    plannedBy plannedAt completedAt lastChangedAt
    outcomes { run tool outcome severity detectedAt rulesFired recordedBy }
    executions { run command target startedAt stoppedAt outputExcerpt recordedBy }
    comments { run author body at }
    evidence { run id side fileName attachedAt sha256 size contentType removed }
  }
`);

export const TestCaseDocument = graphql(`
  query TestCase($id: UUID!, $historyId: String!) {
    testCase(id: $id) { ...TestCaseFields }
    history(kind: TEST_CASE, id: $historyId) { globalPosition sequence eventType actorId recordedAt }
  }
`);

export const TestCaseLiveDocument = graphql(`
  subscription TestCaseLive($id: UUID!) { testCaseChanged(id: $id) { ...TestCaseFields } }
`);

export const AssignableUsersDocument = graphql(`
  query AssignableUsers { users(first: 100) { nodes { id displayName email roles active } } }
`);
