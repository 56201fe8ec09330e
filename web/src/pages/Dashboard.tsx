import { useCallback, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { formatTime, humanEnum, humanState } from '../lib/format';
import { hasRole, useSession } from '../lib/session';
import { useSettle } from '../lib/useSettle';

const TREND_WEEKS = 26;
const DOMAIN_KEY = 'aegis-dashboard-domain';
type Domain = 'ENTERPRISE' | 'MOBILE' | 'ICS';

const DashboardDocument = graphql(`
  query Dashboard($domain: AttackDomain!, $from: DateTime!, $now: DateTime!, $me: UUID!) {
    now: coverageTrend(domain: $domain, from: $now, to: $now) { averageScore staleTechniques }
    heatmap(domain: $domain) { at scoredTechniques techniques }
    testCaseTotals { total byState { state count } byOutcome { outcome count } }
    coverageTrend(domain: $domain, from: $from, intervalDays: 7) { at averageScore scoredTechniques techniques staleTechniques }
    mine: testCases(filter: { assignee: $me }, first: 10) { nodes { id title technique state outcome lastChangedAt } }
    intelItems(openOnly: true, first: 5) { nodes { id kind title raisedAt } }
    myNotifications(first: 8) { nodes { id message createdAt read subjectKind subjectId } }
  }
`);

const AcknowledgeIntelDocument = graphql(`
  mutation AcknowledgeIntelItem($id: UUID!, $note: String) { acknowledgeIntelItem(id: $id, note: $note) { id acknowledgedAt note unchanged } }
`);

export function Dashboard() {
  const { me } = useSession();
  // Fixed when the page opens, so that re-rendering does not make a new query each time.
  const [now] = useState(() => new Date().toISOString());
  const from = new Date(Date.now() - TREND_WEEKS * 7 * 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  const [domain, setDomain] = useState<Domain>(() => (localStorage.getItem(DOMAIN_KEY) as Domain | null) ?? 'ENTERPRISE');
  const chooseDomain = (next: Domain) => {
    localStorage.setItem(DOMAIN_KEY, next);
    setDomain(next);
  };
  const [{ data, error, fetching }, refetch] = useQuery({ query: DashboardDocument, variables: { domain, from: from.toISOString(), now, me: me.id } });
  // Open intel items are a read model: an acknowledged one leaves the list once it is projected.
  const settle = useSettle(useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]));
  // AcknowledgeIntel: red and blue leads (and admins), never through a read-only token.
  const canAcknowledge = !me.readOnly && hasRole(me, 'RED_LEAD', 'BLUE_LEAD');
  if (fetching && !data) return <Loading what="the dashboard" />;
  if (!data) return <ErrorBox error={error} />;
  const latest = data.now[0];
  const trend = data.coverageTrend.map((point) => ({ week: new Date(point.at).toLocaleDateString(), score: point.averageScore, scored: point.scoredTechniques }));
  return (
    <div className="space-y-4">
      <PageTitle actions={
        <select aria-label="ATT&CK domain" className="input" value={domain} onChange={(e) => chooseDomain(e.target.value as Domain)}>
          <option value="ENTERPRISE">Enterprise</option><option value="MOBILE">Mobile</option><option value="ICS">ICS</option>
        </select>
      }>Dashboard</PageTitle>
      <ErrorBox error={error} />
      <div className="grid gap-4 md:grid-cols-3">
        <div className="card">
          <div className="label">Average score of scored techniques</div>
          <div className="text-4xl font-bold" data-testid="overall-score">{latest?.averageScore ?? '—'}</div>
        </div>
        <div className="card">
          <div className="label">Techniques scored</div>
          <div className="text-4xl font-bold">{data.heatmap.scoredTechniques} <span className="text-base font-normal text-slate-500">of {data.heatmap.techniques}</span></div>
        </div>
        <div className="card">
          <div className="label">Stale techniques</div>
          <div className="text-4xl font-bold">{latest?.staleTechniques ?? 0}</div>
        </div>
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <TotalsChart label="Tests by state" testId="tests-by-state" data={data.testCaseTotals.byState.map((entry) => ({ name: humanState(entry.state), count: entry.count }))} />
        <TotalsChart label="Tests by outcome" testId="tests-by-outcome" data={data.testCaseTotals.byOutcome.map((entry) => ({ name: entry.outcome ? humanEnum(entry.outcome) : 'none yet', count: entry.count }))} />
      </div>
      <section className="card" aria-label="Coverage trend">
        <h2 className="mb-2 font-semibold">Coverage trend, last {TREND_WEEKS} weeks</h2>
        <div className="h-56">
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={trend}>
              <CartesianGrid strokeDasharray="3 3" stroke="#94a3b8" strokeOpacity={0.3} />
              <XAxis dataKey="week" fontSize={11} />
              <YAxis yAxisId="score" domain={[0, 100]} fontSize={11} />
              <YAxis yAxisId="scored" orientation="right" fontSize={11} />
              <Tooltip />
              <Line yAxisId="score" type="monotone" dataKey="score" name="average score" stroke="#7c3aed" strokeWidth={2} connectNulls />
              <Line yAxisId="scored" type="monotone" dataKey="scored" name="techniques scored" stroke="#16a34a" />
            </LineChart>
          </ResponsiveContainer>
        </div>
      </section>
      <div className="grid gap-4 lg:grid-cols-3">
        <section className="card" aria-label="My assignments">
          <h2 className="mb-2 font-semibold">My assignments</h2>
          {data.mine.nodes.length === 0 ? <Empty>Nothing assigned to you.</Empty> : (
            <ul className="space-y-1 text-sm">{data.mine.nodes.map((test) => (
              <li key={test.id}><Link className="link" to={`/test-cases/${test.id}`}>{test.title}</Link> <Badge>{humanState(test.state)}</Badge></li>
            ))}</ul>
          )}
        </section>
        <section className="card" aria-label="Recent activity">
          <h2 className="mb-2 font-semibold">Recent activity for you</h2>
          {data.myNotifications.nodes.length === 0 ? <Empty>No notifications yet.</Empty> : (
            <ul className="space-y-1 text-sm">{data.myNotifications.nodes.map((notification) => (
              <li key={notification.id} className={notification.read ? 'text-slate-500' : ''}>
                <span className="text-xs text-slate-500">{formatTime(notification.createdAt)}</span>{' '}
                {notification.subjectKind === 'TEST_CASE' ? <Link className="link" to={`/test-cases/${notification.subjectId}`}>{notification.message}</Link> : notification.message}
              </li>
            ))}</ul>
          )}
        </section>
        <section className="card" aria-label="Intel">
          <h2 className="mb-2 font-semibold">Open intel items</h2>
          {data.intelItems.nodes.length === 0 ? <Empty>No open intel items.</Empty> : (
            <ul className="space-y-1 text-sm">{data.intelItems.nodes.map((item) => (
              <IntelRow key={item.id} item={item} canAcknowledge={canAcknowledge} onAcknowledged={settle} />
            ))}</ul>
          )}
        </section>
      </div>
    </div>
  );
}

