import { useCallback, useState } from 'react';
import { Link } from 'react-router-dom';
import { CombinedError, useClient, useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../generated';
import type { AttackDomain, PolicySettingsInput } from '../generated/graphql';
import { Badge, Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { PolicyEffectView, PolicyForm, type PolicySubmission, type PolicyToEdit, type PreviewAnswer } from '../components/PolicyForm';
import { formatTime, humanEnum } from '../lib/format';
import { useSettle } from '../lib/useSettle';

const PoliciesDocument = graphql(`
  query AdminPolicies {
    scoringPolicies {
      id name version active retired changedAt lastReason
      settings { ruleWeight telemetryWeight prevalenceWeight halfLifeDays aggregation outcomeWeights { blocked alerted logged notDetected } }
    }
  }
`);
const PolicyEffectDocument = graphql(`
  query PolicyEffect($policyId: UUID!) { rescore(policyId: $policyId) { cells { techniqueId score rescored } } }
`);
const PreviewPolicyDocument = graphql(`
  query PreviewScoringPolicy($domain: AttackDomain!, $settings: PolicySettingsInput!) { previewScoringPolicy(domain: $domain, settings: $settings) { cells { techniqueId score rescored } } }
`);
const DefinePolicyDocument = graphql(`
  mutation DefineScoringPolicy($name: String!, $settings: PolicySettingsInput!, $reason: String!) { defineScoringPolicy(name: $name, settings: $settings, reason: $reason) { id } }
`);
const ChangePolicyDocument = graphql(`
  mutation ChangeScoringPolicy($id: UUID!, $settings: PolicySettingsInput!, $reason: String!) { changeScoringPolicy(id: $id, settings: $settings, reason: $reason) { id version } }
`);
const ActivatePolicyDocument = graphql(`mutation ActivateScoringPolicy($id: UUID!, $reason: String!) { activateScoringPolicy(id: $id, reason: $reason) { id active } }`);
const DeactivatePolicyDocument = graphql(`mutation DeactivateScoringPolicy($id: UUID!, $reason: String!) { deactivateScoringPolicy(id: $id, reason: $reason) { id active } }`);

const ImportRunsDocument = graphql(`
  query ImportRuns { importRuns(first: 20) { nodes { id source status startedAt finishedAt filesSeen filesFailed recordsNew recordsChanged recordsUnchanged upstreamVersion } } }
`);
const StartImportDocument = graphql(`mutation StartImport($source: String!, $url: String) { startImport(source: $source, url: $url) { id status } }`);
const ImportRunLiveDocument = graphql(`
  subscription ImportRunLive($id: UUID!) { importRunChanged(id: $id) { id status filesSeen filesFailed recordsNew recordsChanged recordsUnchanged errors { file error } } }
`);

const JobsDocument = graphql(`
  query Jobs { scheduledJobs { job schedule timezone enabled lastDueAt } jobRuns(first: 20) { id job dueAt trigger startedAt finishedAt outcome error } }
`);
const RunJobDocument = graphql(`mutation RunJobNow($job: Job!) { runJobNow(job: $job) { id outcome } }`);

const SystemDocument = graphql(`query SystemInfo { serverInfo { version schemaVersion eventCount } securityPolicy { twoFactorRequiredFor } }`);
const ProjectionsLiveDocument = graphql(`subscription ProjectionProgress { projectionProgress { name eventsApplied eventsBehind oldestPendingAt } }`);
const TwoFactorRequirementDocument = graphql(`mutation SetTwoFactorRequirement($role: RoleName!, $required: Boolean!) { setTwoFactorRequirement(role: $role, required: $required) }`);

const TABS = ['Scoring policies', 'Imports', 'Scheduled jobs', 'System'] as const;
const ROLES = ['ADMIN', 'RED_LEAD', 'RED_TECH', 'BLUE_LEAD', 'BLUE_TECH', 'VIEWER'] as const;

export function AdminPage() {
  const [tab, setTab] = useState<(typeof TABS)[number]>('Scoring policies');
  return (
    <div className="space-y-3">
      <PageTitle>Administration</PageTitle>
      <div role="tablist" className="flex flex-wrap gap-2">
        {TABS.map((name) => <button key={name} role="tab" aria-selected={tab === name} className={tab === name ? 'btn-primary' : 'btn'} onClick={() => setTab(name)}>{name}</button>)}
      </div>
      {tab === 'Scoring policies' && <Policies />}
      {tab === 'Imports' && <Imports />}
      {tab === 'Scheduled jobs' && <Jobs />}
      {tab === 'System' && <System />}
    </div>
  );
}

function Policies() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: PoliciesDocument });
  // Policies are a read model: a change shows once the projector has applied it.
  const settle = useSettle(useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]));
  const [activated, activate] = useMutation(ActivatePolicyDocument);
  const [deactivated, deactivate] = useMutation(DeactivatePolicyDocument);
  const [preview, setPreview] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const act = async (action: 'activate' | 'deactivate', id: string) => {
    const reason = window.prompt(`Why ${action} this policy?`);
    if (!reason) return;
    await (action === 'activate' ? activate : deactivate)({ id, reason });
    settle();
  };
  return (
    <div className="space-y-3">
      <p className="text-sm text-slate-500">A new policy is defined inactive. Preview settings before saving them, look at a saved policy's effect (below, or side by side on the heatmap) before activating it. Every change is an event; history can be re-scored under any version.</p>
      <ErrorBox error={error ?? activated.error ?? deactivated.error} />
      {fetching && !data && <Loading what="scoring policies" />}
      {data && data.scoringPolicies.length === 0 && <Empty>No scoring policy yet: scores use the default settings.</Empty>}
      {data && data.scoringPolicies.length > 0 && (
        <table className="table card">
          <thead><tr><th>Policy</th><th>Outcome weights (B/A/L/N)</th><th>Rules / telemetry / prevalence</th><th>Half-life</th><th>Aggregation</th><th></th></tr></thead>
          <tbody>{data.scoringPolicies.map((policy) => (
            <tr key={policy.id}>
              <td>{policy.name} v{policy.version} {policy.active && <Badge tone="green">active</Badge>} {policy.retired && <Badge>retired</Badge>}
                <div className="text-xs text-slate-500">{formatTime(policy.changedAt)}: {policy.lastReason}</div></td>
              <td>{[policy.settings.outcomeWeights.blocked, policy.settings.outcomeWeights.alerted, policy.settings.outcomeWeights.logged, policy.settings.outcomeWeights.notDetected].join(' / ')}</td>
              <td>{policy.settings.ruleWeight} / {policy.settings.telemetryWeight} / {policy.settings.prevalenceWeight}</td>
              <td>{policy.settings.halfLifeDays ?? 'never'}</td>
              <td>{humanEnum(policy.settings.aggregation)}</td>
              <td className="space-x-1 whitespace-nowrap">
                <button className="btn" onClick={() => setPreview(preview === policy.id ? null : policy.id)}>Effect</button>
                {!policy.retired && <button className="btn" aria-expanded={editing === policy.id} onClick={() => setEditing(editing === policy.id ? null : policy.id)}>Edit</button>}
                <Link className="btn" to={`/heatmap?policyId=${policy.id}`}>Side by side</Link>
                {!policy.retired && (policy.active
                  ? <button className="btn" onClick={() => act('deactivate', policy.id)}>Deactivate</button>
                  : <button className="btn" onClick={() => act('activate', policy.id)}>Activate</button>)}
              </td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {preview && <PolicyEffect policyId={preview} />}
      {editing && data?.scoringPolicies.find((policy) => policy.id === editing) && (
        <PolicyEditor
          key={editing}
          policy={data.scoringPolicies.find((policy) => policy.id === editing)!}
          onSaved={() => { setEditing(null); setPreview(editing); settle(); }}
        />
      )}
      <PolicyEditor onSaved={settle} />
    </div>
  );
}

/// What activating a saved policy would change, from `rescore`: the cells whose score moves.
function PolicyEffect({ policyId }: { policyId: string }) {
  const [{ data, error, fetching }] = useQuery({ query: PolicyEffectDocument, variables: { policyId } });
  if (fetching && !data) return <Loading what="the effect" />;
  if (!data) return <ErrorBox error={error} />;
  return <PolicyEffectView cells={data.rescore.cells} label="Policy effect" />;
}

/// `PolicyForm` wired to the server: preview with `previewScoringPolicy` (always asked afresh: the coverage
/// moves under it), save with `defineScoringPolicy` or, for `policy`, `changeScoringPolicy`.
function PolicyEditor({ policy, onSaved }: { policy?: PolicyToEdit; onSaved: () => void }) {
  const client = useClient();
  const [defined, define] = useMutation(DefinePolicyDocument);
  const [changed, change] = useMutation(ChangePolicyDocument);
  const preview = async (settings: PolicySettingsInput, domain: AttackDomain): Promise<PreviewAnswer> => {
    const result = await client.query(PreviewPolicyDocument, { domain, settings }, { requestPolicy: 'network-only' }).toPromise();
    if (result.data) return { cells: result.data.previewScoringPolicy.cells };
    return { error: result.error ?? new CombinedError({ graphQLErrors: [{ message: 'The server sent no preview.' }] }) };
  };
  const save = async ({ name, settings, reason }: PolicySubmission) => {
    const result = policy ? await change({ id: policy.id, settings, reason }) : await define({ name, settings, reason });
    if (!result.data) return false;
    onSaved();
    return true;
  };
  return <PolicyForm policy={policy} busy={defined.fetching || changed.fetching} error={defined.error ?? changed.error} onPreview={preview} onSave={save} />;
}

const SOURCES = ['attack', 'd3fend', 'atomic', 'caldera', 'lolbas', 'gtfobins', 'sigma', 'elastic', 'ctid', 'sysmon', 'oscal', 'taxii'];

function Imports() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: ImportRunsDocument });
  const [started, startImport] = useMutation(StartImportDocument);
  const [source, setSource] = useState('attack');
  const [url, setUrl] = useState('');
  const runId = started.data?.startImport.id;
  return (
    <div className="space-y-3">
      <form className="card flex flex-wrap items-end gap-3" aria-label="Start import" onSubmit={async (e) => { e.preventDefault(); await startImport({ source, url: url || null }); }}>
        <div><label className="label" htmlFor="import-source">Source</label>
          <select id="import-source" className="input" value={source} onChange={(e) => setSource(e.target.value)}>{SOURCES.map((name) => <option key={name}>{name}</option>)}</select></div>
        <div className="min-w-72 flex-1"><label className="label" htmlFor="import-url">URL (empty: MITRE's Enterprise release for attack)</label><input id="import-url" className="input" value={url} onChange={(e) => setUrl(e.target.value)} /></div>
        <button className="btn-primary" type="submit" disabled={started.fetching}>Run now</button>
      </form>
      <ErrorBox error={started.error ?? error} />
      {runId && <ImportProgress id={runId} onDone={() => refetch({ requestPolicy: 'network-only' })} />}
      {fetching && !data && <Loading what="import runs" />}
      {data && data.importRuns.nodes.length === 0 && <Empty>No import has run.</Empty>}
      {data && data.importRuns.nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>Source</th><th>Status</th><th>Started</th><th>Finished</th><th>Files (failed)</th><th>New / changed / unchanged</th></tr></thead>
          <tbody>{data.importRuns.nodes.map((run) => (
            <tr key={run.id}><td>{run.source} {run.upstreamVersion && <span className="text-xs text-slate-500">{run.upstreamVersion}</span>}</td><td>{humanEnum(run.status)}</td><td>{formatTime(run.startedAt)}</td><td>{formatTime(run.finishedAt)}</td>
              <td>{run.filesSeen} ({run.filesFailed})</td><td>{run.recordsNew} / {run.recordsChanged} / {run.recordsUnchanged}</td></tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}

function ImportProgress({ id, onDone }: { id: string; onDone: () => void }) {
  const [{ data }] = useSubscription({ query: ImportRunLiveDocument, variables: { id } }, (_previous, next) => {
    if (next.importRunChanged && next.importRunChanged.status !== 'RUNNING') onDone();
    return next;
  });
  const run = data?.importRunChanged;
  if (!run) return <p role="status" className="text-sm">Starting the import…</p>;
  return (
    <div role="status" className="card text-sm">
      Import {humanEnum(run.status)}: {run.filesSeen} files seen ({run.filesFailed} failed), {run.recordsNew} new, {run.recordsChanged} changed, {run.recordsUnchanged} unchanged
      {run.status === 'RUNNING' && <progress className="ml-2 align-middle" aria-label="Import running" />}
      {run.errors.length > 0 && <ul className="mt-1 text-xs text-red-700 dark:text-red-300">{run.errors.slice(0, 20).map((item, index) => <li key={index}>{item.file}: {item.error}</li>)}</ul>}
    </div>
  );
}

function Jobs() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: JobsDocument });
  const [ran, runJob] = useMutation(RunJobDocument);
  const [running, setRunning] = useState<string | null>(null);
  const run = async (job: NonNullable<typeof data>['scheduledJobs'][number]['job']) => {
    setRunning(job);
    await runJob({ job });
    setRunning(null);
    refetch({ requestPolicy: 'network-only' });
  };
  if (fetching && !data) return <Loading what="scheduled jobs" />;
  if (!data) return <ErrorBox error={error} />;
  return (
    <div className="space-y-3">
      <ErrorBox error={ran.error} />
      <table className="table card">
        <thead><tr><th>Job</th><th>Schedule</th><th>Last due</th><th></th></tr></thead>
        <tbody>{data.scheduledJobs.map((job) => (
          <tr key={job.job}><td>{humanEnum(job.job)} {!job.enabled && <Badge>off</Badge>}</td><td className="font-mono">{job.schedule} <span className="font-sans text-xs text-slate-500">{job.timezone}</span></td><td>{formatTime(job.lastDueAt)}</td>
            <td><button className="btn" disabled={!job.enabled || running !== null} onClick={() => run(job.job)}>{running === job.job ? 'Running…' : 'Run now'}</button></td></tr>
        ))}</tbody>
      </table>
      <h3 className="font-semibold">Newest runs</h3>
      {data.jobRuns.length === 0 ? <Empty>No job has run yet.</Empty> : (
        <table className="table card">
          <thead><tr><th>Job</th><th>Due</th><th>Trigger</th><th>Outcome</th><th>Finished</th></tr></thead>
          <tbody>{data.jobRuns.map((run) => (
            <tr key={run.id}><td>{run.job}</td><td>{formatTime(run.dueAt)}</td><td>{run.trigger}</td><td>{run.outcome}{run.error && <div className="text-xs text-red-700 dark:text-red-300">{run.error}</div>}</td><td>{formatTime(run.finishedAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}

function System() {
  const [{ data, error }, refetch] = useQuery({ query: SystemDocument });
  const [{ data: projections }] = useSubscription({ query: ProjectionsLiveDocument });
  const [changed, setRequirement] = useMutation(TwoFactorRequirementDocument);
  if (!data) return error ? <ErrorBox error={error} /> : <Loading what="system information" />;
  const required = new Set<string>(data.securityPolicy.twoFactorRequiredFor);
  return (
    <div className="grid gap-3 lg:grid-cols-2">
      <section className="card text-sm" aria-label="Server">
        <h3 className="font-semibold">Server</h3>
        <p>Version {data.serverInfo.version}, schema {data.serverInfo.schemaVersion}, {data.serverInfo.eventCount} events.</p>
        <h3 className="mt-2 font-semibold">Two-factor login required for</h3>
        <ul>{ROLES.map((role) => (
          <li key={role}><label className="flex items-center gap-2"><input type="checkbox" checked={required.has(role)}
            onChange={async (e) => { await setRequirement({ role, required: e.target.checked }); refetch({ requestPolicy: 'network-only' }); }} /> {humanEnum(role)}</label></li>
        ))}</ul>
        <ErrorBox error={changed.error} />
      </section>
      <section className="card text-sm" aria-label="Projections">
        <h3 className="font-semibold">Read models (live)</h3>
        {!projections ? <Loading what="projections" /> : (
          <table className="table"><thead><tr><th>Projection</th><th>Applied</th><th>Behind</th></tr></thead>
            <tbody>{projections.projectionProgress.map((projection) => (
              <tr key={projection.name}><td>{projection.name}</td><td>{projection.eventsApplied}</td><td>{projection.eventsBehind}</td></tr>
            ))}</tbody></table>
        )}
      </section>
    </div>
  );
}
