import { useState } from 'react';
import { useClient, useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, download } from './ui';
import { formatTime } from '../lib/format';
import { describeError } from '../lib/errors';

export const SavedLayersDocument = graphql(`
  query SavedLayers {
    savedLayers(first: 100) {
      id name description domain attackVersion source savedAt
      annotations { techniqueId tactic score color comment }
    }
  }
`);

const NavigatorFileDocument = graphql(`query SavedLayerFile($id: UUID!) { savedLayer(id: $id) { id name navigatorLayer } }`);

export type SavedLayerAnnotation = { techniqueId: string; tactic?: string | null; score?: number | null; color?: string | null; comment?: string | null };

/// The Navigator layers imported as saved views (Reports → Navigator import): one may be shown over the
/// heatmap, which then outlines the techniques it annotates, and each can be downloaded again as its file.
export function SavedLayersPanel({ domain, shownId, onShow }: {
  domain: string;
  shownId: string | null;
  onShow: (id: string | null) => void;
}) {
  const [{ data, error, fetching }] = useQuery({ query: SavedLayersDocument });
  return (
    <details className="card mb-2 text-sm" open={shownId !== null || undefined}>
      <summary className="cursor-pointer font-semibold">Saved layers</summary>
      {fetching && !data && <Loading what="saved layers" />}
      <ErrorBox error={error} />
      {data && data.savedLayers.length === 0 && <Empty>No saved layers. An admin imports a Navigator layer as a saved view under Reports.</Empty>}
      {data && data.savedLayers.length > 0 && (
        <ul className="mt-2 space-y-1" aria-label="Saved layers">
          {data.savedLayers.map((layer) => {
            const shown = layer.id === shownId;
            const otherDomain = layer.domain.toUpperCase() !== domain.toUpperCase() && !layer.domain.toLowerCase().startsWith(domain.toLowerCase());
            return (
              <li key={layer.id} className="flex flex-wrap items-center gap-2">
                <span className="font-medium">{layer.name}</span>
                <Badge>{layer.domain}</Badge>
                <span className="text-xs text-slate-500">{layer.annotations.length} techniques, saved {formatTime(layer.savedAt)} from {layer.source}</span>
                {layer.description && <span className="w-full text-xs text-slate-500">{layer.description}</span>}
                <button type="button" className="btn py-0 text-xs" aria-pressed={shown} onClick={() => onShow(shown ? null : layer.id)}>
                  {shown ? 'Hide from heatmap' : 'Show on heatmap'}
                </button>
                <SavedLayerDownload id={layer.id} name={layer.name} />
                {shown && otherDomain && <span className="text-xs text-amber-700 dark:text-amber-400">This layer is for {layer.domain}; switch the domain to see its techniques.</span>}
              </li>
            );
          })}
        </ul>
      )}
    </details>
  );
}

/// Fetches the layer's Navigator file only when asked (it can be large) and downloads it.
function SavedLayerDownload({ id, name }: { id: string; name: string }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const fetchAndDownload = async () => {
    setBusy(true);
    setFailure(null);
    const result = await client.query(NavigatorFileDocument, { id }, { requestPolicy: 'network-only' }).toPromise();
    setBusy(false);
    if (!result.data?.savedLayer) return setFailure(result.error ? describeError(result.error) : 'This layer no longer exists.');
    download(`${name.replace(/[^\w.-]+/g, '_')}.json`, JSON.stringify(result.data.savedLayer.navigatorLayer, null, 2), 'application/json');
  };
  return (
    <>
      <button type="button" className="btn py-0 text-xs" disabled={busy} onClick={fetchAndDownload}>Download layer file</button>
      <ErrorBox message={failure} />
    </>
  );
}
