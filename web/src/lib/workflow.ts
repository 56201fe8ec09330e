/// Which workflow steps the viewer may take on a test case, mirroring the domain's rules
/// (`domain/src/test_case.rs`, `decide`): the buttons only appear when the server would accept the step.
/// The server still decides; a refusal (e.g. a race with another user) is shown as its error.

export type Role = 'ADMIN' | 'RED_LEAD' | 'RED_TECH' | 'BLUE_LEAD' | 'BLUE_TECH' | 'VIEWER';

export type WorkflowAction =
  | 'editPlan' | 'assignRed' | 'assignBlue' | 'startExecution' | 'recordExecution' | 'completeExecution'
  | 'startReview' | 'recordDefenseOutcome' | 'submitForApproval' | 'approveResult' | 'rejectResult'
  | 'pause' | 'resume' | 'abandon' | 'reopen' | 'revealToBlue' | 'comment' | 'uploadRedEvidence' | 'uploadBlueEvidence'
  | 'linkRules';

export interface Viewer {
  id: string;
  roles: Role[];
  readOnly?: boolean;
}

export interface TestCaseFacts {
  state: string;
  run: number;
  blind: boolean;
  revealed: boolean;
  redAssignee?: string | null;
  blueAssignee?: string | null;
  executions: { run: number }[];
  outcomes: { run: number; recordedBy: string }[];
}

const LEADS: Role[] = ['RED_LEAD', 'BLUE_LEAD'];
const RED_SIDE: Role[] = ['RED_LEAD', 'RED_TECH'];
const BLUE_SIDE: Role[] = ['BLUE_LEAD', 'BLUE_TECH'];
const TEAM: Role[] = [...RED_SIDE, ...BLUE_SIDE];
/// Detection rules are blue's knowledge; leads may also link the rules a test is expected to fire.
const RULE_KEEPERS: Role[] = ['RED_LEAD', 'BLUE_LEAD', 'BLUE_TECH'];
const ACTIVE = ['planned', 'assigned', 'executing', 'executed', 'reviewing', 'awaiting_approval'];

function has(viewer: Viewer, roles: Role[]): boolean {
  return viewer.roles.includes('ADMIN') || roles.some((role) => viewer.roles.includes(role));
}

/// A side's worker: a role of the side, and for a tech the side's assignee (leads and admins need not be).
function worker(viewer: Viewer, side: 'red' | 'blue', test: TestCaseFacts): boolean {
  const roles = side === 'red' ? RED_SIDE : BLUE_SIDE;
  if (!has(viewer, roles)) return false;
  const lead: Role = side === 'red' ? 'RED_LEAD' : 'BLUE_LEAD';
  const assignee = side === 'red' ? test.redAssignee : test.blueAssignee;
  return has(viewer, [lead]) || assignee === viewer.id;
}

export function allowedActions(test: TestCaseFacts, viewer: Viewer): Set<WorkflowAction> {
  const allowed = new Set<WorkflowAction>();
  if (viewer.readOnly) return allowed;
  const state = test.state;
  const beforeExecution = state === 'planned' || state === 'assigned';
  const open = state !== 'completed' && state !== 'abandoned';
  const currentExecutions = test.executions.filter((execution) => execution.run === test.run);
  const currentOutcomes = test.outcomes.filter((outcome) => outcome.run === test.run);
  const lead = has(viewer, LEADS);

  if (lead && beforeExecution) allowed.add('editPlan');
  if (beforeExecution && has(viewer, ['RED_LEAD'])) allowed.add('assignRed');
  if (beforeExecution && has(viewer, ['BLUE_LEAD'])) allowed.add('assignBlue');
  if (state === 'assigned' && worker(viewer, 'red', test)) allowed.add('startExecution');
  if (state === 'executing' && worker(viewer, 'red', test)) {
    allowed.add('recordExecution');
    if (currentExecutions.length > 0) allowed.add('completeExecution');
  }
  if (state === 'executed' && worker(viewer, 'blue', test)) allowed.add('startReview');
  if (state === 'reviewing' && worker(viewer, 'blue', test)) {
    allowed.add('recordDefenseOutcome');
    if (currentOutcomes.length > 0) allowed.add('submitForApproval');
  }
  if (lead && state === 'awaiting_approval') {
    allowed.add('rejectResult');
    const recordedAnOutcome = currentOutcomes.some((outcome) => outcome.recordedBy === viewer.id);
    if (viewer.roles.includes('ADMIN') || !recordedAnOutcome) allowed.add('approveResult');
  }
  if (lead && ACTIVE.includes(state)) allowed.add('pause');
  if (lead && state === 'paused') allowed.add('resume');
  if (lead && open) allowed.add('abandon');
  if (lead && !open) allowed.add('reopen');
  if (has(viewer, RED_SIDE) && test.blind && !test.revealed) allowed.add('revealToBlue');
  if (has(viewer, TEAM)) allowed.add('comment');
  if (has(viewer, RULE_KEEPERS)) allowed.add('linkRules');
  // Attaching and removing evidence: the side whose working state it is.
  if (state === 'executing' && has(viewer, RED_SIDE)) allowed.add('uploadRedEvidence');
  if (state === 'reviewing' && has(viewer, BLUE_SIDE)) allowed.add('uploadBlueEvidence');
  return allowed;
}
