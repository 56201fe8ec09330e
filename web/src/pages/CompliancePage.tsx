import { useState } from 'react';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { formatTime, fromLocalInput, toLocalInput } from '../lib/format';

const FrameworksDocument = graphql(`
  query ComplianceFrameworks { complianceFrameworks(first: 100) { nodes { id name } } }
`);

const ComplianceDocument = graphql(`
  query ComplianceCoverage($framework: String!, $asOf: DateTime) {
    complianceCoverage(framework: $framework, asOf: $asOf) {
      controlId name title
      gaps { techniques covered partial untested averageScore cells { techniqueId name level score } }
    }
  }
`);

/// Framework → controls → the coverage of their mapped techniques, now or as of an audit date; prints clean.
export function CompliancePage() {
  const [{ data: frameworks, error: frameworksError }] = useQuery({ query: FrameworksDocument });
  const [framework, setFramework] = useState('');
  const [asOf, setAsOf] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const chosen = framework || frameworks?.complianceFrameworks.nodes[0]?.id || '';
  const [{ data, error, fetching }] = useQuery({ query: ComplianceDocument, variables: { framework: chosen, asOf: fromLocalInput(asOf) }, pause: !chosen });
  const controls = data?.complianceCoverage ?? [];
  return (
    <div className="space-y-3">
      <PageTitle actions={<button className="btn no-print" onClick={() => window.print()}>Print</button>}>Compliance</PageTitle>
      <div className="card no-print flex flex-wrap gap-3">
        <div><label className="label" htmlFor="compliance-framework">Framework</label>
          <select id="compliance-framework" className="input" value={chosen} onChange={(e) => setFramework(e.target.value)}>
            {(frameworks?.complianceFrameworks.nodes ?? []).map((item) => <option key={item.id} value={item.id}>{item.name || item.id}</option>)}
          </select></div>
        <div><label className="label" htmlFor="compliance-asof">As of (audit date)</label>
          <input id="compliance-asof" type="datetime-local" className="input" value={asOf} max={toLocalInput(new Date())} onChange={(e) => setAsOf(e.target.value)} /></div>
      </div>
      <p className="text-sm">{chosen} as of {asOf ? formatTime(fromLocalInput(asOf)) : 'now'}</p>
      <ErrorBox error={frameworksError ?? error} />
      {frameworks && frameworks.complianceFrameworks.nodes.length === 0 && <Empty>No compliance framework is loaded: `aegis import ctid …` brings the CTID mappings.</Empty>}
      {fetching && !data && <Loading what="controls" />}
      {controls.length > 0 && (
        <table className="table card">
          <thead><tr><th>Control</th><th>Techniques</th><th>Covered</th><th>Partial</th><th>Untested</th><th>Average</th></tr></thead>
          <tbody>{controls.map((control) => (
            <tr key={control.controlId}>
              <td>
                <button className="link text-left" aria-expanded={open === control.controlId} onClick={() => setOpen(open === control.controlId ? null : control.controlId)}>
                  {control.controlId} {control.title ?? control.name}
                </button>
                {open === control.controlId && (
                  <ul className="mt-1 text-xs">{control.gaps.cells.map((cell) => <li key={cell.techniqueId}>{cell.techniqueId} {cell.name}: {cell.level.toLowerCase()}{cell.score !== null && cell.score !== undefined ? ` (${cell.score})` : ''}</li>)}</ul>
                )}
              </td>
              <td>{control.gaps.techniques}</td><td>{control.gaps.covered}</td><td>{control.gaps.partial}</td><td>{control.gaps.untested}</td><td>{control.gaps.averageScore ?? '—'}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </div>
  );
}
