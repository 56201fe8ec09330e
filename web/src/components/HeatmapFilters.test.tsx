import { describe, expect, test, vi } from 'vitest';
import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DEFAULT_SETTINGS, HeatmapFilters, settingsFromParams, settingsToParams } from './HeatmapFilters';

const props = {
  campaigns: [{ id: 'c1', name: 'Q4 ransomware' }],
  policies: [{ id: 'p1', name: 'Default', active: true }, { id: 'p2', name: 'Strict', active: false }],
  platforms: ['windows', 'linux'],
};

describe('HeatmapFilters', () => {
  test('each control changes one setting', async () => {
    const user = userEvent.setup();
    const onChange = vi.fn();
    render(<HeatmapFilters settings={DEFAULT_SETTINGS} onChange={onChange} {...props} />);
    await user.selectOptions(screen.getByLabelText('Domain'), 'ICS');
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_SETTINGS, domain: 'ICS' });
    await user.selectOptions(screen.getByLabelText('Campaign'), 'c1');
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_SETTINGS, campaignId: 'c1' });
    await user.selectOptions(screen.getByLabelText('Re-score with policy (side by side)'), 'p2');
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_SETTINGS, policyId: 'p2' });
    await user.type(screen.getByLabelText('Threat actor (group id)'), 'g');
    expect(onChange).toHaveBeenLastCalledWith({ ...DEFAULT_SETTINGS, threatActor: 'G' });
  });

  test('the time slider commits a moment that many days back once it stops', async () => {
    vi.useFakeTimers();
    const onChange = vi.fn();
    render(<HeatmapFilters settings={DEFAULT_SETTINGS} onChange={onChange} {...props} />);
    const slider = screen.getByLabelText('Days before now');
    act(() => {
      slider.focus();
    });
    // Range inputs take a value change event; user-event cannot drag them.
    const { fireEvent } = await import('@testing-library/react');
    fireEvent.change(slider, { target: { value: '30' } });
    expect(onChange).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(400));
    const asOf = new Date(onChange.mock.calls[0][0].asOf).getTime();
    expect(Math.round((Date.now() - asOf) / 86_400_000)).toBe(30);
    vi.useRealTimers();
  });

  test('settings round-trip through the URL, defaults left out', () => {
    const settings = { ...DEFAULT_SETTINGS, domain: 'MOBILE' as const, tag: 'q4', asOf: '2026-01-01T00:00:00.000Z' };
    const params = settingsToParams(settings);
    expect(params.has('colour')).toBe(false);
    expect(settingsFromParams(params)).toEqual(settings);
  });
});
