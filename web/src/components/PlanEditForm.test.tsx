import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PlanEditForm, procedureInputOf } from './PlanEditForm';

const PLAN = {
  title: 'LSASS dump', objective: 'blocked', technique: 'T1003.001', procedure: 'ATOMIC_TEST:0be2230c-9ab3-4ac2-8826-3199b9a0ebf8',
  steps: 'rundll32 comsvcs.dll MiniDump', platforms: ['windows'], targets: ['ws-01'], tags: ['q4'], blind: false,
};

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
});
