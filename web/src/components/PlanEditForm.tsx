import { useState, type FormEvent } from 'react';
import type { PlanInput, ProcedureKind } from '../generated/graphql';
import { PROCEDURE_KIND_OF_LIBRARY, TemplatePicker, type TemplateOption, type TemplateSearch } from './TemplatePicker';

const PROCEDURE_KINDS: readonly ProcedureKind[] = ['ATOMIC_TEST', 'CALDERA_ABILITY', 'LOLBAS', 'GTFOBINS', 'MANUAL'];

/// The plan as the test case shows it, which is what `editTestCasePlan` replaces as a whole.
export interface ShownPlan {
  title: string;
  objective?: string | null;
  technique: string;
  /// Null when redacted (a blind test seen by blue), which never reaches this form.
  procedure?: string | null;
  steps?: string | null;
  platforms?: readonly string[] | null;
  targets?: readonly string[] | null;
  tags?: readonly string[] | null;
  blind: boolean;
}

/// The read side's `procedure` text (`MANUAL`, `ATOMIC_TEST:<guid>`, …) back as the input it came from, so
/// an edit keeps the procedure; null for a text this client does not know (then it does not offer editing).
export function procedureInputOf(text: string): PlanInput['procedure'] | null {
  const [kind, ...rest] = text.split(':');
  if (!PROCEDURE_KINDS.includes(kind as ProcedureKind)) return null;
  const reference = rest.join(':');
  if (kind === 'MANUAL') return reference ? null : { kind: 'MANUAL' };
  return reference ? { kind: kind as ProcedureKind, reference } : null;
}

const splitList = (text: string) => text.split(',').map((item) => item.trim()).filter(Boolean);

/// The procedure input as the read side writes it (`ATOMIC_TEST:<guid>`).
function procedureText(procedure: PlanInput['procedure']): string {
  return procedure.reference ? `${procedure.kind}:${procedure.reference}` : procedure.kind;
}

/// The fields a template's plan replaces, as they were written before (to be put back).
interface WrittenPlan { objective: string; steps: string; platforms: string }

