import { useCallback, useState } from 'react';
import { Link } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { formatTime } from '../lib/format';
import { hasRole, useSession } from '../lib/session';
import { useSettle } from '../lib/useSettle';

const RulesDocument = graphql(`
  query DetectionRules($source: String, $filter: CatalogListFilter, $first: Int, $after: String) {
    detectionRules(source: $source, filter: $filter, first: $first, after: $after) {
      nodes { id scope name status techniques unknownTechniques deployment { deployed changedAt reason } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const TemplatesDocument = graphql(`
  query Templates($library: String, $filter: CatalogListFilter, $first: Int, $after: String) {
    templates(library: $library, filter: $filter, first: $first, after: $after) {
      nodes { id scope name status techniques }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const DeployDocument = graphql(`mutation DeployDetectionRule($source: String!, $id: String!, $reason: String!) { deployDetectionRule(source: $source, id: $id, reason: $reason) { id deployed unchanged } }`);
const RetireDocument = graphql(`mutation RetireDetectionRule($source: String!, $id: String!, $reason: String!) { retireDetectionRule(source: $source, id: $id, reason: $reason) { id deployed unchanged } }`);

const PAGE_SIZE = 50;

/// Detection rules (Sigma, Elastic) and procedure templates (Atomic, CALDERA, LOLBAS, GTFOBins), searchable.
export function CatalogPage() {
  const [tab, setTab] = useState<'rules' | 'templates'>('rules');
  return (
    <div className="space-y-3">
      <PageTitle>Detection rules and templates</PageTitle>
      <div role="tablist" className="flex gap-2">
        <button role="tab" aria-selected={tab === 'rules'} className={tab === 'rules' ? 'btn-primary' : 'btn'} onClick={() => setTab('rules')}>Detection rules</button>
        <button role="tab" aria-selected={tab === 'templates'} className={tab === 'templates' ? 'btn-primary' : 'btn'} onClick={() => setTab('templates')}>Templates</button>
      </div>
      {tab === 'rules' ? <Rules /> : <Templates />}
    </div>
  );
}

function SearchBar({ search, technique, scope, scopes, scopeLabel, onChange }: {
  search: string; technique: string; scope: string; scopes: string[]; scopeLabel: string;
  onChange: (next: { search: string; technique: string; scope: string }) => void;
}) {
  return (
    <div className="card grid grid-cols-1 gap-3 sm:grid-cols-3" role="search">
      <div><label className="label" htmlFor="catalog-search">Id or name contains</label><input id="catalog-search" className="input" value={search} onChange={(e) => onChange({ search: e.target.value, technique, scope })} /></div>
      <div><label className="label" htmlFor="catalog-technique">Technique</label><input id="catalog-technique" className="input" placeholder="T1003.001" value={technique} onChange={(e) => onChange({ search, technique: e.target.value.trim().toUpperCase(), scope })} /></div>
      <div><label className="label" htmlFor="catalog-scope">{scopeLabel}</label>
        <select id="catalog-scope" className="input" value={scope} onChange={(e) => onChange({ search, technique, scope: e.target.value })}>
          <option value="">All</option>{scopes.map((name) => <option key={name}>{name}</option>)}
        </select></div>
    </div>
  );
}

function Rules() {
  const { me } = useSession();
  const [query, setQuery] = useState({ search: '', technique: '', scope: '' });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }, refetch] = useQuery({
    query: RulesDocument,
    variables: { source: query.scope || null, filter: { search: query.search || null, technique: query.technique || null }, first: PAGE_SIZE, after: cursors[cursors.length - 1] },
  });
  const settle = useSettle(useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]));
  const [deployed, deploy] = useMutation(DeployDocument);
  const [retired, retire] = useMutation(RetireDocument);
  const canDeploy = hasRole(me, 'BLUE_LEAD') && !me.readOnly;
  const decide = async (action: 'deploy' | 'retire', source: string, id: string) => {
    const reason = window.prompt(`Why ${action} ${id}?`);
    if (!reason) return;
    const result = await (action === 'deploy' ? deploy : retire)({ source, id, reason });
    if (!result.error) settle();
  };
  const nodes = data?.detectionRules.nodes ?? [];
  return (
    <>
      <SearchBar {...query} scopes={['sigma', 'elastic']} scopeLabel="Source" onChange={(next) => { setQuery(next); setCursors([null]); }} />
      <ErrorBox error={error ?? deployed.error ?? retired.error} />
      {fetching && !data && <Loading what="rules" />}
      {data && nodes.length === 0 && <Empty>No rule matches. Rules arrive with `aegis import sigma|elastic`.</Empty>}
      {nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>Rule</th><th>Source</th><th>Techniques</th><th>Deployed</th><th></th></tr></thead>
          <tbody>{nodes.map((rule) => (
            <tr key={`${rule.scope}:${rule.id}`}>
              <td>{rule.name}<div className="font-mono text-xs text-slate-500">{rule.id}</div></td>
              <td>{rule.scope}</td>
              <td className="space-x-1">{rule.techniques.map((technique) => <Link key={technique} className="link text-xs" to={`/test-cases?technique=${technique}`}>{technique}</Link>)}
                {rule.unknownTechniques.length > 0 && <Badge tone="amber">unknown: {rule.unknownTechniques.join(', ')}</Badge>}</td>
              <td>{rule.deployment?.deployed ? <Badge tone="green">deployed {formatTime(rule.deployment.changedAt)}</Badge> : rule.deployment ? <Badge>retired</Badge> : '—'}</td>
              <td>{canDeploy && (rule.deployment?.deployed
                ? <button className="btn" onClick={() => decide('retire', rule.scope, rule.id)}>Retire</button>
                : <button className="btn" onClick={() => decide('deploy', rule.scope, rule.id)}>Deploy</button>)}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.detectionRules.pageInfo.endCursor} hasNextPage={data.detectionRules.pageInfo.hasNextPage} onChange={setCursors} />}
    </>
  );
}

function Templates() {
  const { me } = useSession();
  const [query, setQuery] = useState({ search: '', technique: '', scope: '' });
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }] = useQuery({
    query: TemplatesDocument,
    variables: { library: query.scope || null, filter: { search: query.search || null, technique: query.technique || null }, first: PAGE_SIZE, after: cursors[cursors.length - 1] },
  });
  const canPlan = hasRole(me, 'RED_LEAD', 'BLUE_LEAD') && !me.readOnly;
  const nodes = data?.templates.nodes ?? [];
  return (
    <>
      <SearchBar {...query} scopes={['atomic', 'caldera', 'lolbas', 'gtfobins']} scopeLabel="Library" onChange={(next) => { setQuery(next); setCursors([null]); }} />
      <ErrorBox error={error} />
      {fetching && !data && <Loading what="templates" />}
      {data && nodes.length === 0 && <Empty>No template matches. Templates arrive with `aegis import atomic|caldera|lolbas|gtfobins`.</Empty>}
      {nodes.length > 0 && (
        <table className="table card">
          <thead><tr><th>Template</th><th>Library</th><th>Techniques</th><th></th></tr></thead>
          <tbody>{nodes.map((template) => (
            <tr key={`${template.scope}:${template.id}`}>
              <td>{template.name}<div className="font-mono text-xs text-slate-500">{template.id}</div></td>
              <td>{template.scope}</td>
              <td className="space-x-1">{template.techniques.map((technique) => <Link key={technique} className="link text-xs" to={`/test-cases?technique=${technique}`}>{technique}</Link>)}</td>
              <td>{canPlan && template.techniques[0] && (
                <Link className="btn" to={`/test-cases/new?technique=${template.techniques[0]}&template=${encodeURIComponent(`${template.scope}:${template.id}`)}`}>Plan a test</Link>
              )}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.templates.pageInfo.endCursor} hasNextPage={data.templates.pageInfo.hasNextPage} onChange={setCursors} />}
    </>
  );
}
