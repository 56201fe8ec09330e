import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { UserRoles } from './UserRoles';

describe('UserRoles', () => {
  test('a viewer who may not manage users sees the roles and no buttons', () => {
    render(<UserRoles email="red@example.org" roles={['RED_LEAD']} canManage={false} onGrant={vi.fn()} onRevoke={vi.fn()} />);
    expect(screen.getByText('red lead')).toBeInTheDocument();
    expect(screen.queryAllByRole('button')).toHaveLength(0);
    expect(screen.queryByRole('combobox')).toBeNull();
  });

  test('an admin revokes a held role and grants only roles the user lacks', async () => {
    const onGrant = vi.fn();
    const onRevoke = vi.fn();
    render(<UserRoles email="red@example.org" roles={['RED_LEAD', 'VIEWER']} canManage onGrant={onGrant} onRevoke={onRevoke} />);
    await userEvent.click(screen.getByRole('button', { name: 'Revoke viewer from red@example.org' }));
    expect(onRevoke).toHaveBeenCalledWith('VIEWER');
    const picker = screen.getByRole('combobox', { name: 'Role to grant red@example.org' });
    const offered = [...picker.querySelectorAll('option')].map((option) => option.value);
    expect(offered).toEqual(['ADMIN', 'RED_TECH', 'BLUE_LEAD', 'BLUE_TECH']);
    await userEvent.selectOptions(picker, 'BLUE_TECH');
    await userEvent.click(screen.getByRole('button', { name: 'Grant role to red@example.org' }));
    expect(onGrant).toHaveBeenCalledWith('BLUE_TECH');
  });

  test('a user holding every role is offered nothing to grant; buttons wait while a change runs', () => {
    render(<UserRoles email="all@example.org" roles={['ADMIN', 'RED_LEAD', 'RED_TECH', 'BLUE_LEAD', 'BLUE_TECH', 'VIEWER']} canManage busy onGrant={vi.fn()} onRevoke={vi.fn()} />);
    expect(screen.queryByRole('combobox')).toBeNull();
    const revokes = screen.getAllByRole('button', { name: /^Revoke / });
    expect(revokes).toHaveLength(6);
    for (const button of revokes) expect(button).toBeDisabled();
  });
});
