import { useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { humanEnum } from '../lib/format';

const GapsDocument = graphql(`
  query ThreatActorGaps($domain: AttackDomain!) {
    threatActorGaps(domain: $domain) { groupId name gaps { techniques covered partial untested averageScore } }
  }
`);

const ThreatActorDocument = graphql(`
  query ThreatActor($id: String!, $domain: AttackDomain!) {
    threatActor(id: $id) { id name domain aliases description }
    threatActorGaps(domain: $domain, groupId: $id) { groupId gaps { techniques covered partial untested averageScore cells { techniqueId name level score } } }
  }
`);

type Domain = 'ENTERPRISE' | 'MOBILE' | 'ICS';
const DOMAINS: Domain[] = ['ENTERPRISE', 'MOBILE', 'ICS'];

export function ThreatActorsPage() {
  const [domain, setDomain] = useState<Domain>('ENTERPRISE');
  const [search, setSearch] = useState('');
  const [{ data, error, fetching }] = useQuery({ query: GapsDocument, variables: { domain } });
  const needle = search.trim().toLowerCase();
  const actors = (data?.threatActorGaps ?? []).filter((actor) => !needle || actor.groupId.toLowerCase().includes(needle) || actor.name.toLowerCase().includes(needle));
  return (
    <div className="space-y-3">
      <PageTitle>Threat actors</PageTitle>
      <div className="card flex flex-wrap gap-3" role="search">
        <div><label className="label" htmlFor="actor-domain">Domain</label>
          <select id="actor-domain" className="input" value={domain} onChange={(e) => setDomain(e.target.value as Domain)}>
            {DOMAINS.map((name) => <option key={name} value={name}>{humanEnum(name)}</option>)}
          </select></div>
        <div><label className="label" htmlFor="actor-search">Group id or name</label><input id="actor-search" className="input" value={search} onChange={(e) => setSearch(e.target.value)} /></div>
      </div>
      <ErrorBox error={error} />
      {fetching && !data && <Loading what="threat actors" />}
      {data && actors.length === 0 && <Empty>No ATT&CK group{needle ? ' matches' : ' is loaded for this domain'}.</Empty>}
      {actors.length > 0 && (
        <table className="table card">
          <thead><tr><th>Group</th><th>Techniques</th><th>Covered</th><th>Partial</th><th>Untested</th><th>Average score</th></tr></thead>
          <tbody>{actors.map((actor) => (
            <tr key={actor.groupId}>
              <td><Link className="link" to={`/threat-actors/${actor.groupId}?domain=${domain}`}>{actor.groupId} {actor.name}</Link></td>
              <td>{actor.gaps.techniques}</td><td>{actor.gaps.covered}</td><td>{actor.gaps.partial}</td><td>{actor.gaps.untested}</td><td>{actor.gaps.averageScore ?? '—'}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}

const LEVEL_TONES: Record<string, 'green' | 'amber' | 'red'> = { COVERED: 'green', PARTIAL: 'amber', UNTESTED: 'red' };

export function ThreatActorPage() {
  const { id = '' } = useParams();
  const [params] = useSearchParams();
  const domain = (params.get('domain') ?? 'ENTERPRISE') as Domain;
  const [{ data, error, fetching }] = useQuery({ query: ThreatActorDocument, variables: { id, domain } });
  if (fetching && !data) return <Loading what={id} />;
  if (!data) return <ErrorBox error={error} />;
  const actor = data.threatActor;
  const gaps = data.threatActorGaps[0]?.gaps;
  if (!actor) return <Empty>No ATT&CK group {id}.</Empty>;
  return (
    <div className="space-y-3">
      <PageTitle actions={<Link className="btn" to={`/heatmap?domain=${domain}&threatActor=${actor.id}`}>Its techniques on the heatmap</Link>}>{actor.id} {actor.name}</PageTitle>
      {actor.aliases.length > 0 && <p className="text-sm text-slate-500">Also known as {actor.aliases.join(', ')}</p>}
      {actor.description && <p className="max-w-4xl whitespace-pre-line text-sm">{actor.description}</p>}
      {gaps && (
        <section className="card" aria-label="Coverage gap">
          <h2 className="font-semibold">Uses {gaps.techniques} techniques: we cover {gaps.covered}, partly {gaps.partial}, {gaps.untested} untested</h2>
          <ul className="mt-2 grid gap-1 sm:grid-cols-2 lg:grid-cols-3">{gaps.cells.map((cell) => (
            <li key={cell.techniqueId} className="text-sm"><Badge tone={LEVEL_TONES[cell.level] ?? 'red'}>{humanEnum(cell.level)}</Badge> {cell.techniqueId} {cell.name} {cell.score !== null && cell.score !== undefined ? `(${cell.score})` : ''}</li>
          ))}</ul>
        </section>
      )}
    </div>
  );
}
