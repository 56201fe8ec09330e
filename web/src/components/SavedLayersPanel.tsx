import { useCallback, useId, useState, type FormEvent } from 'react';
import { useClient, useMutation, useQuery, type CombinedError } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, download } from './ui';
import { formatTime } from '../lib/format';
import { describeError } from '../lib/errors';
import { hasRole, useSession } from '../lib/session';
import { useSettle } from '../lib/useSettle';

export const SavedLayersDocument = graphql(`
  query SavedLayers {
    savedLayers(first: 100) {
      id name description domain attackVersion source savedAt
      annotations { techniqueId tactic score color comment }
    }
  }
`);

const RenameSavedLayerDocument = graphql(`mutation RenameSavedLayer($id: UUID!, $name: String!) { renameSavedLayer(id: $id, name: $name) }`);
const DeleteSavedLayerDocument = graphql(`mutation DeleteSavedLayer($id: UUID!) { deleteSavedLayer(id: $id) }`);

const NavigatorFileDocument = graphql(`query SavedLayerFile($id: UUID!) { savedLayer(id: $id) { id name navigatorLayer } }`);

export type SavedLayerAnnotation = { techniqueId: string; tactic?: string | null; score?: number | null; color?: string | null; comment?: string | null };

/// The Navigator layers imported as saved views (Reports → Navigator import): one may be shown over the
/// heatmap, which then outlines the techniques it annotates, and each can be downloaded again as its file.
/// Leads and admins (`ManageSavedLayers`) rename and delete them.
export function SavedLayersPanel({ domain, shownId, onShow }: {
  domain: string;
  shownId: string | null;
  onShow: (id: string | null) => void;
}) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: SavedLayersDocument });
  const { me } = useSession();
  const manages = hasRole(me, 'RED_LEAD', 'BLUE_LEAD');
  // The list is a read model: a rename or delete shows once the projector has applied it.
  const settle = useSettle(useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]));
  const [, rename] = useMutation(RenameSavedLayerDocument);
  const [, remove] = useMutation(DeleteSavedLayerDocument);
  // Open when a layer is shown (from the URL too), and kept as the user leaves it: deleting the shown layer
  // does not fold the list away.
  const [open, setOpen] = useState(shownId !== null);
  return (
    <details className="card mb-2 text-sm" open={open} onToggle={(event) => setOpen(event.currentTarget.open)}>
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
                {manages && (
                  <SavedLayerActions
                    name={layer.name}
                    onRename={async (name) => {
                      const result = await rename({ id: layer.id, name });
                      if (!result.error) settle();
                      return result.error ?? null;
                    }}
                    onDelete={async () => {
                      const result = await remove({ id: layer.id });
                      if (result.error) return result.error;
                      if (shown) onShow(null);
                      settle();
                      return null;
                    }}
                  />
                )}
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

/// Rename (inline, the new name checked by the server) and delete (after a confirmation) for one saved layer;
/// a refusal is shown beside the buttons. `onRename` and `onDelete` answer with the server's error, if any.
export function SavedLayerActions({ name, onRename, onDelete }: {
  name: string;
  onRename: (name: string) => Promise<CombinedError | null>;
  onDelete: () => Promise<CombinedError | null>;
}) {
  const [mode, setMode] = useState<'idle' | 'renaming' | 'confirmingDelete'>('idle');
  const [newName, setNewName] = useState(name);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const inputId = useId();
  const act = async (action: () => Promise<CombinedError | null>) => {
    setBusy(true);
    setFailure(null);
    const refused = await action();
    setBusy(false);
    setFailure(refused);
    if (!refused) setMode('idle');
  };
  const submitRename = (event: FormEvent) => {
    event.preventDefault();
    void act(() => onRename(newName.trim()));
  };
  return (
    <>
      {mode === 'idle' && <>
        <button type="button" className="btn py-0 text-xs" aria-label={`Rename ${name}`} onClick={() => { setNewName(name); setFailure(null); setMode('renaming'); }}>Rename</button>
        <button type="button" className="btn py-0 text-xs" aria-label={`Delete ${name}`} onClick={() => { setFailure(null); setMode('confirmingDelete'); }}>Delete</button>
      </>}
      {mode === 'renaming' && (
        <form className="flex items-center gap-1" aria-label={`Rename ${name}`} onSubmit={submitRename}>
          <label className="sr-only" htmlFor={inputId}>New name for {name}</label>
          <input id={inputId} className="input py-0 text-xs" required value={newName} onChange={(e) => setNewName(e.target.value)} />
          <button type="submit" className="btn-primary py-0 text-xs" disabled={busy || !newName.trim() || newName.trim() === name}>Save name</button>
          <button type="button" className="btn py-0 text-xs" onClick={() => setMode('idle')}>Cancel</button>
        </form>
      )}
      {mode === 'confirmingDelete' && (
        <span role="group" aria-label={`Confirm deleting ${name}`} className="flex items-center gap-1 text-xs">
          Delete “{name}”? Its history stays in the log.
          <button type="button" className="btn-primary py-0 text-xs" disabled={busy} onClick={() => void act(onDelete)}>Delete for good</button>
          <button type="button" className="btn py-0 text-xs" onClick={() => setMode('idle')}>Keep it</button>
        </span>
      )}
      {failure && <span className="w-full"><ErrorBox error={failure} /></span>}
    </>
  );
}
