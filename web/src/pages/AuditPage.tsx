import { useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { formatTime, fromLocalInput } from '../lib/format';

const AuditLogDocument = graphql(`
  query AuditLog($filter: AuditLogFilterInput, $first: Int, $after: String) {
    auditLog(filter: $filter, first: $first, after: $after) {
      nodes { globalPosition occurredAt actor actorRoles aggregateType aggregateId eventType summary hash prevHash }
      pageInfo { hasNextPage endCursor }
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
  return (
    <div>
      <PageTitle>Audit log</PageTitle>
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
              <td className="text-xs">{entry.aggregateType}<br />{entry.eventType}</td>
              <td className="font-mono text-xs" title={`hash ${entry.hash}\nprevious ${entry.prevHash}`}>{entry.hash.slice(0, 10)}…</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.auditLog.pageInfo.endCursor} hasNextPage={data.auditLog.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}
