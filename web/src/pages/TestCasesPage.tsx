import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { formatTime, humanEnum, humanState } from '../lib/format';
import { hasRole, useSession } from '../lib/session';

const TestCasesDocument = graphql(`
  query TestCases($filter: TestCaseFilterInput, $first: Int, $after: String) {
    testCases(filter: $filter, first: $first, after: $after) {
      nodes { id title technique techniqueName state outcome run blind lastChangedAt tags }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const PAGE_SIZE = 25;
const STATES = ['planned', 'assigned', 'executing', 'executed', 'reviewing', 'awaiting_approval', 'completed', 'paused', 'abandoned'];
const OUTCOMES = ['BLOCKED', 'ALERTED', 'LOGGED', 'NOT_DETECTED', 'NOT_APPLICABLE'] as const;
const SAVED_VIEWS_KEY = 'aegis-test-case-views';
const FILTER_KEYS = ['state', 'technique', 'outcome', 'tag', 'mine'] as const;

interface SavedView { name: string; query: string }

function loadViews(): SavedView[] {
  try {
    return JSON.parse(localStorage.getItem(SAVED_VIEWS_KEY) ?? '[]') as SavedView[];
  } catch {
    return [];
  }
}

/// The filters live in the URL, so a view is a link; saved views are named URLs kept in this browser.
export function TestCasesPage() {
  const { me } = useSession();
  const [params, setParams] = useSearchParams();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [views, setViews] = useState<SavedView[]>(loadViews);
  const value = (key: (typeof FILTER_KEYS)[number]) => params.get(key) ?? '';
  const setFilter = (key: (typeof FILTER_KEYS)[number], next: string) => {
    const updated = new URLSearchParams(params);
    if (next) updated.set(key, next); else updated.delete(key);
    setParams(updated, { replace: true });
    setCursors([null]);
  };
  const outcome = value('outcome');
  const filter = {
    state: value('state') || null,
    technique: value('technique') || null,
    outcome: (OUTCOMES as readonly string[]).includes(outcome) ? (outcome as (typeof OUTCOMES)[number]) : null,
    tag: value('tag') || null,
    assignee: value('mine') ? me.id : null,
  };
  const [{ data, error, fetching }] = useQuery({
    query: TestCasesDocument,
    variables: { filter, first: PAGE_SIZE, after: cursors[cursors.length - 1] },
  });
  const saveView = () => {
    const name = window.prompt('Name this view');
    if (!name) return;
    const next = [...views.filter((view) => view.name !== name), { name, query: params.toString() }];
    localStorage.setItem(SAVED_VIEWS_KEY, JSON.stringify(next));
    setViews(next);
  };
  const nodes = data?.testCases.nodes ?? [];
  return (
    <div>
      <PageTitle actions={hasRole(me, 'RED_LEAD', 'BLUE_LEAD') && !me.readOnly ? <Link className="btn-primary" to="/test-cases/new">Plan a test case</Link> : undefined}>
        Test cases
      </PageTitle>
      <div className="card mb-3 grid grid-cols-2 gap-3 md:grid-cols-6" role="search" aria-label="Filter test cases">
        <div>
          <label className="label" htmlFor="tc-state">State</label>
          <select id="tc-state" className="input" value={value('state')} onChange={(e) => setFilter('state', e.target.value)}>
            <option value="">Any</option>
            {STATES.map((state) => <option key={state} value={state}>{humanState(state)}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="tc-outcome">Outcome</label>
          <select id="tc-outcome" className="input" value={outcome} onChange={(e) => setFilter('outcome', e.target.value)}>
            <option value="">Any</option>
            {OUTCOMES.map((name) => <option key={name} value={name}>{humanEnum(name)}</option>)}
          </select>
        </div>
        <div>
          <label className="label" htmlFor="tc-technique">Technique</label>
          <input id="tc-technique" className="input" placeholder="T1003" value={value('technique')} onChange={(e) => setFilter('technique', e.target.value.trim().toUpperCase())} />
        </div>
        <div>
          <label className="label" htmlFor="tc-tag">Tag</label>
          <input id="tc-tag" className="input" value={value('tag')} onChange={(e) => setFilter('tag', e.target.value.trim())} />
        </div>
        <label className="flex items-end gap-2 text-sm">
          <input type="checkbox" checked={!!value('mine')} onChange={(e) => setFilter('mine', e.target.checked ? '1' : '')} /> Assigned to me
        </label>
        <div className="flex items-end gap-2">
          <button className="btn" onClick={saveView}>Save view</button>
          {views.length > 0 && (
            <select aria-label="Saved views" className="input" value="" onChange={(e) => { setParams(new URLSearchParams(e.target.value)); setCursors([null]); }}>
              <option value="">Saved views…</option>
              {views.map((view) => <option key={view.name} value={view.query}>{view.name}</option>)}
            </select>
          )}
        </div>
      </div>
      <ErrorBox error={error} />
      {fetching && !data && <Loading what="test cases" />}
      {data && nodes.length === 0 && <Empty>No test case matches these filters.</Empty>}
      {nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>Title</th><th>Technique</th><th>State</th><th>Outcome</th><th>Run</th><th>Last change</th></tr></thead>
          <tbody>
            {nodes.map((test) => (
              <tr key={test.id}>
                <td><Link className="link" to={`/test-cases/${test.id}`}>{test.title}</Link> {test.blind && <Badge tone="violet">blind</Badge>}</td>
                <td>{test.technique} <span className="text-slate-500">{test.techniqueName}</span></td>
                <td><Badge>{humanState(test.state)}</Badge></td>
                <td>{humanEnum(test.outcome)}</td>
                <td>{test.run}</td>
                <td>{formatTime(test.lastChangedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.testCases.pageInfo.endCursor} hasNextPage={data.testCases.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}
