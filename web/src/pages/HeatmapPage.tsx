import { useMemo, useState } from 'react';
import { useClient, useQuery } from 'urql';
import { useSearchParams } from 'react-router-dom';
import { graphql } from '../generated';
import { ErrorBox, Loading, PageTitle, download } from '../components/ui';
import { HeatmapGrid, type CellOverlay } from '../components/HeatmapGrid';
import { HeatmapFilters, settingsFromParams, settingsToParams, type HeatmapSettings } from '../components/HeatmapFilters';
import { TechniqueDrawer } from '../components/TechniqueDrawer';
import { SavedLayersDocument, SavedLayersPanel } from '../components/SavedLayersPanel';
import { cellColour, filterColumns, heatmapSvg, legend, UNTESTED, type Change, type Column } from '../lib/heatmap';
import { describeError } from '../lib/errors';
import { formatTime } from '../lib/format';

const HeatmapDocument = graphql(`
  query Heatmap($domain: AttackDomain!, $filter: CoverageFilter, $asOf: DateTime) {
    heatmap(domain: $domain, filter: $filter, asOf: $asOf) {
      at
      domain
      scoredTechniques
      techniques
      policy { policyId version }
      columns {
        tacticId
        tactic
        cells {
          techniqueId name score stale best
          subTechniques { techniqueId name score stale best }
        }
      }
    }
  }
`);

const HeatmapChoicesDocument = graphql(`
  query HeatmapChoices {
    scoringPolicies { id name active retired }
    campaigns(first: 100) { nodes { id name } }
  }
`);

const RescoreDocument = graphql(`
  query Rescore($domain: AttackDomain!, $policyId: UUID!, $filter: CoverageFilter, $asOf: DateTime) {
    rescore(domain: $domain, policyId: $policyId, filter: $filter, asOf: $asOf) {
      inForce { policyId version }
      rescoredWith { policyId version }
      cells { techniqueId score rescored }
    }
  }
`);

const DiffDocument = graphql(`
  query CoverageDiff($domain: AttackDomain!, $from: DateTime!, $to: DateTime, $filter: CoverageFilter) {
    coverageDiff(domain: $domain, from: $from, to: $to, filter: $filter) { techniqueId name change before after }
  }
`);

const NavigatorLayerDocument = graphql(`
  query NavigatorLayer($domain: AttackDomain!, $asOf: DateTime, $campaignId: UUID, $actor: String, $diffFrom: DateTime) {
    navigatorLayer(domain: $domain, asOf: $asOf, campaignId: $campaignId, actor: $actor, diffFrom: $diffFrom)
  }
`);

const PLATFORMS: Record<HeatmapSettings['domain'], string[]> = {
  ENTERPRISE: ['windows', 'linux', 'macos', 'containers', 'iaas', 'saas', 'office-suite', 'identity-provider', 'network-devices', 'esxi'],
  MOBILE: ['android', 'ios'],
  ICS: ['windows', 'linux', 'none'],
};

