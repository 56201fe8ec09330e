import { useState } from 'react';
import { Badge } from './ui';
import { humanEnum } from '../lib/format';

export const ROLES = ['ADMIN', 'RED_LEAD', 'RED_TECH', 'BLUE_LEAD', 'BLUE_TECH', 'VIEWER'] as const;
export type RoleName = (typeof ROLES)[number];

/// A user's roles as badges and, for a viewer who may manage users (admins: `grantRole` and `revokeRole`
/// need ManageUsers), a revoke button on each and a picker granting one they lack. The server still decides
/// (it refuses, say, revoking the last admin); the page shows its refusal.
export function UserRoles({ email, roles, canManage, busy = false, onGrant, onRevoke }: {
  email: string;
  roles: readonly string[];
  canManage: boolean;
  busy?: boolean;
  onGrant: (role: RoleName) => void;
  onRevoke: (role: RoleName) => void;
}) {
  const missing = ROLES.filter((role) => !roles.includes(role));
  const [choice, setChoice] = useState<RoleName | ''>('');
  const granted = choice !== '' && missing.includes(choice) ? choice : missing[0];
  return (
    <div className="flex flex-wrap items-center gap-1">
      {roles.map((role) => (
        <Badge key={role}>
          {humanEnum(role)}
          {canManage && (
            <button type="button" className="ml-1 font-bold hover:text-red-600 disabled:opacity-50" disabled={busy}
              aria-label={`Revoke ${humanEnum(role)} from ${email}`} title="Revoke"
              onClick={() => onRevoke(role as RoleName)}>×</button>
          )}
        </Badge>
      ))}
      {canManage && missing.length > 0 && (
        <span className="flex items-center gap-1">
          <label className="sr-only" htmlFor={`grant-${email}`}>Role to grant {email}</label>
          <select id={`grant-${email}`} className="input py-0 text-xs" value={granted} onChange={(event) => setChoice(event.target.value as RoleName)}>
            {missing.map((role) => <option key={role} value={role}>{humanEnum(role)}</option>)}
          </select>
          <button type="button" className="btn py-0 text-xs" disabled={busy} aria-label={`Grant role to ${email}`}
            onClick={() => granted && onGrant(granted)}>Grant</button>
        </span>
      )}
    </div>
  );
}
