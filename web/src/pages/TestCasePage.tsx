import { useCallback, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useClient, useQuery, useSubscription } from 'urql';
import type { AnyVariables, TypedDocumentNode } from 'urql';
import { Badge, ErrorBox, Loading, PageTitle } from '../components/ui';
import { WorkflowButtons, type ReasonStep, type SimpleStep } from '../components/WorkflowButtons';
import { EvidencePanel } from '../components/EvidencePanel';
import { PlanEditForm } from '../components/PlanEditForm';
import { graphql } from '../generated';
import { AssignableUsersDocument, TestCaseDocument, TestCaseLiveDocument } from '../lib/testCaseQueries';
import * as M from '../lib/workflowMutations';
import { allowedActions, type Role } from '../lib/workflow';
import { describeError } from '../lib/errors';
import { usePollWhileMissing, useSettle } from '../lib/useSettle';
import { formatTime, humanEnum, humanState, toLocalInput, fromLocalInput } from '../lib/format';
import { useSession } from '../lib/session';
import { useTemplateSearch } from '../lib/templateSearch';

const SIMPLE_DOCUMENTS: Record<SimpleStep, TypedDocumentNode<unknown, { id: string }>> = {
  startExecution: M.StartExecutionDocument,
  completeExecution: M.CompleteExecutionDocument,
  startReview: M.StartReviewDocument,
  submitForApproval: M.SubmitForApprovalDocument,
  approveResult: M.ApproveResultDocument,
  pause: M.PauseDocument,
  resume: M.ResumeDocument,
  revealToBlue: M.RevealDocument,
};

