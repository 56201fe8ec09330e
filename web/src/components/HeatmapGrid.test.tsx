import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HeatmapGrid } from './HeatmapGrid';
import type { Column } from '../lib/heatmap';

const columns: Column[] = [
  { tacticId: 'TA0006', tactic: 'Credential Access', cells: [
    { techniqueId: 'T1003', name: 'OS Credential Dumping', score: 85, subTechniques: [{ techniqueId: 'T1003.001', name: 'LSASS Memory', score: 90 }] },
    { techniqueId: 'T1110', name: 'Brute Force', score: null },
  ] },
  { tacticId: 'TA0002', tactic: 'Execution', cells: [{ techniqueId: 'T1059', name: 'Command and Scripting Interpreter', score: 40 }] },
];

describe('HeatmapGrid', () => {
  test('shows tactic columns and technique cells with their scores', () => {
    render(<HeatmapGrid columns={columns} mode="score" onSelect={() => {}} />);
    expect(screen.getByRole('group', { name: 'Credential Access' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /T1003 OS Credential Dumping: score 85/ })).toHaveAttribute('data-score', '85');
    expect(screen.getByRole('button', { name: /T1110 Brute Force: untested/ })).toHaveAttribute('data-score', '');
  });

  test('sub-techniques expand and collapse, by keyboard too', async () => {
    const user = userEvent.setup();
    render(<HeatmapGrid columns={columns} mode="score" onSelect={() => {}} />);
    expect(screen.queryByRole('button', { name: /T1003.001/ })).toBeNull();
    const expand = screen.getByRole('button', { name: 'Show 1 sub-techniques of T1003' });
    expand.focus();
    await user.keyboard('{Enter}');
    expect(screen.getByRole('button', { name: /T1003.001 LSASS Memory: score 90/ })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Hide 1 sub-techniques of T1003' }));
    expect(screen.queryByRole('button', { name: /T1003.001/ })).toBeNull();
  });

  test('a saved layer shown over the grid marks its techniques and keeps the coverage score', () => {
    const marked = new Map([['T1110', 'layer score 3, spraying seen'], ['T1059', '']]);
    render(<HeatmapGrid columns={columns} mode="score" marked={marked} onSelect={() => {}} />);
    expect(screen.getByRole('button', { name: /T1110 Brute Force: untested, in the saved layer \(layer score 3, spraying seen\)/ })).toHaveAttribute('data-in-layer', 'true');
    expect(screen.getByRole('button', { name: /T1059 .*: score 40, in the saved layer$/ })).toHaveAttribute('data-score', '40');
    expect(screen.getByRole('button', { name: /T1003 OS Credential Dumping: score 85$/ })).not.toHaveAttribute('data-in-layer');
  });

  test('a layer naming only a sub-technique outlines its collapsed parent, and the sub-technique once expanded', async () => {
    render(<HeatmapGrid columns={columns} mode="score" marked={new Map([['T1003.001', 'seen in the wild']])} onSelect={() => {}} />);
    const parent = screen.getByRole('button', { name: /T1003 OS Credential Dumping: score 85, 1 of its sub-techniques in the saved layer$/ });
    expect(parent).toHaveAttribute('data-subs-in-layer', '1');
    expect(parent).not.toHaveAttribute('data-in-layer');
    expect(parent.className).toContain('outline-dotted');
    expect(screen.getByRole('button', { name: /T1110 Brute Force: untested$/ })).not.toHaveAttribute('data-subs-in-layer');
    await userEvent.click(screen.getByRole('button', { name: 'Show 1 sub-techniques of T1003' }));
    const sub = screen.getByRole('button', { name: /T1003.001 LSASS Memory: score 90, in the saved layer \(seen in the wild\)$/ });
    expect(sub).toHaveAttribute('data-in-layer', 'true');
    expect(sub).not.toHaveAttribute('data-subs-in-layer');
  });

  test('a click selects the technique', async () => {
    const onSelect = vi.fn();
    render(<HeatmapGrid columns={columns} mode="score" onSelect={onSelect} />);
    await userEvent.click(screen.getByRole('button', { name: /T1110/ }));
    expect(onSelect).toHaveBeenCalledWith('T1110');
  });

  test('diff mode labels cells with their change; re-score shows both scores', () => {
    const { rerender } = render(
      <HeatmapGrid columns={columns} mode="score" overlayKind="diff" overlay={new Map([['T1003', { change: 'GAINED' }]])} onSelect={() => {}} />,
    );
    expect(screen.getByRole('button', { name: /T1003 OS Credential Dumping: score 85, gained/ })).toHaveTextContent('gained');
    rerender(<HeatmapGrid columns={columns} mode="score" overlayKind="rescore" overlay={new Map([['T1003', { rescored: 40 }]])} onSelect={() => {}} />);
    expect(screen.getByRole('button', { name: /T1003 OS/ })).toHaveTextContent('85→40');
  });

  test('arrow keys move between cells, down a column and across to the neighbouring one', async () => {
    const user = userEvent.setup();
    render(<HeatmapGrid columns={columns} mode="score" onSelect={() => {}} />);
    screen.getByRole('button', { name: /T1003 OS/ }).focus();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByRole('button', { name: /T1110/ })).toHaveFocus();
    await user.keyboard('{ArrowRight}');
    expect(screen.getByRole('button', { name: /T1059/ })).toHaveFocus();
    await user.keyboard('{ArrowLeft}{ArrowUp}');
    expect(screen.getByRole('button', { name: /T1003 OS/ })).toHaveFocus();
  });
});
