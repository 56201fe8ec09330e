import { useState, type FormEvent } from 'react';
import type { WorkflowAction } from '../lib/workflow';

export type SimpleStep = 'startExecution' | 'completeExecution' | 'startReview' | 'submitForApproval' | 'approveResult' | 'pause' | 'resume' | 'revealToBlue';
export type ReasonStep = 'rejectResult' | 'abandon' | 'reopen';

const SIMPLE: [SimpleStep, string][] = [
  ['startExecution', 'Start execution'],
  ['completeExecution', 'Complete execution'],
  ['startReview', 'Start review'],
  ['submitForApproval', 'Submit for approval'],
  ['approveResult', 'Approve result'],
  ['revealToBlue', 'Reveal to blue'],
  ['pause', 'Pause'],
  ['resume', 'Resume'],
];

const WITH_REASON: [ReasonStep, string][] = [
  ['rejectResult', 'Reject…'],
  ['reopen', 'Reopen for a re-test…'],
  ['abandon', 'Abandon…'],
];

/// The workflow steps the viewer may take now, and nothing else. Steps that need a reason open a small form.
export function WorkflowButtons({ allowed, busy, onStep, onReasonStep }: {
  allowed: Set<WorkflowAction>;
  busy: boolean;
  onStep: (step: SimpleStep) => void;
  onReasonStep: (step: ReasonStep, reason: string, backTo: 'RED' | 'BLUE') => void;
}) {
  const [open, setOpen] = useState<ReasonStep | null>(null);
  const [reason, setReason] = useState('');
  const [backTo, setBackTo] = useState<'RED' | 'BLUE'>('BLUE');
  const simple = SIMPLE.filter(([step]) => allowed.has(step));
  const withReason = WITH_REASON.filter(([step]) => allowed.has(step));
  if (simple.length === 0 && withReason.length === 0) {
    return <p className="text-sm text-slate-500" data-testid="no-actions">No workflow step is yours to take now.</p>;
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!open || !reason.trim()) return;
    onReasonStep(open, reason.trim(), backTo);
    setOpen(null);
    setReason('');
  };
  return (
    <div className="space-y-2" aria-label="Workflow actions" role="group">
      <div className="flex flex-wrap gap-2">
        {simple.map(([step, label]) => (
          <button key={step} className={step === 'approveResult' ? 'btn-primary' : 'btn'} disabled={busy} onClick={() => onStep(step)}>{label}</button>
        ))}
        {withReason.map(([step, label]) => (
          <button key={step} className={step === 'abandon' ? 'btn-danger' : 'btn'} disabled={busy} aria-expanded={open === step} onClick={() => setOpen(open === step ? null : step)}>{label}</button>
        ))}
      </div>
      {open && (
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="Give a reason">
          <div className="min-w-64 flex-1">
            <label className="label" htmlFor="workflow-reason">Reason</label>
            <input id="workflow-reason" className="input" required autoFocus value={reason} onChange={(e) => setReason(e.target.value)} />
          </div>
          {open === 'rejectResult' && (
            <div>
              <label className="label" htmlFor="workflow-back-to">Back to</label>
              <select id="workflow-back-to" className="input" value={backTo} onChange={(e) => setBackTo(e.target.value as 'RED' | 'BLUE')}>
                <option value="BLUE">Blue (review again)</option>
                <option value="RED">Red (execute again)</option>
              </select>
            </div>
          )}
          <button className="btn-primary" type="submit" disabled={busy || !reason.trim()}>Confirm</button>
          <button className="btn" type="button" onClick={() => setOpen(null)}>Cancel</button>
        </form>
      )}
    </div>
  );
}