const OUTCOMES = ['BLOCKED', 'ALERTED', 'LOGGED', 'NOT_DETECTED', 'NOT_APPLICABLE'] as const;
const SEVERITIES = ['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

const EditPlanDocument = graphql(`
  mutation EditTestCasePlan($id: UUID!, $plan: PlanInput!) { editTestCasePlan(id: $id, plan: $plan) { id } }
`);

export function TestCasePage() {
  const { id = '' } = useParams();
  const { me } = useSession();
  const client = useClient();
  const searchTemplates = useTemplateSearch();
  const [{ data, error, fetching }, refetch] = useQuery({ query: TestCaseDocument, variables: { id, historyId: id } });
  // Pushes every change the projector applies; the normalised cache updates the page from it.
  const [{ data: live }] = useSubscription({ query: TestCaseLiveDocument, variables: { id } }, (_previous, next) => {
    refetch({ requestPolicy: 'network-only' });
    return next;
  });
  const [busy, setBusy] = useState(false);
  const [editingPlan, setEditingPlan] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  // The query result is normalised: subscription pushes and refetches both update it, so it is the freshest.
  const test = data?.testCase ?? live?.testCaseChanged;
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  const settle = useSettle(refresh);
  usePollWhileMissing(!fetching && !test && !error, refresh);
  const [{ data: users }] = useQuery({ query: AssignableUsersDocument, pause: !me.roles.some((role) => ['ADMIN', 'RED_LEAD', 'BLUE_LEAD'].includes(role)) });

  const run = async <V extends AnyVariables>(document: TypedDocumentNode<unknown, V>, variables: V) => {
    setBusy(true);
    setActionError(null);
    const result = await client.mutation(document, variables).toPromise();
    setBusy(false);
    if (result.error) setActionError(describeError(result.error));
    else settle();
    return !result.error;
  };

  if (fetching && !test) return <Loading what="the test case" />;
  if (!test) return error ? <ErrorBox error={error} /> : <p>No test case with this id (yet: a new one appears once the read side has it).</p>;

  const allowed = allowedActions(test, { id: me.id, roles: me.roles as Role[], readOnly: me.readOnly });
  const name = (userId: string | null | undefined) => {
    if (!userId) return '—';
    const user = users?.users.nodes.find((candidate) => candidate.id === userId);
    return user ? user.displayName : userId === me.id ? me.displayName : userId.slice(0, 8);
  };
  const current = (item: { run: number }) => item.run === test.run;

  return (
    <div className="space-y-4">
      <PageTitle>
        {test.title} <Badge tone="violet">{humanState(test.state)}</Badge> <span className="text-sm font-normal text-slate-500">run {test.run}</span>
      </PageTitle>
      <div className="text-sm">
        <Link className="link" to={`/heatmap`}>{test.technique}</Link> {test.techniqueName}
        {test.techniqueKnown === false && <Badge tone="amber">unknown to the loaded ATT&CK</Badge>}
        {' '}· outcome <strong data-testid="outcome">{humanEnum(test.outcome)}</strong>
        {test.timeToDetectSeconds !== null && test.timeToDetectSeconds !== undefined && ` · detected after ${test.timeToDetectSeconds} s`}
        {' '}· red {name(test.redAssignee)} · blue {name(test.blueAssignee)}
        {test.blind && <> · <Badge tone="violet">blind{test.revealed ? ', revealed' : ''}</Badge></>}
      </div>
      <section className="card" aria-label="Workflow">
        <WorkflowButtons
          allowed={allowed}
          busy={busy}
          onStep={(step: SimpleStep) => void run(SIMPLE_DOCUMENTS[step], { id })}
          onReasonStep={(step: ReasonStep, reason, backTo) => {
            if (step === 'rejectResult') void run(M.RejectDocument, { id, reason, backTo });
            if (step === 'abandon') void run(M.AbandonDocument, { id, reason });
            if (step === 'reopen') void run(M.ReopenDocument, { id, reason });
          }}
        />
        <div className="mt-2"><ErrorBox message={actionError} /></div>
        {(allowed.has('assignRed') || allowed.has('assignBlue')) && users && (
          <AssignForm
            users={users.users.nodes.filter((user) => user.active)}
            red={allowed.has('assignRed')}
            blue={allowed.has('assignBlue')}
            busy={busy}
            onAssign={(redAssignee, blueAssignee) => void run(M.AssignDocument, { id, redAssignee, blueAssignee })}
          />
        )}
      </section>
      <div className="grid gap-4 lg:grid-cols-2">
        <section className="card border-t-4 border-t-red-500" aria-label="Red team">
          <h2 className="text-lg font-semibold text-red-700 dark:text-red-300">Red
            {allowed.has('editPlan') && !test.redacted && !editingPlan && (
              <button type="button" className="btn ml-2 py-0 text-xs font-normal" onClick={() => setEditingPlan(true)}>Edit plan</button>
            )}
          </h2>
          {editingPlan && allowed.has('editPlan') && !test.redacted && (
            <PlanEditForm plan={test} busy={busy} onSave={(plan) => run(EditPlanDocument, { id, plan })} onCancel={() => setEditingPlan(false)} searchTemplates={searchTemplates} />
          )}
          {test.redacted ? <p className="text-sm text-slate-500">Blind test: red's details are hidden until red reveals it.</p> : (
            <dl className="text-sm">
              <dt className="label mt-2">Objective</dt><dd className="whitespace-pre-line">{test.objective || '—'}</dd>
              <dt className="label mt-2">Procedure</dt><dd>{test.procedure}</dd>
              <dt className="label mt-2">Steps</dt><dd className="whitespace-pre-line">{test.steps || '—'}</dd>
              <dt className="label mt-2">Platforms / targets</dt><dd>{test.platforms.join(', ') || '—'} / {(test.targets ?? []).join(', ') || '—'}</dd>
            </dl>
          )}
          <h3 className="mt-3 font-semibold">Executions</h3>
          {test.executions.filter(current).length === 0 ? <p className="text-sm text-slate-500">None in this run.</p> : (
            <ul className="space-y-2 text-sm">
              {test.executions.filter(current).map((execution, index) => (
                <li key={index}><code className="break-all">{execution.command}</code> on {execution.target}, {formatTime(execution.startedAt)} – {formatTime(execution.stoppedAt)}
                  {execution.outputExcerpt && <pre className="mt-1 max-h-32 overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800">{execution.outputExcerpt}</pre>}
                </li>
              ))}
            </ul>
          )}
          {allowed.has('recordExecution') && <ExecutionForm busy={busy} onRecord={(execution) => run(M.RecordExecutionDocument, { id, execution })} />}
          <EvidencePanel testCaseId={id} side="RED" evidence={test.evidence} canUpload={allowed.has('uploadRedEvidence')} onChanged={settle} />
        </section>
        <section className="card border-t-4 border-t-blue-500" aria-label="Blue team">
          <h2 className="text-lg font-semibold text-blue-700 dark:text-blue-300">Blue</h2>
          <h3 className="mt-1 font-semibold">Outcome per tool</h3>
          {test.outcomes.filter(current).length === 0 ? <p className="text-sm text-slate-500">None in this run.</p> : (
            <table className="table">
              <thead><tr><th>Tool</th><th>Outcome</th><th>Severity</th><th>Detected</th><th>Rules fired</th></tr></thead>
              <tbody>{test.outcomes.filter(current).map((outcome) => (
                <tr key={outcome.tool}><td>{outcome.tool}</td><td>{humanEnum(outcome.outcome)}</td><td>{humanEnum(outcome.severity)}</td><td>{formatTime(outcome.detectedAt)}</td><td>{outcome.rulesFired.join(', ')}</td></tr>
              ))}</tbody>
            </table>
          )}
          {allowed.has('recordDefenseOutcome') && <OutcomeForm busy={busy} onRecord={(outcome) => run(M.RecordOutcomeDocument, { id, outcome })} />}
          <EvidencePanel testCaseId={id} side="BLUE" evidence={test.evidence} canUpload={allowed.has('uploadBlueEvidence')} onChanged={settle} />
          <DetectionRules rules={test.detectionRules} canLink={allowed.has('linkRules')} busy={busy}
            onLink={(rule) => run(M.LinkRuleDocument, { id, rule })} onUnlink={(rule) => run(M.UnlinkRuleDocument, { id, rule })} />
        </section>
      </div>
      <section className="card" aria-label="Comments">
        <h2 className="font-semibold">Comments</h2>
        {test.comments.length === 0 ? <p className="text-sm text-slate-500">No comments.</p> : (
          <ul className="space-y-1 text-sm">{test.comments.map((comment, index) => (
            <li key={index}><span className="text-xs text-slate-500">{formatTime(comment.at)} · {name(comment.author)} · run {comment.run}</span><p className="whitespace-pre-line">{comment.body}</p></li>
          ))}</ul>
        )}
        {allowed.has('comment') && <CommentForm busy={busy} onComment={(body) => run(M.AddCommentDocument, { id, body })} />}
      </section>
      <section className="card" aria-label="History">
        <h2 className="font-semibold">History</h2>
        <ol className="mt-1 space-y-1 border-l border-slate-300 pl-3 text-sm dark:border-slate-700">
          {(data?.history ?? []).map((event) => (
            <li key={event.globalPosition}><span className="text-xs text-slate-500">{formatTime(event.recordedAt)}</span> {event.eventType} <span className="text-xs text-slate-500">by {name(event.actorId)}</span></li>
          ))}
        </ol>
      </section>
    </div>
  );
}

