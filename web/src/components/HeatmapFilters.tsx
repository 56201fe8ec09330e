import { useEffect, useState } from 'react';
import { fromLocalInput, toLocalInput } from '../lib/format';

export interface HeatmapSettings {
  domain: 'ENTERPRISE' | 'MOBILE' | 'ICS';
  colour: 'score' | 'outcome';
  platform: string;
  campaignId: string;
  threatActor: string;
  tag: string;
  /// ISO time, empty for now.
  asOf: string;
  /// Another policy's id for the side-by-side re-score, empty for none.
  policyId: string;
  /// Diff mode: the earlier moment (ISO), empty for off.
  diffFrom: string;
  search: string;
}

export const DEFAULT_SETTINGS: HeatmapSettings = {
  domain: 'ENTERPRISE', colour: 'score', platform: '', campaignId: '', threatActor: '', tag: '', asOf: '', policyId: '', diffFrom: '', search: '',
};

const SLIDER_DAYS = 365;
const DAY = 86_400_000;

interface Props {
  settings: HeatmapSettings;
  onChange: (settings: HeatmapSettings) => void;
  campaigns: { id: string; name: string }[];
  policies: { id: string; name: string; active: boolean }[];
  platforms: string[];
}

/// Every control of the heatmap. The time slider moves the as-of moment by whole days back from now and
/// commits after the hand stops (each position is a query).
export function HeatmapFilters({ settings, onChange, campaigns, policies, platforms }: Props) {
  const set = <K extends keyof HeatmapSettings>(key: K, value: HeatmapSettings[K]) => onChange({ ...settings, [key]: value });
  const daysBack = settings.asOf ? Math.max(0, Math.round((Date.now() - new Date(settings.asOf).getTime()) / DAY)) : 0;
  const [sliderDays, setSliderDays] = useState(daysBack);
  useEffect(() => setSliderDays(daysBack), [daysBack]);
  useEffect(() => {
    if (sliderDays === daysBack) return;
    const timer = setTimeout(() => {
      set('asOf', sliderDays === 0 ? '' : new Date(Date.now() - sliderDays * DAY).toISOString());
    }, 350);
    return () => clearTimeout(timer);
  }, [sliderDays]);

  return (
    // Sized by its own width (a container query), not the window's: the technique drawer takes a third of it.
    <div className="@container card mb-3" aria-label="Heatmap filters" role="form">
    <div className="grid grid-cols-2 gap-3 @2xl:grid-cols-4 @5xl:grid-cols-6">
      <div>
        <label className="label" htmlFor="hm-domain">Domain</label>
        <select id="hm-domain" className="input" value={settings.domain} onChange={(e) => set('domain', e.target.value as HeatmapSettings['domain'])}>
          <option value="ENTERPRISE">Enterprise</option>
          <option value="MOBILE">Mobile</option>
          <option value="ICS">ICS</option>
        </select>
      </div>
      <div>
        <label className="label" htmlFor="hm-colour">Colour by</label>
        <select id="hm-colour" className="input" value={settings.colour} onChange={(e) => set('colour', e.target.value as HeatmapSettings['colour'])}>
          <option value="score">Score</option>
          <option value="outcome">Best outcome</option>
        </select>
      </div>
      <div>
        <label className="label" htmlFor="hm-platform">Platform</label>
        <select id="hm-platform" className="input" value={settings.platform} onChange={(e) => set('platform', e.target.value)}>
          <option value="">All platforms</option>
          {platforms.map((platform) => <option key={platform} value={platform}>{platform}</option>)}
        </select>
      </div>
      <div>
        <label className="label" htmlFor="hm-campaign">Campaign</label>
        <select id="hm-campaign" className="input" value={settings.campaignId} onChange={(e) => set('campaignId', e.target.value)}>
          <option value="">All campaigns</option>
          {campaigns.map((campaign) => <option key={campaign.id} value={campaign.id}>{campaign.name}</option>)}
        </select>
      </div>
      <div>
        <label className="label" htmlFor="hm-actor">Threat actor (group id)</label>
        <input id="hm-actor" className="input" placeholder="G0016" value={settings.threatActor} onChange={(e) => set('threatActor', e.target.value.trim().toUpperCase())} />
      </div>
      <div>
        <label className="label" htmlFor="hm-tag">Tag</label>
        <input id="hm-tag" className="input" value={settings.tag} onChange={(e) => set('tag', e.target.value.trim())} />
      </div>
      <div className="col-span-2">
        <label className="label" htmlFor="hm-asof">As of</label>
        <div className="flex gap-2">
          <input id="hm-asof" type="datetime-local" className="input" value={settings.asOf ? toLocalInput(new Date(settings.asOf)) : ''}
            onChange={(e) => set('asOf', fromLocalInput(e.target.value) ?? '')} />
          <button type="button" className="btn" disabled={!settings.asOf} onClick={() => set('asOf', '')}>Now</button>
        </div>
        <input aria-label="Days before now" type="range" min={0} max={SLIDER_DAYS} value={sliderDays} className="mt-1 w-full"
          onChange={(e) => setSliderDays(Number(e.target.value))} />
        <div className="text-xs text-slate-500">{sliderDays === 0 ? 'now' : `${sliderDays} days ago`}</div>
      </div>
      <div className="col-span-2">
        <label className="label" htmlFor="hm-policy">Re-score with policy (side by side)</label>
        <select id="hm-policy" className="input" value={settings.policyId} onChange={(e) => set('policyId', e.target.value)}>
          <option value="">Only the policy in force</option>
          {policies.map((policy) => <option key={policy.id} value={policy.id}>{policy.name}{policy.active ? ' (active)' : ''}</option>)}
        </select>
      </div>
      <div className="col-span-2">
        <label className="label" htmlFor="hm-diff">Diff: changes since</label>
        <div className="flex gap-2">
          <input id="hm-diff" type="datetime-local" className="input" value={settings.diffFrom ? toLocalInput(new Date(settings.diffFrom)) : ''}
            onChange={(e) => set('diffFrom', fromLocalInput(e.target.value) ?? '')} />
          <button type="button" className="btn" disabled={!settings.diffFrom} onClick={() => set('diffFrom', '')}>Off</button>
        </div>
      </div>
      <div className="col-span-2">
        <label className="label" htmlFor="hm-search">Find technique</label>
        <input id="hm-search" className="input" placeholder="T1003 or credential" value={settings.search} onChange={(e) => set('search', e.target.value)} />
      </div>
    </div>
    </div>
  );
}

export function settingsFromParams(params: URLSearchParams): HeatmapSettings {
  const settings = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof HeatmapSettings)[]) {
    const value = params.get(key);
    if (value !== null) (settings as Record<string, string>)[key] = value;
  }
  return settings;
}

export function settingsToParams(settings: HeatmapSettings): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(settings)) {
    if (value && value !== (DEFAULT_SETTINGS as unknown as Record<string, string>)[key]) params.set(key, value);
  }
  return params;
}
