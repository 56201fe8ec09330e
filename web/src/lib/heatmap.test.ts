import { describe, expect, test } from 'vitest';
import { cellColour, filterColumns, heatmapSvg, legend, scoreColour, textOn, type Column } from './heatmap';

const columns: Column[] = [
  { tacticId: 'TA0006', tactic: 'Credential Access', cells: [
    { techniqueId: 'T1003', name: 'OS Credential Dumping', score: 85, best: 'ALERTED', subTechniques: [{ techniqueId: 'T1003.001', name: 'LSASS Memory', score: 90 }] },
    { techniqueId: 'T1110', name: 'Brute Force', score: null },
  ] },
  { tacticId: 'TA0002', tactic: 'Execution', cells: [{ techniqueId: 'T1059', name: 'Command & <Script>', score: 10, best: 'NOT_DETECTED' }] },
];

describe('heatmap colours', () => {
  test('scores fall into the five legend steps, untested has no colour', () => {
    expect(scoreColour(100)).toBe('#16a34a');
    expect(scoreColour(80)).toBe('#16a34a');
    expect(scoreColour(79)).toBe('#65a30d');
    expect(scoreColour(0)).toBe('#dc2626');
    expect(scoreColour(null)).toBeNull();
    expect(legend('score').map((item) => item.colour)).toContain(scoreColour(45));
  });

  test('colour by outcome uses the best outcome', () => {
    expect(cellColour(columns[0].cells[0], 'outcome')).toBe('#65a30d');
    expect(cellColour(columns[1].cells[0], 'outcome')).toBe('#dc2626');
    expect(cellColour(columns[0].cells[1], 'outcome')).toBeNull();
  });

  test('text stays readable on light and dark cells', () => {
    expect(textOn('#ffffff')).toBe('#0f172a');
    expect(textOn('#dc2626')).toBe('#ffffff');
  });
});

describe('technique search', () => {
  test('keeps a technique when one of its sub-techniques matches, and every column', () => {
    const found = filterColumns(columns, 'lsass');
    expect(found).toHaveLength(2);
    expect(found[0].cells.map((cell) => cell.techniqueId)).toEqual(['T1003']);
    expect(found[1].cells).toEqual([]);
    expect(filterColumns(columns, '  ')).toBe(columns);
  });
});

describe('SVG export', () => {
  test('draws every cell with its colour and escapes names', () => {
    const svg = heatmapSvg(columns, (cell) => scoreColour(cell.score), 'Coverage');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('fill="#16a34a"');
    expect(svg).toContain('&#60;Script&#62;');
    expect(svg).not.toContain('<Script>');
    expect(new DOMParser().parseFromString(svg, 'image/svg+xml').querySelector('parsererror')).toBeNull();
  });
});