function AssignForm({ users, red, blue, busy, onAssign }: {
  users: { id: string; displayName: string; roles: string[] }[]; red: boolean; blue: boolean; busy: boolean;
  onAssign: (red: string | null, blue: string | null) => void;
}) {
  const [redAssignee, setRed] = useState('');
  const [blueAssignee, setBlue] = useState('');
  const candidates = (roles: string[]) => users.filter((user) => user.roles.some((role) => roles.includes(role)));
  return (
    <form className="mt-3 flex flex-wrap items-end gap-2" aria-label="Assign" onSubmit={(e) => { e.preventDefault(); onAssign(redAssignee || null, blueAssignee || null); }}>
      {red && (
        <div><label className="label" htmlFor="assign-red">Red assignee</label>
          <select id="assign-red" className="input" value={redAssignee} onChange={(e) => setRed(e.target.value)}>
            <option value="">—</option>{candidates(['RED_LEAD', 'RED_TECH']).map((user) => <option key={user.id} value={user.id}>{user.displayName}</option>)}
          </select></div>
      )}
      {blue && (
        <div><label className="label" htmlFor="assign-blue">Blue assignee</label>
          <select id="assign-blue" className="input" value={blueAssignee} onChange={(e) => setBlue(e.target.value)}>
            <option value="">—</option>{candidates(['BLUE_LEAD', 'BLUE_TECH']).map((user) => <option key={user.id} value={user.id}>{user.displayName}</option>)}
          </select></div>
      )}
      <button className="btn" type="submit" disabled={busy || (!redAssignee && !blueAssignee)}>Assign</button>
    </form>
  );
}

