import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { ErrorBox, PageTitle } from '../components/ui';
import { TemplatePicker, type TemplateOption } from '../components/TemplatePicker';
import { useTemplateSearch } from '../lib/templateSearch';

const PlanTestCaseDocument = graphql(`
  mutation PlanTestCase($plan: PlanInput!) { planTestCase(plan: $plan) { id } }
`);

const PlanFromTemplateDocument = graphql(`
  mutation PlanTestCaseFromTemplate($library: String!, $templateId: String!, $plan: TemplatePlanInput!) {
    planTestCaseFromTemplate(library: $library, templateId: $templateId, plan: $plan) { id }
  }
`);

const TemplatesForTechniqueDocument = graphql(`
  query TemplatesForTechnique($technique: String!) {
    templates(filter: { technique: $technique }, first: 50) { nodes { id name scope techniques } }
  }
`);

const splitList = (text: string) => text.split(',').map((item) => item.trim()).filter(Boolean);

/// Plans a test case by hand or from a catalog template: one of the chosen technique's, or any found by the
/// search (then the technique becomes the template's when it is not one of them, as the server requires).
export function PlanTestCasePage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [technique, setTechnique] = useState(params.get('technique') ?? '');
  const [title, setTitle] = useState('');
  const [objective, setObjective] = useState('');
  const [steps, setSteps] = useState('');
  const [platforms, setPlatforms] = useState('windows');
  const [tags, setTags] = useState('');
  const [blind, setBlind] = useState(false);
  const [template, setTemplate] = useState(params.get('template') ?? '');
  const [manual, planManual] = useMutation(PlanTestCaseDocument);
  const [fromTemplate, planFromTemplate] = useMutation(PlanFromTemplateDocument);
  const validTechnique = /^T\d{4}(\.\d{3})?$/.test(technique);
  const [{ data: templates }] = useQuery({ query: TemplatesForTechniqueDocument, variables: { technique }, pause: !validTechnique });
  const searchTemplates = useTemplateSearch();
  const [picked, setPicked] = useState<TemplateOption | null>(null);
  const [techniqueNote, setTechniqueNote] = useState<string | null>(null);
  const ownTemplates = templates?.templates.nodes ?? [];
  const templateOptions = picked && !ownTemplates.some((item) => item.scope === picked.scope && item.id === picked.id) ? [picked, ...ownTemplates] : ownTemplates;
  const pick = (chosen: TemplateOption) => {
    setPicked(chosen);
    setTemplate(`${chosen.scope}:${chosen.id}`);
    const own = chosen.techniques.some((item) => item.toUpperCase() === technique);
    if (!own && chosen.techniques.length > 0) {
      setTechnique(chosen.techniques[0]);
      setTechniqueNote(`The technique is now ${chosen.techniques[0]}, the template's${technique ? ` (${technique} is not one of its techniques)` : ''}.`);
    } else {
      setTechniqueNote(null);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (template) {
      const [library, ...rest] = template.split(':');
      const result = await planFromTemplate({
        library, templateId: rest.join(':'),
        plan: { technique, title: title || null, targets: [], tags: splitList(tags), blind },
      });
      if (result.data) navigate(`/test-cases/${result.data.planTestCaseFromTemplate.id}`);
      return;
    }
    const result = await planManual({
      plan: { title, objective, technique, procedure: { kind: 'MANUAL' }, steps, platforms: splitList(platforms), targets: [], tags: splitList(tags), blind },
    });
    if (result.data) navigate(`/test-cases/${result.data.planTestCase.id}`);
  };

  return (
    <div className="max-w-2xl">
      <PageTitle>Plan a test case</PageTitle>
      <form className="card space-y-3" onSubmit={submit} aria-label="Plan a test case">
        <div>
          <label className="label" htmlFor="plan-technique">ATT&CK technique</label>
          <input id="plan-technique" className="input" required placeholder="T1003.001" value={technique} onChange={(e) => { setTechnique(e.target.value.trim().toUpperCase()); setTechniqueNote(null); }} />
          {techniqueNote && <p role="status" className="mt-1 text-xs text-slate-500">{techniqueNote}</p>}
        </div>
        <div>
          <label className="label" htmlFor="plan-template">Procedure</label>
          <select id="plan-template" className="input" value={template} onChange={(e) => setTemplate(e.target.value)}>
            <option value="">Written by hand</option>
            {templateOptions.map((item) => <option key={`${item.scope}:${item.id}`} value={`${item.scope}:${item.id}`}>{item.scope}: {item.name}</option>)}
          </select>
        </div>
        <TemplatePicker idPrefix="plan-" search={searchTemplates} onPick={pick} />
        <div>
          <label className="label" htmlFor="plan-title">Title{template ? ' (optional: the template’s name otherwise)' : ''}</label>
          <input id="plan-title" className="input" required={!template} value={title} onChange={(e) => setTitle(e.target.value)} />
        </div>
        {!template && <>
          <div>
            <label className="label" htmlFor="plan-objective">Objective</label>
            <textarea id="plan-objective" className="input" rows={2} value={objective} onChange={(e) => setObjective(e.target.value)} />
          </div>
          <div>
            <label className="label" htmlFor="plan-steps">Steps</label>
            <textarea id="plan-steps" className="input" rows={4} required value={steps} onChange={(e) => setSteps(e.target.value)} />
          </div>
          <div>
            <label className="label" htmlFor="plan-platforms">Platforms (comma-separated)</label>
            <input id="plan-platforms" className="input" value={platforms} onChange={(e) => setPlatforms(e.target.value)} />
          </div>
        </>}
        <div>
          <label className="label" htmlFor="plan-tags">Tags (comma-separated)</label>
          <input id="plan-tags" className="input" value={tags} onChange={(e) => setTags(e.target.value)} />
        </div>
        <label className="flex items-center gap-2 text-sm"><input type="checkbox" checked={blind} onChange={(e) => setBlind(e.target.checked)} /> Blind test (hidden from blue until revealed)</label>
        <ErrorBox error={manual.error ?? fromTemplate.error} />
        <button className="btn-primary" type="submit" disabled={manual.fetching || fromTemplate.fetching || !validTechnique}>Plan test case</button>
      </form>
    </div>
  );
}
