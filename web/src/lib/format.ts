export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/// `2026-11-29T10:00` for a datetime-local input, in the browser's time zone.
export function toLocalInput(date: Date): string {
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function humanState(state: string): string {
  return state.replaceAll('_', ' ');
}

export function humanEnum(value: string | null | undefined): string {
  if (!value) return '—';
  return value.toLowerCase().replaceAll('_', ' ');
}
