import { useCallback, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useClient, useQuery, useSubscription } from 'urql';
import type { AnyVariables, TypedDocumentNode } from 'urql';
import { graphql } from '../generated';
import { Badge, ErrorBox, Loading, PageTitle } from '../components/ui';
import { RecurrenceEditor, describeCron, type Recurrence } from '../components/RecurrenceEditor';
import { CampaignDetailsFields, ProgressBar, detailsInput, type CampaignDetails } from './CampaignsPage';
import { CampaignDocument, CampaignLiveDocument } from '../lib/campaignQueries';
import { describeError } from '../lib/errors';
import { usePollWhileMissing, useSettle } from '../lib/useSettle';
import { formatTime, humanEnum, humanState, toLocalInput } from '../lib/format';
import { hasRole, useSession } from '../lib/session';

const ActivateDocument = graphql(`mutation ActivateCampaign($id: UUID!) { activateCampaign(id: $id) { id status } }`);
const CompleteDocument = graphql(`mutation CompleteCampaign($id: UUID!) { completeCampaign(id: $id) { id status } }`);
const CancelDocument = graphql(`mutation CancelCampaign($id: UUID!, $reason: String!) { cancelCampaign(id: $id, reason: $reason) { id status } }`);
const EditDocument = graphql(`mutation EditCampaign($id: UUID!, $input: CampaignDetailsInput!) { editCampaign(id: $id, input: $input) { id } }`);
const AddTestDocument = graphql(`mutation AddTestCaseToCampaign($id: UUID!, $testCaseId: UUID!) { addTestCaseToCampaign(id: $id, testCaseId: $testCaseId) { id testCaseCount } }`);
const RemoveTestDocument = graphql(`mutation RemoveTestCaseFromCampaign($id: UUID!, $testCaseId: UUID!) { removeTestCaseFromCampaign(id: $id, testCaseId: $testCaseId) { id testCaseCount } }`);
const RecurrenceDocument = graphql(`mutation SetCampaignRecurrence($id: UUID!, $recurrence: RecurrenceInput) { setCampaignRecurrence(id: $id, recurrence: $recurrence) { id } }`);

const BOARD_STATES = ['planned', 'assigned', 'executing', 'executed', 'reviewing', 'awaiting_approval', 'paused', 'completed', 'abandoned'];

