/// One cell under the policy in force and under another policy or unsaved settings (`rescore`,
/// `previewScoringPolicy`).
export interface RescoredCell {
  techniqueId: string;
  score?: number | null;
  rescored?: number | null;
}

/// What scoring with other settings would do to the heatmap, counted the way a reviewer asks about it.
export interface PolicyEffect {
  /// Untested under the policy in force, scored under the other (a roll-up that now counts).
  gained: number;
  /// Scored now, not under the other.
  lost: number;
  raised: number;
  lowered: number;
  /// Every cell whose score moves, largest move first (gained and lost count as the whole score).
  changed: RescoredCell[];
  meanBefore: number | null;
  meanAfter: number | null;
}

const isScore = (value: number | null | undefined): value is number => typeof value === 'number';

function mean(values: (number | null | undefined)[]): number | null {
  const numbers = values.filter(isScore);
  return numbers.length ? Math.round(numbers.reduce((sum, value) => sum + value, 0) / numbers.length) : null;
}

function movement(cell: RescoredCell): number {
  return Math.abs((cell.rescored ?? 0) - (cell.score ?? 0));
}

export function policyEffect(cells: readonly RescoredCell[]): PolicyEffect {
  const changed = cells.filter((cell) => (cell.score ?? null) !== (cell.rescored ?? null));
  const count = (test: (before: number | null, after: number | null) => boolean) =>
    changed.filter((cell) => test(cell.score ?? null, cell.rescored ?? null)).length;
  return {
    gained: count((before, after) => before === null && after !== null),
    lost: count((before, after) => before !== null && after === null),
    raised: count((before, after) => before !== null && after !== null && after > before),
    lowered: count((before, after) => before !== null && after !== null && after < before),
    changed: [...changed].sort((left, right) => movement(right) - movement(left) || left.techniqueId.localeCompare(right.techniqueId)),
    meanBefore: mean(cells.map((cell) => cell.score)),
    meanAfter: mean(cells.map((cell) => cell.rescored)),
  };
}