export function HeatmapPage() {
  const [params, setParams] = useSearchParams();
  const settings = settingsFromParams(params);
  // The saved layer shown over the grid is in the URL too, beside the settings.
  const layerId = params.get('layer');
  const withLayer = (next: URLSearchParams, id: string | null) => {
    if (id) next.set('layer', id);
    return next;
  };
  const setSettings = (next: HeatmapSettings) => setParams(withLayer(settingsToParams(next), layerId), { replace: true });
  const showLayer = (id: string | null) => setParams(withLayer(settingsToParams(settings), id), { replace: true });
  const [selected, setSelected] = useState<string | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const client = useClient();

  const filter = {
    platform: settings.platform || null,
    campaignId: settings.campaignId || null,
    threatActor: settings.threatActor || null,
    tag: settings.tag || null,
  };
  const asOf = settings.asOf || null;
  const [{ data, error, fetching }] = useQuery({ query: HeatmapDocument, variables: { domain: settings.domain, filter, asOf } });
  const [{ data: choices }] = useQuery({ query: HeatmapChoicesDocument });
  const [{ data: rescore, error: rescoreError }] = useQuery({
    query: RescoreDocument,
    variables: { domain: settings.domain, policyId: settings.policyId, filter, asOf },
    pause: !settings.policyId,
  });
  const [{ data: diff, error: diffError }] = useQuery({
    query: DiffDocument,
    variables: { domain: settings.domain, from: settings.diffFrom, to: asOf, filter },
    pause: !settings.diffFrom,
  });

  // Shares the panel's query (same document, same variables), so this costs no second request.
  const [{ data: layers }] = useQuery({ query: SavedLayersDocument, pause: !layerId });
  const shownLayer = layers?.savedLayers.find((layer) => layer.id === layerId) ?? null;
  const marked = useMemo(() => {
    if (!shownLayer) return undefined;
    return new Map(shownLayer.annotations.map((annotation) => [
      annotation.techniqueId,
      [annotation.score !== null && annotation.score !== undefined ? `layer score ${annotation.score}` : '', annotation.comment ?? ''].filter(Boolean).join(', '),
    ]));
  }, [shownLayer]);
  const markedOnGrid = useMemo(() => {
    if (!marked) return 0;
    let count = 0;
    for (const column of data?.heatmap.columns ?? []) {
      for (const cell of column.cells) {
        if (marked.has(cell.techniqueId)) count++;
        for (const sub of cell.subTechniques ?? []) if (marked.has(sub.techniqueId)) count++;
      }
    }
    return count;
  }, [marked, data]);

  const overlayKind = settings.diffFrom ? 'diff' : settings.policyId ? 'rescore' : undefined;
  const overlay = useMemo(() => {
    const map = new Map<string, CellOverlay>();
    if (overlayKind === 'diff') diff?.coverageDiff.forEach((change) => map.set(change.techniqueId, { change: change.change as Change }));
    if (overlayKind === 'rescore') rescore?.rescore.cells.forEach((cell) => map.set(cell.techniqueId, { rescored: cell.rescored }));
    return map;
  }, [overlayKind, diff, rescore]);

  const columns: Column[] = useMemo(() => filterColumns(data?.heatmap.columns ?? [], settings.search), [data, settings.search]);
  const title = `Aegis ATT&CK coverage (${settings.domain.toLowerCase()}) ${data ? `as of ${formatTime(data.heatmap.at)}` : ''}`;

  const exportLayer = async () => {
    setExportError(null);
    const result = await client.query(NavigatorLayerDocument, {
      domain: settings.domain, asOf, campaignId: filter.campaignId, actor: filter.threatActor, diffFrom: settings.diffFrom || null,
    }, { requestPolicy: 'network-only' }).toPromise();
    if (!result.data) return setExportError(describeError(result.error));
    download(`aegis-${settings.domain.toLowerCase()}-layer.json`, JSON.stringify(result.data.navigatorLayer, null, 2), 'application/json');
  };
  const svg = () => heatmapSvg(columns, (cell) => cellColour(cell, settings.colour), title);
  const exportPng = () => {
    const image = new Image();
    const text = svg();
    image.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      canvas.getContext('2d')!.drawImage(image, 0, 0);
      canvas.toBlob((blob) => blob && download('aegis-heatmap.png', blob, 'image/png'));
    };
    // A data: URL, which the CSP allows for images (blob: is not).
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
  };

  return (
    <div className="flex gap-3">
      <div className="min-w-0 flex-1">
        <PageTitle actions={<>
          <button className="btn" onClick={exportLayer}>Export Navigator layer</button>
          <button className="btn" onClick={() => download('aegis-heatmap.svg', svg(), 'image/svg+xml')} disabled={!data}>SVG</button>
          <button className="btn" onClick={exportPng} disabled={!data}>PNG</button>
        </>}>ATT&CK heatmap</PageTitle>
        <HeatmapFilters
          settings={settings}
          onChange={setSettings}
          campaigns={choices?.campaigns.nodes ?? []}
          policies={(choices?.scoringPolicies ?? []).filter((policy) => !policy.retired)}
          platforms={PLATFORMS[settings.domain]}
        />
        <SavedLayersPanel domain={settings.domain} shownId={layerId} onShow={showLayer} />
        <ErrorBox message={exportError} />
        <ErrorBox error={rescoreError ?? diffError} />
        {data && (
          <div className="mb-2 flex flex-wrap items-center gap-4 text-sm" aria-live="polite">
            <span data-testid="heatmap-summary">
              {data.heatmap.scoredTechniques} of {data.heatmap.techniques} techniques scored, as of {formatTime(data.heatmap.at)}
              {data.heatmap.policy.policyId ? ` (policy version ${data.heatmap.policy.version})` : ' (default scoring)'}
            </span>
            {overlayKind === 'rescore' && rescore && <span>Cells show in force → re-scored.</span>}
            {shownLayer && <span data-testid="layer-summary">Outlined: the {shownLayer.annotations.length} techniques of the saved layer “{shownLayer.name}” ({markedOnGrid} cells on this heatmap; a technique in several tactics counts once per tactic). Dotted: a technique with sub-techniques in the layer.</span>}
            {overlayKind === 'diff' && diff && <span data-testid="diff-count">{diff.coverageDiff.length} techniques changed since {formatTime(settings.diffFrom)}.</span>}
            <ul className="flex flex-wrap items-center gap-2" aria-label="Legend">
              {legend(overlayKind === 'diff' ? 'diff' : overlayKind === 'rescore' ? 'score' : settings.colour).map((item) => (
                <li key={item.label} className="flex items-center gap-1 text-xs">
                  <span className="inline-block h-3 w-3 rounded-sm" style={{ backgroundColor: item.colour }} /> {item.label}
                </li>
              ))}
              <li className="flex items-center gap-1 text-xs"><span className="inline-block h-3 w-3 rounded-sm" style={{ backgroundColor: UNTESTED }} /> {overlayKind === 'diff' ? 'unchanged' : 'untested'}</li>
            </ul>
          </div>
        )}
        {fetching && !data && <Loading what="the heatmap" />}
        <ErrorBox error={error} />
        {data && data.heatmap.columns.length === 0 && (
          <div className="card text-sm">No ATT&CK {settings.domain.toLowerCase()} catalog is loaded at this moment. An admin imports it with <code>aegis import attack</code> or from Admin → Imports.</div>
        )}
        {data && <HeatmapGrid columns={columns} mode={settings.colour} overlay={overlay} overlayKind={overlayKind} selected={selected} marked={marked} onSelect={setSelected} />}
      </div>
      {selected && (
        <TechniqueDrawer
          techniqueId={selected}
          domain={settings.domain}
          asOf={asOf}
          policyId={settings.policyId || null}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}
