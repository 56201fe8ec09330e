import cronstrue from 'cronstrue';

/// The human reading of five cron fields, or why they are not valid.
export function describeCron(cron: string): { text: string; valid: boolean } {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return { text: 'Five fields: minute, hour, day of month, month, day of week.', valid: false };
  try {
    return { text: cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: true }), valid: true };
  } catch (error) {
    return { text: String(error), valid: false };
  }
}

export interface Recurrence { cron: string; timezone: string }

const PRESETS: [string, string][] = [
  ['0 9 * * MON', 'Mondays 09:00'],
  ['0 9 1 * *', 'Monthly'],
  ['0 9 1 */3 *', 'Quarterly'],
];

/// Cron and time zone with a preview in words, so a typo is seen before it is saved.
export function RecurrenceEditor({ value, onChange }: { value: Recurrence; onChange: (value: Recurrence) => void }) {
  const preview = describeCron(value.cron);
  return (
    <div className="grid gap-2 sm:grid-cols-2">
      <div>
        <label className="label" htmlFor="recurrence-cron">Schedule (cron: minute hour day month weekday)</label>
        <input id="recurrence-cron" className="input font-mono" value={value.cron} onChange={(e) => onChange({ ...value, cron: e.target.value })} />
        <div className="mt-1 flex flex-wrap gap-1">
          {PRESETS.map(([cron, label]) => <button type="button" key={cron} className="btn text-xs" onClick={() => onChange({ ...value, cron })}>{label}</button>)}
        </div>
      </div>
      <div>
        <label className="label" htmlFor="recurrence-timezone">Time zone (IANA)</label>
        <input id="recurrence-timezone" className="input" value={value.timezone} onChange={(e) => onChange({ ...value, timezone: e.target.value })} placeholder="Europe/Berlin" />
      </div>
      <p role="status" data-testid="cron-preview" className={`sm:col-span-2 text-sm ${preview.valid ? 'text-slate-600 dark:text-slate-300' : 'text-red-700 dark:text-red-300'}`}>
        {preview.text}{preview.valid ? ` (${value.timezone || 'UTC'})` : ''}
      </p>
    </div>
  );
}
