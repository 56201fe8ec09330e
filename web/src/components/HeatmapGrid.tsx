import { useState, type KeyboardEvent } from 'react';
import { cellColour, textOn, type Cell, type Change, type ColourMode, type Column, CHANGE_COLOURS } from '../lib/heatmap';

export interface CellOverlay {
  /// Under another policy (re-score): shown next to the cell's own score and used for its colour.
  rescored?: number | null;
  change?: Change;
}

export interface HeatmapGridProps {
  columns: Column[];
  mode: ColourMode;
  /// Diff mode colours by change; re-score colours by the other policy's score.
  overlay?: Map<string, CellOverlay>;
  overlayKind?: 'diff' | 'rescore';
  selected?: string | null;
  /// A saved layer shown over the heatmap: its techniques are outlined (the colour stays the coverage's),
  /// each with what the layer says about it; a technique with sub-techniques in the layer is outlined dotted
  /// (when not in it itself), so they show while it is collapsed.
  marked?: Map<string, string>;
  onSelect: (techniqueId: string) => void;
}

/// Tactic columns × technique cells. Each cell is a button (Tab and Enter reach every one); a technique
/// with sub-techniques has its own expand button beside it.
export function HeatmapGrid({ columns, mode, overlay, overlayKind, selected, marked, onSelect }: HeatmapGridProps) {
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const toggle = (id: string) =>
    setExpanded((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id); else next.add(id);
      return next;
    });

  const colourOf = (cell: Cell): string | null => {
    const extra = overlay?.get(cell.techniqueId);
    if (overlayKind === 'diff') return extra?.change ? CHANGE_COLOURS[extra.change] : null;
    if (overlayKind === 'rescore') return cellColour({ ...cell, score: extra?.rescored ?? null }, 'score');
    return cellColour(cell, mode);
  };

  // Arrow keys move between cells (Tab still reaches each one): up and down in a column, left and right to
  // the neighbouring column's cell at the same height, or its last one.
  const moveFocus = (event: KeyboardEvent<HTMLDivElement>) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    const move = moves[event.key];
    const from = (event.target as HTMLElement).closest<HTMLElement>('[data-column-index]');
    if (!move || !from) return;
    const columnIndex = Number(from.dataset.columnIndex) + move[0];
    const cells = [...event.currentTarget.querySelectorAll<HTMLElement>(`[data-column-index="${columnIndex}"]`)];
    if (cells.length === 0) return;
    const rowIndex = move[1] === 0 ? Number(from.dataset.rowIndex) : Number(from.dataset.rowIndex) + move[1];
    const target = cells[Math.max(0, Math.min(rowIndex, cells.length - 1))];
    event.preventDefault();
    target.focus();
  };

  const renderCell = (cell: Cell, sub: boolean, column: string) => {
    const colour = colourOf(cell);
    const extra = overlay?.get(cell.techniqueId);
    const value = overlayKind === 'diff'
      ? extra?.change?.toLowerCase()
      : overlayKind === 'rescore'
        ? `${cell.score ?? '–'}→${extra?.rescored ?? '–'}`
        : cell.score ?? undefined;
    const layerNote = marked?.get(cell.techniqueId);
    // A layer that names sub-techniques only still shows on their collapsed parent.
    const subsInLayer = sub || !marked ? 0 : (cell.subTechniques ?? []).filter((item) => marked.has(item.techniqueId)).length;
    const inLayer = layerNote !== undefined ? `, in the saved layer${layerNote ? ` (${layerNote})` : ''}` : '';
    const subsNote = subsInLayer > 0 ? `, ${subsInLayer} of its sub-techniques in the saved layer` : '';
    const outline = layerNote !== undefined
      ? 'outline-2 outline-offset-1 outline-dashed outline-sky-600'
      : subsInLayer > 0 ? 'outline-2 outline-offset-1 outline-dotted outline-sky-600' : '';
    const details = `: ${cell.score === null || cell.score === undefined ? 'untested' : `score ${cell.score}`}${cell.stale ? ', stale' : ''}${extra?.change ? `, ${extra.change.toLowerCase()}` : ''}${overlayKind === 'rescore' ? `, ${extra?.rescored ?? 'unscored'} under the other policy` : ''}${inLayer}${subsNote}`;
    const label = `${cell.techniqueId} ${cell.name}${details}`;
    return (
      <button
        type="button"
        key={`${column}-${cell.techniqueId}`}
        data-technique={cell.techniqueId}
        data-column-index={columnIndexOf.get(column)}
        data-row-index={rowIndexOf.get(`${column}/${cell.techniqueId}`)}
        data-score={cell.score ?? ''}
        data-in-layer={layerNote !== undefined || undefined}
        data-subs-in-layer={subsInLayer || undefined}
        aria-pressed={selected === cell.techniqueId}
        title={label}
        onClick={() => onSelect(cell.techniqueId)}
        className={`heatmap-cell flex w-full items-center justify-between gap-1 rounded px-1.5 py-1 text-left text-[11px] leading-tight ${sub ? 'ml-2 w-[calc(100%-0.5rem)]' : ''} ${colour ? '' : 'bg-slate-200 dark:bg-slate-700'} ${selected === cell.techniqueId ? 'ring-2 ring-violet-600' : outline} ${cell.stale ? 'opacity-70' : ''}`}
        style={colour ? { backgroundColor: colour, color: textOn(colour) } : undefined}
      >
        {/* The name is the visible text followed by the details in words; the value in figures is not read. */}
        <span className="truncate"><span className="font-semibold">{cell.techniqueId}</span> {cell.name}<span className="sr-only">{details}</span></span>
        {value !== undefined && <span aria-hidden className="shrink-0 font-mono">{value}</span>}
      </button>
    );
  };

  // Positions in the matrix as shown (expanded sub-techniques included), for the arrow keys.
  const columnIndexOf = new Map(columns.map((column, index) => [column.tacticId, index]));
  const rowIndexOf = new Map<string, number>();
  for (const column of columns) {
    let row = 0;
    for (const cell of column.cells) {
      rowIndexOf.set(`${column.tacticId}/${cell.techniqueId}`, row++);
      if (expanded.has(`${column.tacticId}/${cell.techniqueId}`)) {
        for (const sub of cell.subTechniques ?? []) rowIndexOf.set(`${column.tacticId}/${sub.techniqueId}`, row++);
      }
    }
  }

  // The region scrolls the matrix sideways within the page. It is `relative` so that it is the containing block
  // of the cells' screen-reader text (`sr-only` is absolutely positioned): otherwise that text, placed where the
  // far columns are, escapes the region's clipping and widens the whole page (issue 9: at 1280 px the page
  // scrolled sideways, not the grid).
  return (
    <div className="relative overflow-x-auto" role="region" aria-label="ATT&CK matrix" onKeyDown={moveFocus}>
      <div className="grid gap-1" style={{ gridTemplateColumns: `repeat(${columns.length}, minmax(8.5rem, 1fr))` }}>
        {columns.map((column) => (
          <div key={column.tacticId} role="group" aria-label={column.tactic} className="min-w-0">
            <h3 className="sticky top-0 mb-1 truncate bg-slate-50 px-1 text-xs font-semibold dark:bg-slate-950" title={column.tactic}>
              {column.tactic} <span className="font-normal text-slate-500">({column.cells.length})</span>
            </h3>
            <div className="space-y-0.5">
              {column.cells.map((cell) => {
                const subs = cell.subTechniques ?? [];
                const open = expanded.has(`${column.tacticId}/${cell.techniqueId}`);
                return (
                  <div key={cell.techniqueId}>
                    <div className="flex items-stretch gap-0.5">
                      {renderCell(cell, false, column.tacticId)}
                      {subs.length > 0 && (
                        <button
                          type="button"
                          className="rounded bg-slate-300 px-1 text-[10px] dark:bg-slate-600"
                          aria-expanded={open}
                          aria-label={`${open ? 'Hide' : 'Show'} ${subs.length} sub-techniques of ${cell.techniqueId}`}
                          onClick={() => toggle(`${column.tacticId}/${cell.techniqueId}`)}
                        >
                          {open ? '−' : `+${subs.length}`}
                        </button>
                      )}
                    </div>
                    {open && <div className="mt-0.5 space-y-0.5">{subs.map((sub) => renderCell(sub, true, column.tacticId))}</div>}
                  </div>
                );
              })}
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}
