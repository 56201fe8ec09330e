import { useState } from 'react';
import { useClient } from 'urql';
import { ConfirmUploadDocument, EvidenceDownloadDocument, RemoveEvidenceDocument, RequestUploadDocument } from '../lib/workflowMutations';
import { contentTypeOf, putWithProgress, sha256Hex } from '../lib/evidence';
import { describeError } from '../lib/errors';
import { formatTime } from '../lib/format';
import { ErrorBox } from './ui';

interface Evidence { id: string; run: number; side: string; fileName: string; attachedAt: string; sha256: string; size?: string | null; removed: boolean }

/// One side's evidence: the files attached so far (download through a short-lived URL) and, when the
/// viewer may, an upload: hash → ask for a presigned URL → PUT with progress → confirm.
export function EvidencePanel({ testCaseId, side, evidence, canUpload, onChanged }: {
  testCaseId: string; side: 'RED' | 'BLUE'; evidence: Evidence[];
  /// The side may attach and remove files now (its working state).
  canUpload: boolean;
  onChanged: () => void;
}) {
  const client = useClient();
  const [progress, setProgress] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const upload = async (file: File) => {
    setError(null);
    try {
      setProgress('Hashing…');
      const sha256 = await sha256Hex(file);
      const ticket = await client.mutation(RequestUploadDocument, {
        testCaseId, side, fileName: file.name, contentType: contentTypeOf(file), size: String(file.size), sha256,
      }).toPromise();
      if (!ticket.data) throw new Error(describeError(ticket.error) ?? 'the upload was refused');
      await putWithProgress(ticket.data.requestEvidenceUpload.url, file, (fraction) => setProgress(`Uploading… ${Math.round(fraction * 100)}%`));
      setProgress('Verifying…');
      const confirmed = await client.mutation(ConfirmUploadDocument, { id: ticket.data.requestEvidenceUpload.uploadId }).toPromise();
      if (!confirmed.data) throw new Error(describeError(confirmed.error) ?? 'the upload could not be confirmed');
      setProgress(`Attached ${confirmed.data.confirmEvidenceUpload.fileName}.`);
      onChanged();
    } catch (caught) {
      setProgress(null);
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const fetchFile = async (id: string) => {
    setError(null);
    const result = await client.query(EvidenceDownloadDocument, { id }, { requestPolicy: 'network-only' }).toPromise();
    if (!result.data) return setError(describeError(result.error));
    const anchor = document.createElement('a');
    anchor.href = result.data.evidenceDownloadUrl.url;
    anchor.download = result.data.evidenceDownloadUrl.fileName;
    anchor.click();
  };

  const remove = async (evidenceId: string) => {
    setError(null);
    const result = await client.mutation(RemoveEvidenceDocument, { id: testCaseId, evidenceId }).toPromise();
    if (result.error) return setError(describeError(result.error));
    onChanged();
  };

  const mine = evidence.filter((item) => item.side === side);
  return (
    <div className="mt-3">
      <h4 className="font-semibold">Evidence</h4>
      {mine.length === 0 ? <p className="text-sm text-slate-500">No files.</p> : (
        <ul className="text-sm">
          {mine.map((item) => (
            <li key={item.id} className={item.removed ? 'line-through opacity-60' : ''}>
              <button className="link" onClick={() => fetchFile(item.id)}>{item.fileName}</button>{' '}
              <span className="text-xs text-slate-500">run {item.run}, {item.size ?? '?'} bytes, {formatTime(item.attachedAt)}, sha256 {item.sha256.slice(0, 12)}…</span>
              {canUpload && !item.removed && <button className="ml-2 text-xs text-red-700 underline dark:text-red-300" aria-label={`Remove ${item.fileName}`} onClick={() => remove(item.id)}>Remove</button>}
            </li>
          ))}
        </ul>
      )}
      {canUpload && (
        <div className="mt-2">
          <label className="label" htmlFor={`upload-${side}`}>Attach a file</label>
          <input id={`upload-${side}`} type="file" className="text-sm" onChange={(e) => { const file = e.target.files?.[0]; if (file) void upload(file); e.target.value = ''; }} />
        </div>
      )}
      {progress && <p role="status" className="text-sm text-slate-600 dark:text-slate-300" data-testid={`upload-progress-${side}`}>{progress}</p>}
      <ErrorBox message={error} />
    </div>
  );
}
