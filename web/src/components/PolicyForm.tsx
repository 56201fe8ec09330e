import { useState, type FormEvent } from 'react';
import type { CombinedError } from 'urql';
import type { AggregationName, AttackDomain, PolicySettingsInput } from '../generated/graphql';
import { policyEffect, type RescoredCell } from '../lib/policyEffect';
import { ErrorBox } from './ui';

/// A policy as the scoring policies list shows it, to edit.
export interface PolicyToEdit {
  id: string;
  name: string;
  version: number;
  active: boolean;
  settings: {
    ruleWeight: number; telemetryWeight: number; prevalenceWeight: number; halfLifeDays?: number | null; aggregation: AggregationName;
    outcomeWeights: { blocked: number; alerted: number; logged: number; notDetected: number };
  };
}

/// What the form submits: `name` only when defining.
export interface PolicySubmission {
  name: string;
  settings: PolicySettingsInput;
  reason: string;
}

/// The answer to a preview: the cells side by side, or why there are none.
export type PreviewAnswer = { cells: readonly RescoredCell[] } | { error: CombinedError };

const DOMAINS: { value: AttackDomain; label: string }[] = [
  { value: 'ENTERPRISE', label: 'Enterprise' },
  { value: 'MOBILE', label: 'Mobile' },
  { value: 'ICS', label: 'ICS' },
];