function ExecutionForm({ busy, onRecord }: { busy: boolean; onRecord: (execution: { command: string; target: string; startedAt: string; stoppedAt: string; outputExcerpt: string }) => Promise<boolean> }) {
  const now = toLocalInput(new Date());
  const [command, setCommand] = useState('');
  const [target, setTarget] = useState('');
  const [startedAt, setStartedAt] = useState(now);
  const [stoppedAt, setStoppedAt] = useState(now);
  const [outputExcerpt, setOutput] = useState('');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await onRecord({ command, target, startedAt: fromLocalInput(startedAt)!, stoppedAt: fromLocalInput(stoppedAt)!, outputExcerpt });
    if (ok) { setCommand(''); setOutput(''); }
  };
  return (
    <form className="mt-3 grid grid-cols-2 gap-2" aria-label="Record execution" onSubmit={submit}>
      <div className="col-span-2"><label className="label" htmlFor="exec-command">Command</label><input id="exec-command" className="input font-mono" required value={command} onChange={(e) => setCommand(e.target.value)} /></div>
      <div className="col-span-2"><label className="label" htmlFor="exec-target">Target host</label><input id="exec-target" className="input" required value={target} onChange={(e) => setTarget(e.target.value)} /></div>
      <div><label className="label" htmlFor="exec-start">Started</label><input id="exec-start" type="datetime-local" className="input" required value={startedAt} onChange={(e) => setStartedAt(e.target.value)} /></div>
      <div><label className="label" htmlFor="exec-stop">Stopped</label><input id="exec-stop" type="datetime-local" className="input" required value={stoppedAt} onChange={(e) => setStoppedAt(e.target.value)} /></div>
      <div className="col-span-2"><label className="label" htmlFor="exec-output">Output excerpt</label><textarea id="exec-output" className="input font-mono" rows={3} value={outputExcerpt} onChange={(e) => setOutput(e.target.value)} /></div>
      <button className="btn col-span-2 justify-center" type="submit" disabled={busy}>Record execution</button>
    </form>
  );
}

