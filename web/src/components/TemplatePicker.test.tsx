import { describe, expect, test, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { TemplatePicker } from './TemplatePicker';

describe('TemplatePicker', () => {
  test('asks once typing pauses and not for one letter, says when nothing matches, and shows a refusal', async () => {
    const search = vi.fn(async (text: string) => text === 'boom'
      ? new CombinedError({ graphQLErrors: [{ message: 'catalog unavailable', extensions: { code: 'INTERNAL' } }] })
      : []);
    render(<TemplatePicker idPrefix="t-" search={search} onPick={vi.fn()} />);
    const box = screen.getByLabelText('Search all templates (name, id or technique)');
    await userEvent.type(box, 'x');
    await userEvent.type(box, 'yz');
    expect(await screen.findByText('No template matches “xyz”.')).toBeInTheDocument();
    // One letter is too little to ask about; the rest came in one burst of typing.
    expect(search).not.toHaveBeenCalledWith('x');
    expect(search).toHaveBeenLastCalledWith('xyz');
    await userEvent.clear(box);
    await userEvent.type(box, 'boom');
    expect(await screen.findByRole('alert')).toHaveTextContent('INTERNAL: catalog unavailable');
  });
});
