import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PlanEditForm, procedureInputOf } from './PlanEditForm';

const PLAN = {
  title: 'LSASS dump', objective: 'blocked', technique: 'T1003.001', procedure: 'ATOMIC_TEST:0be2230c-9ab3-4ac2-8826-3199b9a0ebf8',
  steps: 'rundll32 comsvcs.dll MiniDump', platforms: ['windows'], targets: ['ws-01'], tags: ['q4'], blind: false,
};

const TEMPLATES = [
  {
    scope: 'atomic', id: '0be2230c-9ab3-4ac2-8826-3199b9a0ebf8', name: 'Dump LSASS.exe Memory using comsvcs.dll', techniques: ['T1003.001'],
    plan: { objective: 'The comsvcs.dll MiniDump export dumps LSASS.', steps: 'rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump (Get-Process lsass).id $env:TEMP\\lsass-comsvcs.dmp full', platforms: ['windows'] },
  },
  {
    scope: 'lolbas', id: 'Rundll32.exe', name: 'Rundll32.exe', techniques: ['T1218.011'],
    plan: { objective: 'AllTheThingsx64 would be a .DLL file and EntryPoint would be the name of the entry point in the .DLL file to execute.', steps: 'rundll32.exe AllTheThingsx64,EntryPoint', platforms: ['windows'] },
  },
  { scope: 'gtfobins', id: 'env', name: 'env', techniques: ['T1059.004'], plan: { objective: '', steps: '', platforms: ['linux'] } },
];

describe('PlanEditForm', () => {
  test('the procedure text reads back as its input; unknown shapes are not editable', () => {
    expect(procedureInputOf('MANUAL')).toEqual({ kind: 'MANUAL' });
    expect(procedureInputOf('LOLBAS:Rundll32.exe')).toEqual({ kind: 'LOLBAS', reference: 'Rundll32.exe' });
    expect(procedureInputOf('ATOMIC_TEST')).toBeNull();
    expect(procedureInputOf('SOMETHING:else')).toBeNull();
  });

  test('saves the whole plan with the procedure kept', async () => {
    const onSave = vi.fn(async () => true);
    const onCancel = vi.fn();
    render(<PlanEditForm plan={PLAN} busy={false} onSave={onSave} onCancel={onCancel} />);
    const title = screen.getByLabelText('Title');
    await userEvent.clear(title);
    await userEvent.type(title, 'LSASS dump via comsvcs');
    await userEvent.type(screen.getByLabelText('Tags (comma-separated)'), ', credential access');
    await userEvent.click(screen.getByRole('button', { name: 'Save plan' }));
    expect(onSave).toHaveBeenCalledWith({
      title: 'LSASS dump via comsvcs', objective: 'blocked', technique: 'T1003.001',
      procedure: { kind: 'ATOMIC_TEST', reference: '0be2230c-9ab3-4ac2-8826-3199b9a0ebf8' },
      steps: 'rundll32 comsvcs.dll MiniDump', platforms: ['windows'], targets: ['ws-01'], tags: ['q4', 'credential access'], blind: false,
    });
    expect(onCancel).toHaveBeenCalled();
  });

  test('another template found by the search replaces the procedure and brings its steps, objective and platforms; the technique follows it', async () => {
    const search = vi.fn(async (text: string) => TEMPLATES.filter((template) => template.name.toLowerCase().includes(text.toLowerCase())));
    const onSave = vi.fn(async () => true);
    render(<PlanEditForm plan={{ ...PLAN, platforms: ['windows', 'ws-image-2026'] }} busy={false} onSave={onSave} onCancel={vi.fn()} searchTemplates={search} />);
    expect(screen.getByText(/ATOMIC_TEST:0be2230c-9ab3-4ac2-8826-3199b9a0ebf8 \(as planned\)/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Search all templates (name, id or technique)'), 'rundll');
    await userEvent.click(await screen.findByRole('button', { name: 'Use lolbas template Rundll32.exe' }));
    expect(search).toHaveBeenLastCalledWith('rundll');
    expect(screen.getByRole('status')).toHaveTextContent(/^LOLBAS:Rundll32.exe \(was ATOMIC_TEST:.*\): Rundll32.exe. The technique is now T1218.011.*The steps, objective and platforms above are the template’s now/);
    expect(screen.getByLabelText('ATT&CK technique')).toHaveValue('T1218.011');
    expect(screen.getByLabelText('Steps')).toHaveValue('rundll32.exe AllTheThingsx64,EntryPoint');
    expect(screen.getByLabelText('Platforms (comma-separated)')).toHaveValue('windows');
    await userEvent.click(screen.getByRole('button', { name: 'Save plan' }));
    expect(onSave).toHaveBeenLastCalledWith({
      title: PLAN.title, objective: TEMPLATES[1].plan.objective, technique: 'T1218.011',
      procedure: { kind: 'LOLBAS', reference: 'Rundll32.exe' }, steps: 'rundll32.exe AllTheThingsx64,EntryPoint',
      platforms: ['windows'], targets: ['ws-01'], tags: ['q4'], blind: false,
    });

    // Keeping the planned procedure puts back what was written before the template.
    await userEvent.click(screen.getByRole('button', { name: 'Keep the planned procedure' }));
    expect(screen.getByLabelText('Steps')).toHaveValue(PLAN.steps);
    expect(screen.getByLabelText('Objective')).toHaveValue(PLAN.objective);
    expect(screen.getByLabelText('Platforms (comma-separated)')).toHaveValue('windows, ws-image-2026');
  });

  test('a template without a command or description leaves the steps and objective as written', async () => {
    const search = vi.fn(async (text: string) => TEMPLATES.filter((template) => template.name.toLowerCase().includes(text.toLowerCase())));
    const onSave = vi.fn(async () => true);
    render(<PlanEditForm plan={PLAN} busy={false} onSave={onSave} onCancel={vi.fn()} searchTemplates={search} />);
    await userEvent.type(screen.getByLabelText('Search all templates (name, id or technique)'), 'env');
    await userEvent.click(await screen.findByRole('button', { name: 'Use gtfobins template env' }));
    await userEvent.click(screen.getByRole('button', { name: 'Save plan' }));
    expect(onSave).toHaveBeenLastCalledWith(expect.objectContaining({
      technique: 'T1059.004', procedure: { kind: 'GTFOBINS', reference: 'env' }, steps: PLAN.steps, objective: PLAN.objective, platforms: ['linux'],
    }));
  });

  test('a plan may be written by hand instead, or go back to the planned procedure', async () => {
    const onSave = vi.fn(async () => true);
    render(<PlanEditForm plan={PLAN} busy={false} onSave={onSave} onCancel={vi.fn()} />);
    await userEvent.click(screen.getByRole('button', { name: 'Write by hand instead' }));
    expect(screen.getByText(/^MANUAL \(was ATOMIC_TEST/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Save plan' }));
    expect(onSave).toHaveBeenLastCalledWith(expect.objectContaining({ technique: 'T1003.001', procedure: { kind: 'MANUAL' } }));
    await userEvent.click(screen.getByRole('button', { name: 'Keep the planned procedure' }));
    await userEvent.click(screen.getByRole('button', { name: 'Save plan' }));
    expect(onSave).toHaveBeenLastCalledWith(expect.objectContaining({ procedure: { kind: 'ATOMIC_TEST', reference: '0be2230c-9ab3-4ac2-8826-3199b9a0ebf8' } }));
  });
});
