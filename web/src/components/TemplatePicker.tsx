import { useEffect, useState } from 'react';
import { CombinedError } from 'urql';
import type { ProcedureKind } from '../generated/graphql';
import { ErrorBox } from './ui';

/// A catalog template as the picker lists it.
export interface TemplateOption {
  /// The library: atomic, caldera, lolbas or gtfobins.
  scope: string;
  id: string;
  name: string;
  techniques: readonly string[];
  /// What a plan from the template takes (`templatePlan`, as `planTestCaseFromTemplate` plans it), when asked for.
  plan?: { objective: string; steps: string; platforms: readonly string[] } | null;
}

/// The procedure kind a template of each library plans (`planTestCaseFromTemplate` does the same).
export const PROCEDURE_KIND_OF_LIBRARY: Record<string, ProcedureKind> = {
  atomic: 'ATOMIC_TEST',
  caldera: 'CALDERA_ABILITY',
  lolbas: 'LOLBAS',
  gtfobins: 'GTFOBINS',
};

export type TemplateSearch = (text: string) => Promise<readonly TemplateOption[] | CombinedError>;

/// How long typing must pause before the catalog is asked.
const SEARCH_DELAY_MS = 250;

/// Searches every template of the catalog by name, id or ATT&CK technique (`T1003`), not only the
/// technique's own, and hands the chosen one to `onPick`.
export function TemplatePicker({ idPrefix, search, onPick }: {
  idPrefix: string;
  search: TemplateSearch;
  onPick: (template: TemplateOption) => void;
}) {
  const [text, setText] = useState('');
  const [found, setFound] = useState<{ text: string; answer: readonly TemplateOption[] | CombinedError } | null>(null);
  const wanted = text.trim();
  useEffect(() => {
    if (wanted.length < 2) return undefined;
    let current = true;
    const timer = setTimeout(() => {
      search(wanted).then((answer) => { if (current) setFound({ text: wanted, answer }); });
    }, SEARCH_DELAY_MS);
    return () => { current = false; clearTimeout(timer); };
  }, [wanted, search]);
  const answer = found && found.text === wanted ? found.answer : null;
  return (
    <div className="space-y-1">
      <label className="label" htmlFor={`${idPrefix}template-search`}>Search all templates (name, id or technique)</label>
      <input id={`${idPrefix}template-search`} type="search" className="input w-full" placeholder="rundll32, T1003…" value={text} onChange={(e) => setText(e.target.value)} />
      {answer instanceof CombinedError && <ErrorBox error={answer} />}
      {Array.isArray(answer) && (answer.length === 0
        ? <p role="status" className="text-sm text-slate-500">No template matches “{wanted}”.</p>
        : (
          <ul aria-label="Templates found" className="max-h-56 space-y-1 overflow-y-auto text-sm">
            {answer.map((template) => (
              <li key={`${template.scope}:${template.id}`} className="flex items-center justify-between gap-2">
                <span>{template.scope}: {template.name} <span className="text-xs text-slate-500">{template.techniques.join(', ')}</span></span>
                <button type="button" className="btn" aria-label={`Use ${template.scope} template ${template.name}`} onClick={() => { onPick(template); setText(''); }}>Use</button>
              </li>
            ))}
          </ul>
        ))}
    </div>
  );
}
