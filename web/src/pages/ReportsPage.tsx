import { useState } from 'react';
import { useClient, useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { ErrorBox, PageTitle, download } from '../components/ui';
import { describeError } from '../lib/errors';
import { fromLocalInput } from '../lib/format';

const ReportChoicesDocument = graphql(`query ReportChoices { campaigns(first: 100) { nodes { id name } } }`);
const ReportDocument = graphql(`
  query Report($campaignId: UUID, $domain: AttackDomain!, $asOf: DateTime, $actor: String, $format: ReportFormat!) {
    report(campaignId: $campaignId, domain: $domain, asOf: $asOf, actor: $actor, format: $format)
  }
`);
const ExportTestCasesDocument = graphql(`query ExportTestCases($format: ExportFormat!, $campaignId: UUID) { exportTestCases(format: $format, campaignId: $campaignId) }`);
const ExportCampaignsDocument = graphql(`query ExportCampaigns($format: ExportFormat!, $campaignId: UUID) { exportCampaigns(format: $format, campaignId: $campaignId) }`);
const ImportLayerDocument = graphql(`
  mutation ImportNavigatorLayer($layer: String!, $fileName: String!, $as: LayerUse!) {
    importNavigatorLayer(layer: $layer, fileName: $fileName, as: $as) { name domain savedLayerId testCaseIds mapped leftOut }
  }
`);

type Domain = 'ENTERPRISE' | 'MOBILE' | 'ICS';

/// Printable reports, spreadsheets and Navigator layers in. Reports and exports are for admins (unredacted).
export function ReportsPage() {
  const client = useClient();
  const [{ data: choices }] = useQuery({ query: ReportChoicesDocument });
  const [campaignId, setCampaignId] = useState('');
  const [domain, setDomain] = useState<Domain>('ENTERPRISE');
  const [asOf, setAsOf] = useState('');
  const [actor, setActor] = useState('');
  const [working, setWorking] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [imported, importLayer] = useMutation(ImportLayerDocument);
  const [layerUse, setLayerUse] = useState<'VIEW' | 'TESTS'>('VIEW');

  const report = async (format: 'HTML' | 'PDF') => {
    setError(null);
    setWorking(`Building the ${format} report…`);
    const result = await client.query(ReportDocument, {
      campaignId: campaignId || null, domain, asOf: fromLocalInput(asOf), actor: actor.trim().toUpperCase() || null, format,
    }, { requestPolicy: 'network-only' }).toPromise();
    setWorking(null);
    if (!result.data) return setError(describeError(result.error));
    const name = campaignId ? 'aegis-campaign-report' : 'aegis-coverage-report';
    if (format === 'HTML') return download(`${name}.html`, result.data.report, 'text/html');
    const bytes = Uint8Array.from(atob(result.data.report), (character) => character.charCodeAt(0));
    download(`${name}.pdf`, bytes, 'application/pdf');
  };

  const exportRows = async (what: 'test-cases' | 'campaigns', format: 'CSV' | 'JSON') => {
    setError(null);
    const variables = { format, campaignId: campaignId || null };
    const result = what === 'test-cases'
      ? await client.query(ExportTestCasesDocument, variables, { requestPolicy: 'network-only' }).toPromise()
      : await client.query(ExportCampaignsDocument, variables, { requestPolicy: 'network-only' }).toPromise();
    if (!result.data) return setError(describeError(result.error));
    const text = 'exportTestCases' in result.data ? result.data.exportTestCases : result.data.exportCampaigns;
    download(`aegis-${what}.${format.toLowerCase()}`, text, format === 'CSV' ? 'text/csv' : 'application/json');
  };

  const onLayerFile = async (file: File) => {
    await importLayer({ layer: await file.text(), fileName: file.name, as: layerUse });
  };

  return (
    <div className="space-y-4">
      <PageTitle>Reports and exports</PageTitle>
      <section className="card grid gap-3 sm:grid-cols-4" aria-label="Report settings">
        <div><label className="label" htmlFor="report-campaign">Campaign</label>
          <select id="report-campaign" className="input" value={campaignId} onChange={(e) => setCampaignId(e.target.value)}>
            <option value="">None: the coverage report / every row</option>
            {(choices?.campaigns.nodes ?? []).map((campaign) => <option key={campaign.id} value={campaign.id}>{campaign.name}</option>)}
          </select></div>
        <div><label className="label" htmlFor="report-domain">Domain</label>
          <select id="report-domain" className="input" value={domain} onChange={(e) => setDomain(e.target.value as Domain)}>
            <option value="ENTERPRISE">Enterprise</option><option value="MOBILE">Mobile</option><option value="ICS">ICS</option>
          </select></div>
        <div><label className="label" htmlFor="report-asof">As of</label><input id="report-asof" type="datetime-local" className="input" value={asOf} onChange={(e) => setAsOf(e.target.value)} /></div>
        <div><label className="label" htmlFor="report-actor">Gaps against group</label><input id="report-actor" className="input" placeholder="G0016" value={actor} onChange={(e) => setActor(e.target.value)} /></div>
      </section>
      <section className="card space-y-2" aria-label="Reports">
        <h2 className="font-semibold">{campaignId ? 'Campaign report' : 'Coverage report'}</h2>
        <div className="flex flex-wrap gap-2">
          <button className="btn" disabled={!!working} onClick={() => report('HTML')}>Download HTML (printable)</button>
          <button className="btn" disabled={!!working} onClick={() => report('PDF')}>Download PDF</button>
        </div>
        <h2 className="pt-2 font-semibold">Spreadsheets</h2>
        <div className="flex flex-wrap gap-2">
          <button className="btn" onClick={() => exportRows('test-cases', 'CSV')}>Test cases CSV</button>
          <button className="btn" onClick={() => exportRows('test-cases', 'JSON')}>Test cases JSON</button>
          <button className="btn" onClick={() => exportRows('campaigns', 'CSV')}>Campaigns CSV</button>
          <button className="btn" onClick={() => exportRows('campaigns', 'JSON')}>Campaigns JSON</button>
        </div>
        {working && <p role="status" className="text-sm">{working}</p>}
        <ErrorBox message={error} />
      </section>
      <section className="card space-y-2" aria-label="Navigator layers">
        <h2 className="font-semibold">Navigator layer import</h2>
        <p className="text-sm text-slate-500">Export a layer from the heatmap page (it exports what the heatmap shows).</p>
        <div className="flex flex-wrap items-end gap-3">
          <div><label className="label" htmlFor="layer-use">Bring it in as</label>
            <select id="layer-use" className="input" value={layerUse} onChange={(e) => setLayerUse(e.target.value as 'VIEW' | 'TESTS')}>
              <option value="VIEW">a saved view</option><option value="TESTS">planned test cases, one per technique</option>
            </select></div>
          <div><label className="label" htmlFor="layer-file">Layer file (JSON)</label>
            <input id="layer-file" type="file" accept=".json,application/json" className="text-sm" onChange={(e) => { const file = e.target.files?.[0]; if (file) void onLayerFile(file); e.target.value = ''; }} /></div>
        </div>
        {imported.fetching && <p role="status" className="text-sm">Importing…</p>}
        <ErrorBox error={imported.error} />
        {imported.data && (
          <ul className="text-sm">{imported.data.importNavigatorLayer.map((layer) => (
            <li key={layer.name}>
              <strong>{layer.name}</strong> ({layer.domain}): {layer.savedLayerId ? 'saved as a view' : `${layer.testCaseIds.length} test cases planned`}
              {layer.mapped.length > 0 && <div className="text-xs">Mapped: {layer.mapped.join('; ')}</div>}
              {layer.leftOut.length > 0 && <div className="text-xs text-amber-700 dark:text-amber-300">Left out: {layer.leftOut.join('; ')}</div>}
            </li>
          ))}</ul>
        )}
      </section>
    </div>
  );
}