/// Defines a new policy (inactive), or with `policy` replaces that policy's settings (a new version). Either
/// way "Preview" first shows what the settings as typed would do to the heatmap of a domain against the
/// policy in force (`previewScoringPolicy`, which stores nothing); the preview is marked out of date once a
/// setting changes after it.
export function PolicyForm({ policy, busy, error, onPreview, onSave }: {
  policy?: PolicyToEdit;
  busy: boolean;
  error?: CombinedError | null;
  onPreview: (settings: PolicySettingsInput, domain: AttackDomain) => Promise<PreviewAnswer>;
  onSave: (submission: PolicySubmission) => Promise<boolean>;
}) {
  const [name, setName] = useState('');
  const [reason, setReason] = useState('');
  const initial = policy?.settings;
  const [weights, setWeights] = useState(initial ? { ...initial.outcomeWeights } : { blocked: 100, alerted: 80, logged: 40, notDetected: 0 });
  const [ruleWeight, setRuleWeight] = useState(initial?.ruleWeight ?? 10);
  const [telemetryWeight, setTelemetryWeight] = useState(initial?.telemetryWeight ?? 10);
  const [prevalenceWeight, setPrevalenceWeight] = useState(initial?.prevalenceWeight ?? 0);
  const [halfLifeDays, setHalfLifeDays] = useState(initial ? String(initial.halfLifeDays ?? '') : '180');
  const [aggregation, setAggregation] = useState<AggregationName>(initial?.aggregation ?? 'AVERAGE');
  const [domain, setDomain] = useState<AttackDomain>('ENTERPRISE');
  const [preview, setPreview] = useState<{ key: string; domain: AttackDomain; answer: PreviewAnswer } | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const settings: PolicySettingsInput = {
    outcomeWeights: { ...weights }, ruleWeight, telemetryWeight, prevalenceWeight,
    halfLifeDays: halfLifeDays ? Number(halfLifeDays) : null, aggregation,
  };
  const key = JSON.stringify([settings, domain]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await onSave({ name, settings, reason })) {
      setName('');
      setReason('');
      setPreview(null);
    }
  };
  const runPreview = async () => {
    setPreviewing(true);
    try {
      setPreview({ key, domain, answer: await onPreview(settings, domain) });
    } finally {
      setPreviewing(false);
    }
  };
  const prefix = policy ? `edit-${policy.id}-` : '';
  const number = (id: string, label: string, value: number, set: (value: number) => void) => (
    <div><label className="label" htmlFor={prefix + id}>{label}</label><input id={prefix + id} type="number" min={0} max={100} className="input" value={value} onChange={(e) => set(Number(e.target.value))} /></div>
  );
  return (
    <form className="card grid gap-3 sm:grid-cols-4" aria-label={policy ? `Edit ${policy.name}` : 'Define scoring policy'} onSubmit={submit}>
      <h3 className="font-semibold sm:col-span-4">{policy ? `Edit ${policy.name} (now version ${policy.version})` : 'Define a policy (inactive until activated)'}</h3>
      {policy?.active && <p className="text-sm text-amber-700 sm:col-span-4 dark:text-amber-300">This policy is active: saving re-scores every technique at once. Preview the effect before saving.</p>}
      {!policy && <div className="sm:col-span-2"><label className="label" htmlFor="policy-name">Name</label><input id="policy-name" className="input" required value={name} onChange={(e) => setName(e.target.value)} /></div>}
      <div className="sm:col-span-2"><label className="label" htmlFor={`${prefix}policy-reason`}>Reason</label><input id={`${prefix}policy-reason`} className="input" required value={reason} onChange={(e) => setReason(e.target.value)} /></div>
      {number('w-blocked', 'Blocked', weights.blocked, (blocked) => setWeights({ ...weights, blocked }))}
      {number('w-alerted', 'Alerted', weights.alerted, (alerted) => setWeights({ ...weights, alerted }))}
      {number('w-logged', 'Logged', weights.logged, (logged) => setWeights({ ...weights, logged }))}
      {number('w-not-detected', 'Not detected', weights.notDetected, (notDetected) => setWeights({ ...weights, notDetected }))}
      {number('w-rules', 'Deployed rules bonus', ruleWeight, setRuleWeight)}
      {number('w-telemetry', 'Telemetry bonus', telemetryWeight, setTelemetryWeight)}
      {number('w-prevalence', 'Prevalence weight (%)', prevalenceWeight, setPrevalenceWeight)}
      <div><label className="label" htmlFor={`${prefix}policy-half-life`}>Half-life (days, empty: never fades)</label><input id={`${prefix}policy-half-life`} type="number" min={1} max={3650} className="input" value={halfLifeDays} onChange={(e) => setHalfLifeDays(e.target.value)} /></div>
      <div><label className="label" htmlFor={`${prefix}policy-aggregation`}>Sub-techniques roll up by</label>
        <select id={`${prefix}policy-aggregation`} className="input" value={aggregation} onChange={(e) => setAggregation(e.target.value as AggregationName)}>
          <option value="AVERAGE">average</option><option value="MAX">best</option><option value="MIN">weakest</option>
        </select></div>
      <div><label className="label" htmlFor={`${prefix}policy-preview-domain`}>Preview on</label>
        <select id={`${prefix}policy-preview-domain`} className="input" value={domain} onChange={(e) => setDomain(e.target.value as AttackDomain)}>
          {DOMAINS.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
        </select></div>
      <div className="sm:col-span-4"><ErrorBox error={error} /></div>
      {preview && (
        <div className="sm:col-span-4">
          {preview.key !== key && <p role="status" className="mb-1 text-sm text-amber-700 dark:text-amber-300">The settings changed since this preview: preview again to see their effect.</p>}
          {'error' in preview.answer
            ? <ErrorBox error={preview.answer.error} />
            : <PolicyEffectView cells={preview.answer.cells} label={`Preview on ${DOMAINS.find((option) => option.value === preview.domain)?.label}`} />}
        </div>
      )}
      <div className="flex gap-2 sm:col-span-4">
        <button className="btn" type="button" disabled={previewing} onClick={runPreview}>{previewing ? 'Previewing…' : 'Preview'}</button>
        <button className="btn-primary" type="submit" disabled={busy}>{policy ? 'Save new version' : 'Define policy'}</button>
      </div>
    </form>
  );
}

/// The cells whose score moves, in force → under the other settings, with the counts a reviewer asks for
/// first.
export function PolicyEffectView({ cells, label }: { cells: readonly RescoredCell[]; label: string }) {
  const effect = policyEffect(cells);
  return (
    <section className="card text-sm" aria-label={label}>
      <h3 className="font-semibold">{effect.changed.length} techniques would score differently; mean score {effect.meanBefore ?? '—'} → {effect.meanAfter ?? '—'}</h3>
      <p className="text-slate-500">{effect.gained} gained, {effect.lost} lost, {effect.raised} raised, {effect.lowered} lowered (of {cells.length}).</p>
      <ul className="mt-1 grid gap-1 sm:grid-cols-3">{effect.changed.slice(0, 60).map((cell) => <li key={cell.techniqueId}>{cell.techniqueId}: {cell.score ?? '–'} → {cell.rescored ?? '–'}</li>)}</ul>
      {effect.changed.length > 60 && <p className="text-slate-500">…and {effect.changed.length - 60} more.</p>}
    </section>
  );
}