function OutcomeForm({ busy, onRecord }: { busy: boolean; onRecord: (outcome: { tool: string; outcome: (typeof OUTCOMES)[number]; severity: (typeof SEVERITIES)[number] | null; detectedAt: string | null; rulesFired: string[] }) => Promise<boolean> }) {
  const [tool, setTool] = useState('');
  const [outcome, setOutcome] = useState<(typeof OUTCOMES)[number]>('ALERTED');
  const [severity, setSeverity] = useState('');
  const [detectedAt, setDetectedAt] = useState(toLocalInput(new Date()));
  const [rules, setRules] = useState('');
  const detection = outcome === 'BLOCKED' || outcome === 'ALERTED' || outcome === 'LOGGED';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await onRecord({
      tool, outcome,
      severity: detection && severity ? (severity as (typeof SEVERITIES)[number]) : null,
      detectedAt: detection ? fromLocalInput(detectedAt) : null,
      rulesFired: detection ? rules.split(',').map((rule) => rule.trim()).filter(Boolean) : [],
    });
    if (ok) setTool('');
  };
  return (
    <form className="mt-3 grid grid-cols-2 gap-2" aria-label="Record outcome" onSubmit={submit}>
      <div><label className="label" htmlFor="outcome-tool">Defensive tool</label><input id="outcome-tool" className="input" required value={tool} onChange={(e) => setTool(e.target.value)} /></div>
      <div><label className="label" htmlFor="outcome-value">Outcome</label>
        <select id="outcome-value" className="input" value={outcome} onChange={(e) => setOutcome(e.target.value as (typeof OUTCOMES)[number])}>
          {OUTCOMES.map((name) => <option key={name} value={name}>{humanEnum(name)}</option>)}
        </select></div>
      {detection && <>
        <div><label className="label" htmlFor="outcome-severity">Alert severity</label>
          <select id="outcome-severity" className="input" value={severity} onChange={(e) => setSeverity(e.target.value)}>
            <option value="">—</option>{SEVERITIES.map((name) => <option key={name} value={name}>{humanEnum(name)}</option>)}
          </select></div>
        <div><label className="label" htmlFor="outcome-detected">Detected at</label><input id="outcome-detected" type="datetime-local" className="input" value={detectedAt} onChange={(e) => setDetectedAt(e.target.value)} /></div>
        <div className="col-span-2"><label className="label" htmlFor="outcome-rules">Rules that fired (comma-separated)</label><input id="outcome-rules" className="input" value={rules} onChange={(e) => setRules(e.target.value)} /></div>
      </>}
      <button className="btn col-span-2 justify-center" type="submit" disabled={busy}>Record outcome</button>
    </form>
  );
}

function CommentForm({ busy, onComment }: { busy: boolean; onComment: (body: string) => Promise<boolean> }) {
  const [body, setBody] = useState('');
  return (
    <form className="mt-2 flex gap-2" aria-label="Add comment" onSubmit={async (e) => { e.preventDefault(); if (await onComment(body)) setBody(''); }}>
      <label className="sr-only" htmlFor="comment-body">Comment</label>
      <input id="comment-body" className="input" required value={body} onChange={(e) => setBody(e.target.value)} placeholder="Add a comment" />
      <button className="btn" type="submit" disabled={busy || !body.trim()}>Comment</button>
    </form>
  );
}

/// The rules this test is expected to fire (ids as the catalog names them, e.g. a Sigma rule's id).
function DetectionRules({ rules, canLink, busy, onLink, onUnlink }: {
  rules: string[]; canLink: boolean; busy: boolean;
  onLink: (rule: string) => Promise<boolean>; onUnlink: (rule: string) => Promise<boolean>;
}) {
  const [rule, setRule] = useState('');
  return (
    <div className="mt-3">
      <h4 className="font-semibold">Detection rules expected to fire</h4>
      {rules.length === 0 ? <p className="text-sm text-slate-500">None linked.</p> : (
        <ul className="text-sm">{rules.map((linked) => (
          <li key={linked}><code>{linked}</code>{canLink && <button className="ml-2 text-xs text-red-700 underline dark:text-red-300" disabled={busy} aria-label={`Unlink ${linked}`} onClick={() => onUnlink(linked)}>Unlink</button>}</li>
        ))}</ul>
      )}
      {canLink && (
        <form className="mt-1 flex gap-2" aria-label="Link a detection rule" onSubmit={async (e) => { e.preventDefault(); if (await onLink(rule.trim())) setRule(''); }}>
          <label className="sr-only" htmlFor="link-rule">Rule id</label>
          <input id="link-rule" className="input font-mono" placeholder="rule id" required value={rule} onChange={(e) => setRule(e.target.value)} />
          <button className="btn" type="submit" disabled={busy || !rule.trim()}>Link</button>
        </form>
      )}
    </div>
  );
}
