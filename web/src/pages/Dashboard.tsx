import { Link } from 'react-router-dom';
import { useQuery } from 'urql';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { formatTime, humanEnum, humanState } from '../lib/format';
import { useSession } from '../lib/session';

const TREND_WEEKS = 26;

const DashboardDocument = graphql(`
  query Dashboard($from: DateTime!, $me: UUID!) {
    heatmap { at scoredTechniques techniques }
    coverageTrend(from: $from, intervalDays: 7) { at averageScore scoredTechniques techniques staleTechniques }
    mine: testCases(filter: { assignee: $me }, first: 10) { nodes { id title technique state outcome lastChangedAt } }
    intelItems(openOnly: true, first: 5) { nodes { id kind title raisedAt } }
    myNotifications(first: 8) { nodes { id message createdAt read subjectKind subjectId } }
  }
`);

export function Dashboard() {
  const { me } = useSession();
  const from = new Date(Date.now() - TREND_WEEKS * 7 * 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  const [{ data, error, fetching }] = useQuery({ query: DashboardDocument, variables: { from: from.toISOString(), me: me.id } });
  if (fetching && !data) return <Loading what="the dashboard" />;
  if (!data) return <ErrorBox error={error} />;
  const latest = data.coverageTrend[data.coverageTrend.length - 1];
  const trend = data.coverageTrend.map((point) => ({ week: new Date(point.at).toLocaleDateString(), score: point.averageScore, scored: point.scoredTechniques }));
  return (
    <div className="space-y-4">
      <PageTitle>Dashboard</PageTitle>
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
              <li key={item.id}><Badge tone="amber">{humanEnum(item.kind)}</Badge> {item.title} <span className="text-xs text-slate-500">{formatTime(item.raisedAt)}</span></li>
            ))}</ul>
          )}
        </section>
      </div>
    </div>
  );
}