/// An open intel item and, for a lead, "Acknowledge" with an optional note on what was done about it.
function IntelRow({ item, canAcknowledge, onAcknowledged }: {
  item: { id: string; kind: string; title: string; raisedAt: string };
  canAcknowledge: boolean;
  onAcknowledged: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const [acknowledged, acknowledge] = useMutation(AcknowledgeIntelDocument);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await acknowledge({ id: item.id, note: note.trim() || null });
    if (result.data) {
      setOpen(false);
      onAcknowledged();
    }
  };
  const done = acknowledged.data?.acknowledgeIntelItem;
  return (
    <li className="space-y-1">
      <div>
        <Badge tone="amber">{humanEnum(item.kind)}</Badge> {item.title} <span className="text-xs text-slate-500">{formatTime(item.raisedAt)}</span>
        {canAcknowledge && !open && !done && (
          <button type="button" className="btn ml-2 py-0 text-xs" aria-label={`Acknowledge ${item.title}`} onClick={() => setOpen(true)}>Acknowledge</button>
        )}
        {done && <span className="ml-2 text-xs text-green-700 dark:text-green-400">acknowledged {formatTime(done.acknowledgedAt)}</span>}
      </div>
      {open && (
        <form className="flex flex-wrap items-end gap-2" aria-label={`Acknowledge ${item.title}`} onSubmit={submit}>
          <div className="grow"><label className="label" htmlFor={`intel-note-${item.id}`}>What was done (optional)</label>
            <input id={`intel-note-${item.id}`} className="input w-full" value={note} onChange={(event) => setNote(event.target.value)} /></div>
          <button className="btn-primary" type="submit" disabled={acknowledged.fetching}>Record acknowledgement</button>
          <button className="btn" type="button" onClick={() => setOpen(false)}>Cancel</button>
        </form>
      )}
      <ErrorBox error={acknowledged.error} />
    </li>
  );
}

/// One count per category as bars, with the numbers also in a list for screen readers and tests.
function TotalsChart({ label, testId, data }: { label: string; testId: string; data: { name: string; count: number }[] }) {
  return (
    <section className="card" aria-label={label}>
      <h2 className="mb-2 font-semibold">{label}</h2>
      <div className="h-56">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} layout="vertical" margin={{ left: 24 }}>
            <XAxis type="number" allowDecimals={false} fontSize={10} />
            <YAxis type="category" dataKey="name" fontSize={11} interval={0} width={110} />
            <Tooltip />
            <Bar dataKey="count" fill="#7c3aed" />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <ul className="sr-only" data-testid={testId}>{data.map((entry) => <li key={entry.name}>{entry.name}: {entry.count}</li>)}</ul>
    </section>
  );
}
