import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { WorkflowButtons } from './WorkflowButtons';
import { allowedActions, type TestCaseFacts, type Viewer } from '../lib/workflow';

const RED_LEAD: Viewer = { id: 'red-lead', roles: ['RED_LEAD'] };
const RED_TECH: Viewer = { id: 'red-tech', roles: ['RED_TECH'] };
const BLUE_TECH: Viewer = { id: 'blue-tech', roles: ['BLUE_TECH'] };
const BLUE_LEAD: Viewer = { id: 'blue-lead', roles: ['BLUE_LEAD'] };
const ADMIN: Viewer = { id: 'admin', roles: ['ADMIN'] };
const VIEWER: Viewer = { id: 'viewer', roles: ['VIEWER'] };

const test_case = (facts: Partial<TestCaseFacts>): TestCaseFacts => ({
  state: 'planned', run: 1, blind: false, revealed: false, redAssignee: null, blueAssignee: null, executions: [], outcomes: [], ...facts,
});

describe('allowedActions mirrors the domain rules', () => {
  test('only the assigned red tech (or a red lead) starts execution', () => {
    const assigned = test_case({ state: 'assigned', redAssignee: 'red-tech' });
    expect(allowedActions(assigned, RED_TECH).has('startExecution')).toBe(true);
    expect(allowedActions(assigned, { id: 'other', roles: ['RED_TECH'] }).has('startExecution')).toBe(false);
    expect(allowedActions(assigned, RED_LEAD).has('startExecution')).toBe(true);
    expect(allowedActions(assigned, BLUE_LEAD).has('startExecution')).toBe(false);
  });

  test('completing needs an execution of the current run', () => {
    const executing = test_case({ state: 'executing', run: 2, redAssignee: 'red-tech', executions: [{ run: 1 }] });
    expect(allowedActions(executing, RED_TECH).has('completeExecution')).toBe(false);
    expect(allowedActions({ ...executing, executions: [{ run: 2 }] }, RED_TECH).has('completeExecution')).toBe(true);
  });

  test('a lead who recorded an outcome of this run cannot approve it; an admin can', () => {
    const awaiting = test_case({ state: 'awaiting_approval', outcomes: [{ run: 1, recordedBy: 'blue-lead' }] });
    expect(allowedActions(awaiting, BLUE_LEAD).has('approveResult')).toBe(false);
    expect(allowedActions(awaiting, BLUE_LEAD).has('rejectResult')).toBe(true);
    expect(allowedActions(awaiting, RED_LEAD).has('approveResult')).toBe(true);
    expect(allowedActions({ ...awaiting, outcomes: [{ run: 1, recordedBy: 'admin' }] }, ADMIN).has('approveResult')).toBe(true);
  });

  test('viewers and read-only tokens get nothing', () => {
    const reviewing = test_case({ state: 'reviewing', blueAssignee: 'viewer' });
    expect(allowedActions(reviewing, VIEWER).size).toBe(0);
    expect(allowedActions(reviewing, { ...BLUE_LEAD, readOnly: true }).size).toBe(0);
  });

  test('evidence belongs to the side whose state it is', () => {
    expect(allowedActions(test_case({ state: 'executing' }), BLUE_TECH).has('uploadBlueEvidence')).toBe(false);
    expect(allowedActions(test_case({ state: 'reviewing' }), BLUE_TECH).has('uploadBlueEvidence')).toBe(true);
    expect(allowedActions(test_case({ state: 'executing' }), RED_TECH).has('uploadRedEvidence')).toBe(true);
  });

  test('blue and the leads link detection rules; red techs and viewers do not', () => {
    expect(allowedActions(test_case({}), BLUE_TECH).has('linkRules')).toBe(true);
    expect(allowedActions(test_case({}), RED_LEAD).has('linkRules')).toBe(true);
    expect(allowedActions(test_case({}), RED_TECH).has('linkRules')).toBe(false);
    expect(allowedActions(test_case({}), VIEWER).has('linkRules')).toBe(false);
  });

  test('reopen only once closed, pause only while active, reveal only a blind unrevealed test', () => {
    expect(allowedActions(test_case({ state: 'completed' }), BLUE_LEAD).has('reopen')).toBe(true);
    expect(allowedActions(test_case({ state: 'completed' }), BLUE_LEAD).has('pause')).toBe(false);
    expect(allowedActions(test_case({ state: 'paused' }), RED_LEAD).has('resume')).toBe(true);
    expect(allowedActions(test_case({ blind: true }), RED_TECH).has('revealToBlue')).toBe(true);
    expect(allowedActions(test_case({ blind: true, revealed: true }), RED_TECH).has('revealToBlue')).toBe(false);
  });
});

describe('WorkflowButtons', () => {
  test('shows only the allowed steps and runs them', async () => {
    const onStep = vi.fn();
    render(<WorkflowButtons allowed={new Set(['startReview', 'pause'])} busy={false} onStep={onStep} onReasonStep={() => {}} />);
    expect(screen.getAllByRole('button').map((button) => button.textContent)).toEqual(['Start review', 'Pause']);
    await userEvent.click(screen.getByRole('button', { name: 'Start review' }));
    expect(onStep).toHaveBeenCalledWith('startReview');
  });

  test('a step with a reason asks for it, and rejecting asks which side', async () => {
    const user = userEvent.setup();
    const onReasonStep = vi.fn();
    render(<WorkflowButtons allowed={new Set(['rejectResult', 'approveResult'])} busy={false} onStep={() => {}} onReasonStep={onReasonStep} />);
    await user.click(screen.getByRole('button', { name: 'Reject…' }));
    expect(screen.getByRole('button', { name: 'Confirm' })).toBeDisabled();
    await user.type(screen.getByLabelText('Reason'), 'no alert screenshot');
    await user.selectOptions(screen.getByLabelText('Back to'), 'RED');
    await user.click(screen.getByRole('button', { name: 'Confirm' }));
    expect(onReasonStep).toHaveBeenCalledWith('rejectResult', 'no alert screenshot', 'RED');
  });

  test('says so when no step is the viewer’s', () => {
    render(<WorkflowButtons allowed={new Set(['comment'])} busy={false} onStep={() => {}} onReasonStep={() => {}} />);
    expect(screen.getByTestId('no-actions')).toBeInTheDocument();
    expect(screen.queryByRole('button')).toBeNull();
  });

  test('buttons are disabled while a step runs', () => {
    render(<WorkflowButtons allowed={new Set(['approveResult'])} busy onStep={() => {}} onReasonStep={() => {}} />);
    expect(screen.getByRole('button', { name: 'Approve result' })).toBeDisabled();
  });
});