export function CampaignPage() {
  const { id = '' } = useParams();
  const { me } = useSession();
  const client = useClient();
  const [{ data, error, fetching }, refetch] = useQuery({ query: CampaignDocument, variables: { id } });
  const [{ data: live }] = useSubscription({ query: CampaignLiveDocument, variables: { id } }, (_previous, next) => {
    refetch({ requestPolicy: 'network-only' });
    return next;
  });
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [reason, setReason] = useState('');
  const [testCaseId, setTestCaseId] = useState('');
  // The query result is normalised: subscription pushes and refetches both update it, so it is the freshest.
  const campaign = data?.campaign ?? live?.campaignChanged;
  const refresh = useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]);
  const settle = useSettle(refresh);
  usePollWhileMissing(!fetching && !campaign && !error, refresh);

  const run = async <V extends AnyVariables>(document: TypedDocumentNode<unknown, V>, variables: V) => {
    setBusy(true);
    setActionError(null);
    const result = await client.mutation(document, variables).toPromise();
    setBusy(false);
    if (result.error) setActionError(describeError(result.error));
    else settle();
    return !result.error;
  };

  if (fetching && !campaign) return <Loading what="the campaign" />;
  if (!campaign) return error ? <ErrorBox error={error} /> : <p>No campaign with this id (yet).</p>;
  const canManage = hasRole(me, 'RED_LEAD', 'BLUE_LEAD') && !me.readOnly;
  const open = campaign.status === 'PLANNED' || campaign.status === 'ACTIVE';
  const tests = data?.testCases.nodes ?? [];

  return (
    <div className="space-y-4">
      <PageTitle>{campaign.name} <Badge tone="violet">{humanEnum(campaign.status)}</Badge></PageTitle>
      <p className="whitespace-pre-line text-sm">{campaign.description}</p>
      <div className="grid gap-4 md:grid-cols-3">
        <div className="card text-sm">
          <div className="label">Progress</div>
          <ProgressBar percent={campaign.progress.percentComplete} /> {campaign.progress.closed} of {campaign.progress.total} closed
          <div className="mt-1 text-slate-500">Median time to detect: {campaign.progress.timeToDetect.medianSeconds ?? '—'} s over {campaign.progress.timeToDetect.measured}</div>
        </div>
        <div className="card text-sm">
          <div className="label">Window</div>
          {formatTime(campaign.plannedStart)} – {formatTime(campaign.plannedEnd)}
          {campaign.templateId && <div className="mt-1">Instance of <Link className="link" to={`/campaigns/${campaign.templateId}`}>its template</Link>, due {formatTime(campaign.dueAt)}</div>}
        </div>
        <div className="card text-sm">
          <div className="label">Scope</div>
          {campaign.scope.techniques.join(', ') || '—'}
          {campaign.scope.threatActor && <div>Threat actor <Link className="link" to={`/heatmap?threatActor=${campaign.scope.threatActor}`}>{campaign.scope.threatActor}</Link></div>}
          <div className="mt-1"><Link className="link" to={`/heatmap?campaignId=${campaign.id}`}>This campaign's heatmap</Link></div>
        </div>
      </div>
      {canManage && (
        <section className="card space-y-2" aria-label="Campaign actions">
          <div className="flex flex-wrap gap-2">
            {campaign.status === 'PLANNED' && <button className="btn-primary" disabled={busy} onClick={() => run(ActivateDocument, { id })}>Activate</button>}
            {campaign.status === 'ACTIVE' && <button className="btn-primary" disabled={busy} onClick={() => run(CompleteDocument, { id })}>Complete</button>}
            {open && <button className="btn" onClick={() => setEditing(!editing)} aria-expanded={editing}>Edit details</button>}
          </div>
          {open && (
            <form className="flex flex-wrap items-end gap-2" aria-label="Cancel campaign" onSubmit={(e: FormEvent) => { e.preventDefault(); void run(CancelDocument, { id, reason }); }}>
              <div className="min-w-64 flex-1"><label className="label" htmlFor="cancel-reason">Cancel with reason</label><input id="cancel-reason" className="input" required value={reason} onChange={(e) => setReason(e.target.value)} /></div>
              <button className="btn-danger" type="submit" disabled={busy || !reason.trim()}>Cancel campaign</button>
            </form>
          )}
          {open && (
            <form className="flex flex-wrap items-end gap-2" aria-label="Add test case" onSubmit={async (e: FormEvent) => { e.preventDefault(); if (await run(AddTestDocument, { id, testCaseId: testCaseId.trim() })) setTestCaseId(''); }}>
              <div className="min-w-64 flex-1"><label className="label" htmlFor="add-test-case">Add a test case (its id, from its page's address)</label><input id="add-test-case" className="input font-mono" required value={testCaseId} onChange={(e) => setTestCaseId(e.target.value)} /></div>
              <button className="btn" type="submit" disabled={busy}>Add</button>
            </form>
          )}
          {editing && <EditCampaign campaign={campaign} busy={busy} onSave={async (input) => { if (await run(EditDocument, { id, input })) setEditing(false); }} />}
          {open && !campaign.templateId && <RecurrenceSection current={campaign.recurrence} busy={busy} onSave={(recurrence) => run(RecurrenceDocument, { id, recurrence })} />}
          <ErrorBox message={actionError} />
        </section>
      )}
      <section aria-label="Tests by state">
        <h2 className="mb-2 font-semibold">Tests by state</h2>
        <div className="grid gap-2 overflow-x-auto" style={{ gridTemplateColumns: `repeat(${BOARD_STATES.length}, minmax(9rem, 1fr))` }}>
          {BOARD_STATES.map((state) => {
            const inState = tests.filter((test) => test.state === state);
            return (
              <div key={state} className="rounded-md bg-slate-100 p-2 dark:bg-slate-900" role="group" aria-label={humanState(state)}>
                <h3 className="mb-1 text-xs font-semibold uppercase text-slate-500">{humanState(state)} ({inState.length})</h3>
                <ul className="space-y-1">{inState.map((test) => (
                  <li key={test.id} className="card p-2 text-xs">
                    <Link className="link" to={`/test-cases/${test.id}`}>{test.title}</Link>
                    <div className="text-slate-500">{test.technique}{test.outcome ? ` · ${humanEnum(test.outcome)}` : ''}</div>
                    {canManage && open && <button className="mt-1 text-xs text-red-700 underline dark:text-red-300" onClick={() => run(RemoveTestDocument, { id, testCaseId: test.id })}>Remove</button>}
                  </li>
                ))}</ul>
              </div>
            );
          })}
        </div>
      </section>
      {campaign.spawns.length > 0 && (
        <section className="card" aria-label="Spawn history">
          <h2 className="font-semibold">Spawned instances</h2>
          <ul className="text-sm">{campaign.spawns.map((spawn) => (
            <li key={spawn.instanceId}><Link className="link" to={`/campaigns/${spawn.instanceId}`}>due {formatTime(spawn.dueAt)}</Link> <span className="text-slate-500">spawned {formatTime(spawn.recordedAt)}</span></li>
          ))}</ul>
        </section>
      )}
    </div>
  );
}

