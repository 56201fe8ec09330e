import { useState } from 'react';
import { useClient } from 'urql';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { describeError } from '../lib/errors';
import { formatTime, fromLocalInput } from '../lib/format';

const AuditLogDocument = graphql(`
  query AuditLog($filter: AuditLogFilterInput, $first: Int, $after: String) {
    auditLog(filter: $filter, first: $first, after: $after) {
      nodes { globalPosition occurredAt actor actorRoles aggregateType aggregateId eventType summary hash prevHash }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const VerifyChainDocument = graphql(`
  query AuditChainVerification { auditChainVerification { intact events brokenLink brokenAt } }
`);

const ReplayDocument = graphql(`
  query AuditReplay($aggregateId: String!, $aggregateType: String, $until: DateTime) {
    auditReplay(aggregateId: $aggregateId, aggregateType: $aggregateType, until: $until) {
      aggregateType aggregateId laterEvents
      steps { sequence eventType occurredAt actorId summary event state }
    }
  }
`);

const PAGE_SIZE = 50;
const AGGREGATE_TYPES = ['TestCase', 'Campaign', 'ScoringPolicy', 'User', 'SecurityPolicy', 'DetectionRule'];

export function AuditPage() {
  const [aggregateType, setAggregateType] = useState('');
  const [eventType, setEventType] = useState('');
  const [aggregateId, setAggregateId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const filter = {
    aggregateType: aggregateType || null, eventType: eventType || null, aggregateId: aggregateId || null,
    from: fromLocalInput(from), to: fromLocalInput(to),
  };
  const [{ data, error, fetching }] = useQuery({ query: AuditLogDocument, variables: { filter, first: PAGE_SIZE, after: cursors[cursors.length - 1] } });
  const reset = <T,>(setter: (value: T) => void) => (value: T) => { setter(value); setCursors([null]); };
  const nodes = data?.auditLog.nodes ?? [];
  const [replayed, setReplayed] = useState<{ id: string; type: string } | null>(null);
  return (
    <div className="space-y-3">
      <PageTitle actions={<ChainVerification />}>Audit log</PageTitle>
      {replayed && <ReplayStepper aggregateId={replayed.id} aggregateType={replayed.type} onClose={() => setReplayed(null)} />}
      <div className="card mb-3 grid grid-cols-2 gap-3 md:grid-cols-5" role="search" aria-label="Filter the audit log">
        <div><label className="label" htmlFor="audit-type">Aggregate type</label>
          <select id="audit-type" className="input" value={aggregateType} onChange={(e) => reset(setAggregateType)(e.target.value)}>
            <option value="">Any</option>{AGGREGATE_TYPES.map((type) => <option key={type}>{type}</option>)}
          </select></div>
        <div><label className="label" htmlFor="audit-event">Event type</label><input id="audit-event" className="input" placeholder="ResultApproved" value={eventType} onChange={(e) => reset(setEventType)(e.target.value.trim())} /></div>
        <div><label className="label" htmlFor="audit-aggregate">Aggregate id</label><input id="audit-aggregate" className="input" value={aggregateId} onChange={(e) => reset(setAggregateId)(e.target.value.trim())} /></div>
        <div><label className="label" htmlFor="audit-from">From</label><input id="audit-from" type="datetime-local" className="input" value={from} onChange={(e) => reset(setFrom)(e.target.value)} /></div>
        <div><label className="label" htmlFor="audit-to">To</label><input id="audit-to" type="datetime-local" className="input" value={to} onChange={(e) => reset(setTo)(e.target.value)} /></div>
      </div>
      <ErrorBox error={error} />
      {fetching && !data && <Loading what="the audit log" />}
      {data && nodes.length === 0 && <Empty>No event matches these filters.</Empty>}
      {nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Event</th><th>Hash</th></tr></thead>
          <tbody>{nodes.map((entry) => (
            <tr key={entry.globalPosition}>
              <td className="font-mono text-xs">{entry.globalPosition}</td>
              <td className="whitespace-nowrap">{formatTime(entry.occurredAt)}</td>
              <td>{entry.actor}<div className="text-xs text-slate-500">{entry.actorRoles.join(', ')}</div></td>
              <td>{entry.summary}</td>
              <td className="text-xs">
                <button className="link" title="Step through this aggregate's states" onClick={() => setReplayed({ id: entry.aggregateId, type: entry.aggregateType })}>{entry.aggregateType}</button>
                <br />{entry.eventType}
              </td>
              <td className="font-mono text-xs" title={`hash ${entry.hash}\nprevious ${entry.prevHash}`}>{entry.hash.slice(0, 10)}…</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.auditLog.pageInfo.endCursor} hasNextPage={data.auditLog.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}

/// Recomputes the whole chain on the server; reading every event takes a while on a large log.
function ChainVerification() {
  const client = useClient();
  const [state, setState] = useState<{ running: boolean; text?: string; intact?: boolean; error?: string | null }>({ running: false });
  const verify = async () => {
    setState({ running: true });
    const result = await client.query(VerifyChainDocument, {}, { requestPolicy: 'network-only' }).toPromise();
    const verdict = result.data?.auditChainVerification;
    if (!verdict) return setState({ running: false, error: describeError(result.error) });
    setState({
      running: false,
      intact: verdict.intact,
      text: verdict.intact ? `Hash chain intact: ${verdict.events} events` : `Broken: ${verdict.brokenLink}`,
    });
  };
  return (
    <div className="flex items-center gap-2" role="status" aria-live="polite">
      <button className="btn" onClick={verify} disabled={state.running}>{state.running ? 'Verifying every event…' : 'Verify hash chain'}</button>
      {state.text && <span data-testid="chain-verdict"><Badge tone={state.intact ? 'green' : 'red'}>{state.text}</Badge></span>}
      {state.error && <span className="text-sm text-red-700 dark:text-red-300">{state.error}</span>}
    </div>
  );
}

/// One aggregate's states, event by event: step with the buttons or the slider.
function ReplayStepper({ aggregateId, aggregateType, onClose }: { aggregateId: string; aggregateType: string; onClose: () => void }) {
  const [{ data, error, fetching }] = useQuery({ query: ReplayDocument, variables: { aggregateId, aggregateType } });
  const [index, setIndex] = useState<number | null>(null);
  const steps = data?.auditReplay.steps ?? [];
  const current = Math.min(index ?? steps.length - 1, steps.length - 1);
  const step = steps[current];
  return (
    <section className="card space-y-2" aria-label="Replay">
      <div className="flex items-center justify-between">
        <h2 className="font-semibold">Replay of {aggregateType} {aggregateId}</h2>
        <button className="btn" onClick={onClose}>Close</button>
      </div>
      {fetching && !data && <Loading what="the replay" />}
      <ErrorBox error={error} />
      {step && (
        <>
          <div className="flex flex-wrap items-center gap-2">
            <button className="btn" disabled={current <= 0} onClick={() => setIndex(current - 1)}>Previous event</button>
            <input aria-label="Event" type="range" min={0} max={steps.length - 1} value={current} onChange={(e) => setIndex(Number(e.target.value))} className="w-64" />
            <button className="btn" disabled={current >= steps.length - 1} onClick={() => setIndex(current + 1)}>Next event</button>
            <span className="text-sm" data-testid="replay-position">Event {step.sequence} of {steps.length}</span>
          </div>
          <p className="text-sm"><span className="text-slate-500">{formatTime(step.occurredAt)}</span> <strong>{step.eventType}</strong>: {step.summary}</p>
          <div className="grid gap-2 lg:grid-cols-2">
            <div><div className="label">Event</div><pre className="max-h-80 overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800">{JSON.stringify(step.event, null, 2)}</pre></div>
            <div><div className="label">State after it</div><pre className="max-h-80 overflow-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-800">{JSON.stringify(step.state, null, 2)}</pre></div>
          </div>
        </>
      )}
    </section>
  );
}
