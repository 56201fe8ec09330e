/// Pure heatmap presentation: colours, legend and the SVG export, kept apart from React so they are tested
/// on their own and shared by the grid and the exports.

export type ColourMode = 'score' | 'outcome';
export type Outcome = 'BLOCKED' | 'ALERTED' | 'LOGGED' | 'NOT_DETECTED';
export type Change = 'GAINED' | 'LOST' | 'IMPROVED' | 'REGRESSED';

export interface Cell {
  techniqueId: string;
  name: string;
  score?: number | null;
  best?: Outcome | null;
  stale?: boolean;
  subTechniques?: Cell[];
}

export interface Column {
  tacticId: string;
  tactic: string;
  cells: Cell[];
}

export const UNTESTED = '#e2e8f0';
export const UNTESTED_DARK = '#334155';

/// Red (0) through amber (50) to green (100), the Navigator's usual gradient, in five steps so that
/// neighbouring scores look alike and the legend can name each step.
export const SCORE_STEPS: { min: number; colour: string; label: string }[] = [
  { min: 80, colour: '#16a34a', label: '80–100' },
  { min: 60, colour: '#65a30d', label: '60–79' },
  { min: 40, colour: '#ca8a04', label: '40–59' },
  { min: 20, colour: '#ea580c', label: '20–39' },
  { min: 0, colour: '#dc2626', label: '0–19' },
];

export const OUTCOME_COLOURS: Record<Outcome, string> = {
  BLOCKED: '#16a34a',
  ALERTED: '#65a30d',
  LOGGED: '#ca8a04',
  NOT_DETECTED: '#dc2626',
};

export const CHANGE_COLOURS: Record<Change, string> = {
  GAINED: '#16a34a',
  IMPROVED: '#86efac',
  REGRESSED: '#fb923c',
  LOST: '#dc2626',
};

export function scoreColour(score: number | null | undefined): string | null {
  if (score === null || score === undefined) return null;
  return (SCORE_STEPS.find((step) => score >= step.min) ?? SCORE_STEPS[SCORE_STEPS.length - 1]).colour;
}

/// The colour of a cell in `mode`, or null when the cell has nothing to show (untested).
export function cellColour(cell: Cell, mode: ColourMode): string | null {
  if (mode === 'score') return scoreColour(cell.score);
  return cell.best ? OUTCOME_COLOURS[cell.best] : null;
}

export function legend(mode: ColourMode | 'diff'): { colour: string; label: string }[] {
  if (mode === 'score') return SCORE_STEPS.map(({ colour, label }) => ({ colour, label }));
  if (mode === 'outcome') {
    return (Object.keys(OUTCOME_COLOURS) as Outcome[]).map((outcome) => ({
      colour: OUTCOME_COLOURS[outcome],
      label: outcome.toLowerCase().replace('_', ' '),
    }));
  }
  return (Object.keys(CHANGE_COLOURS) as Change[]).map((change) => ({ colour: CHANGE_COLOURS[change], label: change.toLowerCase() }));
}

/// Dark or white text, whichever has the higher WCAG contrast ratio on `background` (#rrggbb); one of the two
/// always reaches 4.5:1, the minimum for the cells' small text.
export function textOn(background: string): string {
  const value = Number.parseInt(background.slice(1), 16);
  const channel = (shift: number) => {
    const srgb = ((value >> shift) & 255) / 255;
    return srgb <= 0.04045 ? srgb / 12.92 : ((srgb + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0);
  const DARK_LUMINANCE = 0.0079; // #0f172a
  const onWhite = 1.05 / (luminance + 0.05);
  const onDark = (luminance + 0.05) / (DARK_LUMINANCE + 0.05);
  return onDark >= onWhite ? '#0f172a' : '#ffffff';
}

/// Keeps the cells matching `search` (id or name, case-insensitive); a technique stays when one of its
/// sub-techniques matches. Columns left empty are kept so the matrix keeps its shape.
export function filterColumns(columns: Column[], search: string): Column[] {
  const needle = search.trim().toLowerCase();
  if (!needle) return columns;
  const matches = (cell: Cell) => cell.techniqueId.toLowerCase().includes(needle) || cell.name.toLowerCase().includes(needle);
  return columns.map((column) => ({
    ...column,
    cells: column.cells.filter((cell) => matches(cell) || (cell.subTechniques ?? []).some(matches)),
  }));
}

const CELL_WIDTH = 150;
const CELL_HEIGHT = 22;
const HEADER_HEIGHT = 30;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/// The matrix as a standalone SVG document (technique cells only, coloured as on screen).
export function heatmapSvg(columns: Column[], colourOf: (cell: Cell) => string | null, title: string): string {
  const rows = Math.max(1, ...columns.map((column) => column.cells.length));
  const width = columns.length * CELL_WIDTH;
  const height = HEADER_HEIGHT * 2 + rows * CELL_HEIGHT;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="4" y="18" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  columns.forEach((column, columnIndex) => {
    const x = columnIndex * CELL_WIDTH;
    parts.push(`<text x="${x + 4}" y="${HEADER_HEIGHT + 18}" font-weight="bold">${escapeXml(column.tactic)}</text>`);
    column.cells.forEach((cell, rowIndex) => {
      const y = HEADER_HEIGHT * 2 + rowIndex * CELL_HEIGHT;
      const fill = colourOf(cell) ?? UNTESTED;
      parts.push(
        `<rect x="${x + 1}" y="${y + 1}" width="${CELL_WIDTH - 2}" height="${CELL_HEIGHT - 2}" fill="${fill}"/>`,
        `<text x="${x + 4}" y="${y + 15}" fill="${textOn(fill)}">${escapeXml(`${cell.techniqueId} ${cell.name}`.slice(0, 28))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('');
}