function EditCampaign({ campaign, busy, onSave }: {
  campaign: { name: string; description: string; scope: { techniques: string[]; threatActor?: string | null }; plannedStart: string; plannedEnd: string };
  busy: boolean;
  onSave: (input: ReturnType<typeof detailsInput>) => void;
}) {
  const [details, setDetails] = useState<CampaignDetails>({
    name: campaign.name, description: campaign.description, techniques: campaign.scope.techniques.join(', '), threatActor: campaign.scope.threatActor ?? '',
    plannedStart: toLocalInput(new Date(campaign.plannedStart)), plannedEnd: toLocalInput(new Date(campaign.plannedEnd)),
  });
  return (
    <form className="space-y-2 border-t border-slate-200 pt-2 dark:border-slate-800" aria-label="Edit campaign" onSubmit={(e) => { e.preventDefault(); onSave(detailsInput(details)); }}>
      <CampaignDetailsFields value={details} onChange={setDetails} />
      <button className="btn-primary" type="submit" disabled={busy}>Save details</button>
    </form>
  );
}

function RecurrenceSection({ current, busy, onSave }: { current?: { cron: string; timezone: string; nextDueAt?: string | null } | null; busy: boolean; onSave: (recurrence: Recurrence | null) => Promise<boolean> }) {
  const [value, setValue] = useState<Recurrence>({ cron: current?.cron ?? '0 9 1 * *', timezone: current?.timezone ?? 'UTC' });
  return (
    <div className="space-y-2 border-t border-slate-200 pt-2 dark:border-slate-800">
      <h3 className="font-semibold">Recurrence</h3>
      <p className="text-sm">{current ? `${describeCron(current.cron).text} (${current.timezone}); next instance due ${formatTime(current.nextDueAt)}.` : 'Does not recur.'}</p>
      <RecurrenceEditor value={value} onChange={setValue} />
      <div className="flex gap-2">
        <button className="btn" disabled={busy || !describeCron(value.cron).valid} onClick={() => onSave(value)}>{current ? 'Change schedule' : 'Make recurring'}</button>
        {current && <button className="btn" disabled={busy} onClick={() => onSave(null)}>Stop recurring</button>}
      </div>
    </div>
  );
}
