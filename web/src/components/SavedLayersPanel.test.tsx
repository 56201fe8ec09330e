import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { SavedLayerActions } from './SavedLayersPanel';

const refusal = (message: string, code: string) => new CombinedError({ graphQLErrors: [{ message, extensions: { code } }] });

describe('SavedLayerActions', () => {
  test('renames with the new name, and shows a refusal without leaving the form', async () => {
    const onRename = vi.fn(async (): Promise<CombinedError | null> => refusal('a layer name is 1 to 200 characters', 'VALIDATION'));
    render(<SavedLayerActions name="APT29 layer" onRename={onRename} onDelete={vi.fn(async () => null)} />);
    await userEvent.click(screen.getByRole('button', { name: 'Rename APT29 layer' }));
    const input = screen.getByLabelText('New name for APT29 layer');
    expect(screen.getByRole('button', { name: 'Save name' })).toBeDisabled();
    await userEvent.clear(input);
    await userEvent.type(input, '  APT29 (2026)  ');
    await userEvent.click(screen.getByRole('button', { name: 'Save name' }));
    expect(onRename).toHaveBeenCalledWith('APT29 (2026)');
    expect(await screen.findByRole('alert')).toHaveTextContent('VALIDATION: a layer name is 1 to 200 characters');
    expect(screen.getByLabelText('New name for APT29 layer')).toBeInTheDocument();

    onRename.mockResolvedValueOnce(null);
    await userEvent.click(screen.getByRole('button', { name: 'Save name' }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByLabelText('New name for APT29 layer')).toBeNull();
    expect(screen.getByRole('button', { name: 'Rename APT29 layer' })).toBeInTheDocument();
  });

  test('deletes only once confirmed, and shows why a delete failed', async () => {
    const onDelete = vi.fn(async (): Promise<CombinedError | null> => refusal('you may not manage saved layers', 'FORBIDDEN'));
    render(<SavedLayerActions name="APT29 layer" onRename={vi.fn(async () => null)} onDelete={onDelete} />);
    await userEvent.click(screen.getByRole('button', { name: 'Delete APT29 layer' }));
    expect(screen.getByRole('group', { name: 'Confirm deleting APT29 layer' })).toHaveTextContent('Delete “APT29 layer”?');
    await userEvent.click(screen.getByRole('button', { name: 'Keep it' }));
    expect(onDelete).not.toHaveBeenCalled();
    expect(screen.queryByRole('group')).toBeNull();

    await userEvent.click(screen.getByRole('button', { name: 'Delete APT29 layer' }));
    await userEvent.click(screen.getByRole('button', { name: 'Delete for good' }));
    expect(onDelete).toHaveBeenCalledTimes(1);
    expect(await screen.findByRole('alert')).toHaveTextContent('FORBIDDEN: you may not manage saved layers');
  });
});