/// Edits a plan before execution (leads; `allowedActions` says when); every field is the form's, sent whole.
/// The procedure stays as planned unless the lead writes it by hand instead or picks another catalog
/// template (`searchTemplates`). A template also brings its steps, objective and platforms, as planning from it
/// does (`templatePlan`), in place of what was written, which "Keep the planned procedure" puts back; writing
/// by hand instead keeps the fields as they are, to be edited.
export function PlanEditForm({ plan, busy, onSave, onCancel, searchTemplates }: {
  plan: ShownPlan;
  busy: boolean;
  onSave: (plan: PlanInput) => Promise<boolean>;
  onCancel: () => void;
  searchTemplates?: TemplateSearch;
}) {
  const planned = procedureInputOf(plan.procedure ?? '');
  const [procedure, setProcedure] = useState(planned);
  const [procedureNote, setProcedureNote] = useState<string | null>(null);
  const [title, setTitle] = useState(plan.title);
  const [objective, setObjective] = useState(plan.objective ?? '');
  const [technique, setTechnique] = useState(plan.technique);
  const [steps, setSteps] = useState(plan.steps ?? '');
  const [platforms, setPlatforms] = useState((plan.platforms ?? []).join(', '));
  const [targets, setTargets] = useState((plan.targets ?? []).join(', '));
  const [tags, setTags] = useState((plan.tags ?? []).join(', '));
  const [blind, setBlind] = useState(plan.blind);
  // What was written before the first template replaced it, to put back with the planned procedure.
  const [writtenBeforeTemplate, setWrittenBeforeTemplate] = useState<WrittenPlan | null>(null);
  if (!planned || !procedure) return <p className="text-sm text-slate-500">This plan's procedure ({plan.procedure}) is not one this page can keep, so it cannot be edited here.</p>;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = await onSave({
      title, objective, technique, procedure, steps,
      platforms: splitList(platforms), targets: splitList(targets), tags: splitList(tags), blind,
    });
    if (saved) onCancel();
  };
  const validTechnique = /^T\d{4}(\.\d{3})?$/.test(technique);
  const pickTemplate = (template: TemplateOption) => {
    const kind = PROCEDURE_KIND_OF_LIBRARY[template.scope];
    if (!kind) return;
    setProcedure({ kind, reference: template.id });
    if (template.plan) {
      if (!writtenBeforeTemplate) setWrittenBeforeTemplate({ objective, steps, platforms });
      // A template without a command or a description leaves those as written rather than blank.
      if (template.plan.steps.trim()) setSteps(template.plan.steps);
      if (template.plan.objective.trim()) setObjective(template.plan.objective);
      if (template.plan.platforms.length > 0) setPlatforms(template.plan.platforms.join(', '));
    }
    const own = template.techniques.some((item) => item.toUpperCase() === technique);
    if (!own && template.techniques.length > 0) {
      setTechnique(template.techniques[0]);
      setProcedureNote(`${template.name}. The technique is now ${template.techniques[0]}, the template's (${technique} is not one of its).`);
    } else {
      setProcedureNote(template.name);
    }
  };
  const keepPlanned = () => {
    setProcedure(planned);
    setProcedureNote(null);
    if (writtenBeforeTemplate) {
      setObjective(writtenBeforeTemplate.objective);
      setSteps(writtenBeforeTemplate.steps);
      setPlatforms(writtenBeforeTemplate.platforms);
      setWrittenBeforeTemplate(null);
    }
  };
  const changed = procedureText(procedure) !== procedureText(planned);
  const fromTemplate = procedure.kind !== 'MANUAL' && writtenBeforeTemplate !== null;
  return (
    <form className="mt-2 space-y-2 text-sm" aria-label="Edit plan" onSubmit={submit}>
      <div><label className="label" htmlFor="edit-title">Title</label><input id="edit-title" className="input w-full" required value={title} onChange={(e) => setTitle(e.target.value)} /></div>
      <div><label className="label" htmlFor="edit-technique">ATT&CK technique</label><input id="edit-technique" className="input" required value={technique} onChange={(e) => setTechnique(e.target.value.trim().toUpperCase())} /></div>
      <div><label className="label" htmlFor="edit-objective">Objective</label><textarea id="edit-objective" className="input w-full" rows={2} value={objective} onChange={(e) => setObjective(e.target.value)} /></div>
      <div><label className="label" htmlFor="edit-steps">Steps</label><textarea id="edit-steps" className="input w-full" rows={4} required value={steps} onChange={(e) => setSteps(e.target.value)} /></div>
      <div><label className="label" htmlFor="edit-platforms">Platforms (comma-separated)</label><input id="edit-platforms" className="input w-full" value={platforms} onChange={(e) => setPlatforms(e.target.value)} /></div>
      <div><label className="label" htmlFor="edit-targets">Targets (comma-separated)</label><input id="edit-targets" className="input w-full" value={targets} onChange={(e) => setTargets(e.target.value)} /></div>
      <div><label className="label" htmlFor="edit-tags">Tags (comma-separated)</label><input id="edit-tags" className="input w-full" value={tags} onChange={(e) => setTags(e.target.value)} /></div>
      <label className="flex items-center gap-2"><input type="checkbox" checked={blind} onChange={(e) => setBlind(e.target.checked)} /> Blind test</label>
      <fieldset className="space-y-1 rounded border border-slate-200 p-2 dark:border-slate-700">
        <legend className="label px-1">Procedure</legend>
        <p role="status" className="text-xs">
          {procedureText(procedure)} {changed ? `(was ${plan.procedure})` : '(as planned)'}{procedureNote && changed ? `: ${procedureNote}` : ''}
          {fromTemplate && ' The steps, objective and platforms above are the template’s now; edit them before saving, or keep the planned procedure to put back what was written.'}
        </p>
        <div className="flex flex-wrap gap-2">
          {procedure.kind !== 'MANUAL' && <button type="button" className="btn" onClick={() => { setProcedure({ kind: 'MANUAL' }); setProcedureNote(null); }}>Write by hand instead</button>}
          {(changed || writtenBeforeTemplate) && <button type="button" className="btn" onClick={keepPlanned}>Keep the planned procedure</button>}
        </div>
        {searchTemplates && <TemplatePicker idPrefix="edit-" search={searchTemplates} onPick={pickTemplate} />}
      </fieldset>
      <div className="flex gap-2">
        <button className="btn-primary" type="submit" disabled={busy || !validTechnique}>Save plan</button>
        <button className="btn" type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
