import { describe, expect, test, vi } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { PolicyForm, type PolicyToEdit, type PreviewAnswer } from './PolicyForm';
import { policyEffect } from '../lib/policyEffect';

const ACTIVE: PolicyToEdit = {
  id: 'b7c5e2f0-0000-4000-8000-000000000001', name: 'Default', version: 3, active: true,
  settings: {
    ruleWeight: 10, telemetryWeight: 10, prevalenceWeight: 0, halfLifeDays: 180, aggregation: 'AVERAGE',
    outcomeWeights: { blocked: 100, alerted: 80, logged: 40, notDetected: 0 },
  },
};

const CELLS = [
  { techniqueId: 'T0817', score: 80, rescored: 50 },
  { techniqueId: 'T0819', score: 40, rescored: 45 },
  { techniqueId: 'T0800', score: null, rescored: 20 },
  { techniqueId: 'T0801', score: 10, rescored: null },
  { techniqueId: 'T0802', score: 60, rescored: 60 },
  { techniqueId: 'T0803', score: null, rescored: null },
];

describe('policyEffect', () => {
  test('counts gained, lost, raised and lowered cells, largest move first', () => {
    const effect = policyEffect(CELLS);
    expect([effect.gained, effect.lost, effect.raised, effect.lowered]).toEqual([1, 1, 1, 1]);
    expect(effect.changed.map((cell) => cell.techniqueId)).toEqual(['T0817', 'T0800', 'T0801', 'T0819']);
    expect([effect.meanBefore, effect.meanAfter]).toEqual([48, 44]);
  });
});

describe('PolicyForm', () => {
  test('previews the settings as typed, then saves them as a new version', async () => {
    const onPreview = vi.fn(async (): Promise<PreviewAnswer> => ({ cells: CELLS }));
    const onSave = vi.fn(async () => true);
    render(<PolicyForm policy={ACTIVE} busy={false} onPreview={onPreview} onSave={onSave} />);
    expect(screen.getByText(/This policy is active/)).toBeInTheDocument();
    const alerted = screen.getByLabelText('Alerted');
    await userEvent.clear(alerted);
    await userEvent.type(alerted, '50');
    await userEvent.selectOptions(screen.getByLabelText('Preview on'), 'ICS');
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }));
    const settings = {
      outcomeWeights: { blocked: 100, alerted: 50, logged: 40, notDetected: 0 },
      ruleWeight: 10, telemetryWeight: 10, prevalenceWeight: 0, halfLifeDays: 180, aggregation: 'AVERAGE',
    };
    expect(onPreview).toHaveBeenCalledWith(settings, 'ICS');
    const preview = await screen.findByRole('region', { name: 'Preview on ICS' });
    expect(preview).toHaveTextContent('4 techniques would score differently; mean score 48 → 44');
    expect(preview).toHaveTextContent('1 gained, 1 lost, 1 raised, 1 lowered (of 6)');
    expect(within(preview).getByText('T0817: 80 → 50')).toBeInTheDocument();
    expect(within(preview).getByText('T0800: – → 20')).toBeInTheDocument();
    expect(within(preview).queryByText(/T0802/)).toBeNull();
    expect(onSave).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Reason'), 'alerts are not enough');
    await userEvent.click(screen.getByRole('button', { name: 'Save new version' }));
    expect(onSave).toHaveBeenCalledWith({ name: '', settings, reason: 'alerts are not enough' });
  });

  test('a setting changed after the preview marks it out of date', async () => {
    const onPreview = vi.fn(async (): Promise<PreviewAnswer> => ({ cells: CELLS }));
    render(<PolicyForm busy={false} onPreview={onPreview} onSave={vi.fn(async () => true)} />);
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }));
    await screen.findByRole('region', { name: 'Preview on Enterprise' });
    expect(screen.queryByText(/The settings changed since this preview/)).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText('Sub-techniques roll up by'), 'MIN');
    expect(screen.getByText(/The settings changed since this preview/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }));
    expect(onPreview).toHaveBeenLastCalledWith(expect.objectContaining({ aggregation: 'MIN' }), 'ENTERPRISE');
    expect(screen.queryByText(/The settings changed since this preview/)).toBeNull();
  });

  test('settings the server refuses show its error instead of an effect, and nothing is saved', async () => {
    const refusal = new CombinedError({
      graphQLErrors: [{ message: 'a better outcome must weigh at least as much as a worse one', extensions: { code: 'VALIDATION' } }],
    });
    const onSave = vi.fn(async () => true);
    render(<PolicyForm busy={false} onPreview={async () => ({ error: refusal })} onSave={onSave} />);
    const blocked = screen.getByLabelText('Blocked');
    await userEvent.clear(blocked);
    await userEvent.type(blocked, '10');
    await userEvent.click(screen.getByRole('button', { name: 'Preview' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('VALIDATION: a better outcome must weigh at least as much as a worse one');
    expect(screen.queryByRole('region')).toBeNull();
    expect(onSave).not.toHaveBeenCalled();
  });
});
