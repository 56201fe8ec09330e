import { useEffect, useRef } from 'react';
import { Link } from 'react-router-dom';
import { useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, ErrorBox, Loading } from './ui';
import { formatTime, humanEnum, humanState } from '../lib/format';

const TechniqueDrawerDocument = graphql(`
  query TechniqueDrawer($id: String!, $domain: AttackDomain!, $asOf: DateTime, $policyId: UUID) {
    technique(id: $id, asOf: $asOf) {
      id name description url platforms tactics isSubTechnique parent
      mitigations { id name }
      countermeasures { id name }
      controls { id name scope }
      templates { id name scope }
      detectionRules { id name scope deployment { deployed } }
    }
    explainCoverage(techniqueId: $id, domain: $domain, asOf: $asOf, policyId: $policyId) {
      at
      policy { policyId version }
      cell { score ownScore stale deployedRules telemetryVisibility actorPrevalence lastValidatedAt testsByOutcome { outcome procedures } }
      terms { outcomePoints rulePoints telemetryPoints subtotal prevalencePenalty total score outcomes { outcome validatedAt weight retainedPpm pointsHundredths } }
      validations { testCaseId run procedure outcome validatedAt globalPosition counts }
      rules { source ruleId deployedAt }
    }
    testCases(filter: { technique: $id }, first: 20) { nodes { id title state outcome run } }
  }
`);

const LIST_LIMIT = 8;

/// The side panel for one cell: what ATT&CK says, why the cell scores what it does (the events and terms
/// behind it), the tests and rules, and what else counters the technique.
export function TechniqueDrawer({ techniqueId, domain, asOf, policyId, onClose }: {
  techniqueId: string;
  domain: 'ENTERPRISE' | 'MOBILE' | 'ICS';
  asOf: string | null;
  policyId: string | null;
  onClose: () => void;
}) {
  const [{ data, error, fetching }] = useQuery({ query: TechniqueDrawerDocument, variables: { id: techniqueId, domain, asOf, policyId } });
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [techniqueId, onClose]);

  const technique = data?.technique;
  const explanation = data?.explainCoverage;
  return (
    <aside role="dialog" aria-label={`Technique ${techniqueId}`} className="card sticky top-2 max-h-[calc(100vh-1rem)] w-[26rem] shrink-0 overflow-y-auto text-sm">
      <div className="mb-2 flex items-start justify-between gap-2">
        <h2 className="text-lg font-semibold">{techniqueId} {technique?.name}</h2>
        <button ref={closeButton} className="btn" onClick={onClose} aria-label="Close technique details">✕</button>
      </div>
      {fetching && !data && <Loading what={techniqueId} />}
      <ErrorBox error={error} />
      {technique && (
        <>
          <div className="mb-2 flex flex-wrap gap-1">
            {technique.tactics.map((tactic) => <Badge key={tactic}>{tactic}</Badge>)}
            {technique.platforms.map((platform) => <Badge key={platform} tone="blue">{platform}</Badge>)}
          </div>
          {technique.description && <p className="mb-3 line-clamp-6 whitespace-pre-line text-slate-600 dark:text-slate-300">{technique.description}</p>}
          {technique.url && <a className="link" href={technique.url} rel="noreferrer noopener" target="_blank">ATT&CK page</a>}
        </>
      )}
      {explanation && (
        <section className="mt-3" aria-label="Explain this score">
          <h3 className="font-semibold">Score {explanation.cell.score ?? 'untested'}{explanation.cell.stale ? ' (stale)' : ''}</h3>
          <p className="text-xs text-slate-500">
            As of {formatTime(explanation.at)}, {explanation.policy.policyId ? `policy version ${explanation.policy.version}` : 'default scoring'};
            {' '}{explanation.cell.deployedRules} rules deployed, telemetry {humanEnum(explanation.cell.telemetryVisibility)}
            {explanation.cell.actorPrevalence !== null && explanation.cell.actorPrevalence !== undefined ? `, used by ${explanation.cell.actorPrevalence}% of groups` : ''}.
          </p>
          {explanation.terms && (
            <table className="table mt-1">
              <tbody>
                <tr><td>Outcomes</td><td className="text-right">{explanation.terms.outcomePoints}</td></tr>
                <tr><td>Deployed rules</td><td className="text-right">{explanation.terms.rulePoints}</td></tr>
                <tr><td>Telemetry</td><td className="text-right">{explanation.terms.telemetryPoints}</td></tr>
                <tr><td>Prevalence penalty</td><td className="text-right">−{explanation.terms.prevalencePenalty}</td></tr>
                <tr className="font-semibold"><td>Score</td><td className="text-right">{explanation.terms.score}</td></tr>
              </tbody>
            </table>
          )}
          <h4 className="mt-2 font-semibold">Timeline of approvals</h4>
          {explanation.validations.length === 0 ? <p className="text-slate-500">No approved run yet.</p> : (
            <ol className="mt-1 space-y-1 border-l border-slate-300 pl-3 dark:border-slate-700">
              {explanation.validations.map((validation) => (
                <li key={validation.globalPosition}>
                  <span className="text-xs text-slate-500">{formatTime(validation.validatedAt)}</span>{' '}
                  <Link className="link" to={`/test-cases/${validation.testCaseId}`}>run {validation.run}</Link>{' '}
                  {humanEnum(validation.outcome)} {validation.counts ? '' : <span className="text-xs text-slate-500">(superseded)</span>}
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
      {data && (
        <section className="mt-3">
          <div className="flex items-center justify-between">
            <h3 className="font-semibold">Test cases</h3>
            <Link className="link text-xs" to={`/test-cases/new?technique=${encodeURIComponent(techniqueId)}`}>Plan a test</Link>
          </div>
          {data.testCases.nodes.length === 0 ? <p className="text-slate-500">None yet.</p> : (
            <ul>{data.testCases.nodes.map((test) => (
              <li key={test.id}><Link className="link" to={`/test-cases/${test.id}`}>{test.title}</Link> — {humanState(test.state)}{test.outcome ? `, ${humanEnum(test.outcome)}` : ''}</li>
            ))}</ul>
          )}
        </section>
      )}
      {technique && (
        <>
          <ItemList title="Detection rules" items={technique.detectionRules.map((rule) => ({ id: `${rule.scope}:${rule.id}`, name: `${rule.name}${rule.deployment?.deployed ? ' — deployed' : ''}` }))} />
          <ItemList title="Templates" items={technique.templates.map((template) => ({ id: `${template.scope}:${template.id}`, name: `${template.scope}: ${template.name}` }))} />
          <ItemList title="D3FEND countermeasures" items={technique.countermeasures} />
          <ItemList title="Mitigations" items={technique.mitigations} />
          <ItemList title="Compliance controls" items={technique.controls.map((control) => ({ id: `${control.scope}:${control.id}`, name: `${control.id} ${control.name}` }))} />
        </>
      )}
    </aside>
  );
}

function ItemList({ title, items }: { title: string; items: { id: string; name: string }[] }) {
  return (
    <details className="mt-3">
      <summary className="cursor-pointer font-semibold">{title} ({items.length})</summary>
      {items.length === 0 ? <p className="text-slate-500">None in the catalog.</p> : (
        <ul className="mt-1 list-disc pl-5">
          {items.slice(0, LIST_LIMIT * 5).map((item) => <li key={item.id}>{item.name}</li>)}
        </ul>
      )}
    </details>
  );
}
