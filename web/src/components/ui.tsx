import type { ReactNode } from 'react';
import type { CombinedError } from 'urql';
import { describeError } from '../lib/errors';

export function Loading({ what }: { what: string }) {
  return (
    <div role="status" aria-live="polite" className="p-4 text-sm text-slate-500">
      Loading {what}…
    </div>
  );
}

export function ErrorBox({ error, message }: { error?: CombinedError | null; message?: string | null }) {
  const text = message ?? describeError(error);
  if (!text) return null;
  return (
    <div role="alert" className="whitespace-pre-line rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
      {text}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="rounded-md border border-dashed border-slate-300 p-6 text-center text-sm text-slate-500 dark:border-slate-700">{children}</div>;
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-2">
      <h1 className="text-xl font-semibold">{children}</h1>
      {actions && <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

/// Forward paging over a Relay connection: the cursors seen so far, so "Previous" goes back without asking
/// the server for backward paging.
export function Pager({ cursors, endCursor, hasNextPage, onChange }: {
  cursors: (string | null)[];
  endCursor: string | null | undefined;
  hasNextPage: boolean;
  onChange: (cursors: (string | null)[]) => void;
}) {
  return (
    <div className="mt-3 flex items-center gap-2 text-sm">
      <button className="btn" disabled={cursors.length <= 1} onClick={() => onChange(cursors.slice(0, -1))}>
        Previous
      </button>
      <span className="text-slate-500">Page {cursors.length}</span>
      <button className="btn" disabled={!hasNextPage || !endCursor} onClick={() => onChange([...cursors, endCursor ?? null])}>
        Next
      </button>
    </div>
  );
}

export function Badge({ children, tone = 'slate' }: { children: ReactNode; tone?: 'slate' | 'red' | 'blue' | 'green' | 'amber' | 'violet' }) {
  const tones = {
    slate: 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200',
    red: 'bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-100',
    blue: 'bg-blue-100 text-blue-800 dark:bg-blue-900 dark:text-blue-100',
    green: 'bg-green-100 text-green-800 dark:bg-green-900 dark:text-green-100',
    amber: 'bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-100',
    violet: 'bg-violet-100 text-violet-800 dark:bg-violet-900 dark:text-violet-100',
  };
  return <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${tones[tone]}`}>{children}</span>;
}

/// Triggers a browser download of text or bytes produced in the page.
export function download(fileName: string, content: BlobPart, type: string) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  anchor.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
