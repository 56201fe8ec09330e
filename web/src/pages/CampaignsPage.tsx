import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { RecurrenceEditor, describeCron, type Recurrence } from '../components/RecurrenceEditor';
import { formatTime, fromLocalInput, humanEnum, toLocalInput } from '../lib/format';
import { hasRole, useSession } from '../lib/session';

const CampaignsDocument = graphql(`
  query Campaigns($status: CampaignStatusName, $first: Int, $after: String) {
    campaigns(status: $status, first: $first, after: $after) {
      nodes { id name status plannedStart plannedEnd templateId recurrence { cron nextDueAt } progress { total closed percentComplete } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const CreateCampaignDocument = graphql(`
  mutation CreateCampaign($input: CampaignInput!) { createCampaign(input: $input) { id } }
`);

const STATUSES = ['PLANNED', 'ACTIVE', 'COMPLETED', 'CANCELLED'] as const;
const PAGE_SIZE = 25;
const DAY = 86_400_000;

export function CampaignsPage() {
  const { me } = useSession();
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [creating, setCreating] = useState(false);
  const [{ data, error, fetching }] = useQuery({
    query: CampaignsDocument,
    variables: { status: (STATUSES as readonly string[]).includes(status) ? (status as (typeof STATUSES)[number]) : null, first: PAGE_SIZE, after: cursors[cursors.length - 1] },
  });
  const canPlan = hasRole(me, 'RED_LEAD', 'BLUE_LEAD') && !me.readOnly;
  const nodes = data?.campaigns.nodes ?? [];
  return (
    <div className="space-y-3">
      <PageTitle actions={canPlan && <button className="btn-primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>New campaign</button>}>Campaigns</PageTitle>
      {creating && <CreateCampaign />}
      <div className="flex items-end gap-2">
        <div>
          <label className="label" htmlFor="campaign-status">Status</label>
          <select id="campaign-status" className="input" value={status} onChange={(e) => { setStatus(e.target.value); setCursors([null]); }}>
            <option value="">Any</option>{STATUSES.map((name) => <option key={name} value={name}>{humanEnum(name)}</option>)}
          </select>
        </div>
      </div>
      <ErrorBox error={error} />
      {fetching && !data && <Loading what="campaigns" />}
      {data && nodes.length === 0 && <Empty>No campaign{status ? ` is ${humanEnum(status)}` : ' yet'}.</Empty>}
      {nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>Name</th><th>Status</th><th>Window</th><th>Progress</th><th>Recurs</th></tr></thead>
          <tbody>{nodes.map((campaign) => (
            <tr key={campaign.id}>
              <td><Link className="link" to={`/campaigns/${campaign.id}`}>{campaign.name}</Link>{campaign.templateId && <span className="text-xs text-slate-500"> (instance)</span>}</td>
              <td><Badge>{humanEnum(campaign.status)}</Badge></td>
              <td>{formatTime(campaign.plannedStart)} – {formatTime(campaign.plannedEnd)}</td>
              <td><ProgressBar percent={campaign.progress.percentComplete} /> {campaign.progress.closed}/{campaign.progress.total}</td>
              <td>{campaign.recurrence ? `${describeCron(campaign.recurrence.cron).text}; next ${formatTime(campaign.recurrence.nextDueAt)}` : '—'}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.campaigns.pageInfo.endCursor} hasNextPage={data.campaigns.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}

export function ProgressBar({ percent }: { percent: number | null | undefined }) {
  const value = Math.round(percent ?? 0);
  return (
    <progress className="h-2 w-24 align-middle accent-violet-600" max={100} value={value} aria-label={`${value}% closed`}>{value}%</progress>
  );
}

/// The campaign's details; shared by creating and editing.
export interface CampaignDetails { name: string; description: string; techniques: string; threatActor: string; plannedStart: string; plannedEnd: string }

export function CampaignDetailsFields({ value, onChange }: { value: CampaignDetails; onChange: (value: CampaignDetails) => void }) {
  const set = (key: keyof CampaignDetails) => (event: { target: { value: string } }) => onChange({ ...value, [key]: event.target.value });
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      <div><label className="label" htmlFor="campaign-name">Name</label><input id="campaign-name" className="input" required value={value.name} onChange={set('name')} /></div>
      <div><label className="label" htmlFor="campaign-actor">Threat actor (group id)</label><input id="campaign-actor" className="input" placeholder="G0016" value={value.threatActor} onChange={set('threatActor')} /></div>
      <div className="sm:col-span-2"><label className="label" htmlFor="campaign-description">Description</label><textarea id="campaign-description" className="input" rows={2} value={value.description} onChange={set('description')} /></div>
      <div className="sm:col-span-2"><label className="label" htmlFor="campaign-techniques">Techniques in scope (comma-separated)</label><input id="campaign-techniques" className="input" placeholder="T1003.001, T1059" value={value.techniques} onChange={set('techniques')} /></div>
      <div><label className="label" htmlFor="campaign-start">Planned start</label><input id="campaign-start" type="datetime-local" className="input" required value={value.plannedStart} onChange={set('plannedStart')} /></div>
      <div><label className="label" htmlFor="campaign-end">Planned end</label><input id="campaign-end" type="datetime-local" className="input" required value={value.plannedEnd} onChange={set('plannedEnd')} /></div>
    </div>
  );
}

export function detailsInput(details: CampaignDetails) {
  return {
    name: details.name,
    description: details.description,
    scope: {
      techniques: details.techniques.split(',').map((technique) => technique.trim().toUpperCase()).filter(Boolean),
      threatActor: details.threatActor.trim().toUpperCase() || null,
    },
    plannedStart: fromLocalInput(details.plannedStart)!,
    plannedEnd: fromLocalInput(details.plannedEnd)!,
  };
}

function CreateCampaign() {
  const navigate = useNavigate();
  const [details, setDetails] = useState<CampaignDetails>({
    name: '', description: '', techniques: '', threatActor: '', plannedStart: toLocalInput(new Date()), plannedEnd: toLocalInput(new Date(Date.now() + 14 * DAY)),
  });
  const [recurs, setRecurs] = useState(false);
  const [recurrence, setRecurrence] = useState<Recurrence>({ cron: '0 9 1 * *', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' });
  const [{ fetching, error }, create] = useMutation(CreateCampaignDocument);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await create({ input: { ...detailsInput(details), recurrence: recurs ? recurrence : null } });
    if (result.data) navigate(`/campaigns/${result.data.createCampaign.id}`);
  };
  return (
    <form className="card space-y-3" aria-label="New campaign" onSubmit={submit}>
      <CampaignDetailsFields value={details} onChange={setDetails} />
      <label className="flex items-center gap-2 text-sm"><input type="checkbox" checked={recurs} onChange={(e) => setRecurs(e.target.checked)} /> Recurring (a template: each due time spawns an instance with fresh copies of its tests)</label>
      {recurs && <RecurrenceEditor value={recurrence} onChange={setRecurrence} />}
      <ErrorBox error={error} />
      <button className="btn-primary" type="submit" disabled={fetching || (recurs && !describeCron(recurrence.cron).valid)}>Create campaign</button>
    </form>
  );
}
