import { useCallback } from 'react';
import { useClient } from 'urql';
import { graphql } from '../generated';
import type { TemplateOption, TemplateSearch } from '../components/TemplatePicker';

const SearchTemplatesDocument = graphql(`
  query SearchTemplates($filter: CatalogListFilter!) {
    templates(filter: $filter, first: 25) {
      nodes { scope id name techniques templatePlan { objective steps platforms } }
    }
  }
`);

const TECHNIQUE = /^T\d{4}(\.\d{3})?$/i;

/// Every template whose name or id contains the text, or that names the technique when the text is a
/// technique id (`templates`, first 25), each with the plan it gives (steps, objective, platforms).
export function useTemplateSearch(): TemplateSearch {
  const client = useClient();
  return useCallback(async (text: string) => {
    const filter = TECHNIQUE.test(text) ? { technique: text.toUpperCase() } : { search: text };
    const result = await client.query(SearchTemplatesDocument, { filter }).toPromise();
    if (result.error) return result.error;
    return (result.data?.templates.nodes ?? []).map(({ templatePlan, ...template }): TemplateOption => ({ ...template, plan: templatePlan }));
  }, [client]);
}
