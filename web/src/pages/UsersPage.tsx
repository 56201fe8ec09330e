import { useCallback, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { ErrorBox, Loading, PageTitle, Pager } from '../components/ui';
import { ROLES, UserRoles, type RoleName } from '../components/UserRoles';
import { hasRole, useSession } from '../lib/session';
import { UsersDocument } from '../lib/queries';
import { formatTime, humanEnum } from '../lib/format';
import { useSettle } from '../lib/useSettle';

const CreateUserDocument = graphql(`
  mutation CreateUser($email: String!, $displayName: String!, $roles: [RoleName!]!) {
    createUser(email: $email, displayName: $displayName, roles: $roles) { id oneTimePassword }
  }
`);
const DeactivateDocument = graphql(`mutation DeactivateUser($userId: UUID!) { deactivateUser(userId: $userId) }`);
const ReactivateDocument = graphql(`mutation ReactivateUser($userId: UUID!) { reactivateUser(userId: $userId) }`);
const GrantRoleDocument = graphql(`mutation GrantRole($userId: UUID!, $role: RoleName!) { grantRole(userId: $userId, role: $role) }`);
const RevokeRoleDocument = graphql(`mutation RevokeRole($userId: UUID!, $role: RoleName!) { revokeRole(userId: $userId, role: $role) }`);
const PAGE_SIZE = 50;

export function UsersPage() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error, fetching }, refetch] = useQuery({ query: UsersDocument, variables: { first: PAGE_SIZE, after: cursors[cursors.length - 1] } });
  // Users are a read model: a change shows once the projector has applied it.
  const settle = useSettle(useCallback(() => refetch({ requestPolicy: 'network-only' }), [refetch]));
  const [created, createUser] = useMutation(CreateUserDocument);
  const [deactivated, deactivate] = useMutation(DeactivateDocument);
  const [reactivated, reactivate] = useMutation(ReactivateDocument);
  const [granted, grantRole] = useMutation(GrantRoleDocument);
  const [revoked, revokeRole] = useMutation(RevokeRoleDocument);
  // Granting and revoking need ManageUsers, which only admins hold (domain/src/access.rs).
  const { me } = useSession();
  const canManageRoles = !me.readOnly && hasRole(me, 'ADMIN');
  const [email, setEmail] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [roles, setRoles] = useState<RoleName[]>(['VIEWER']);
  const [createdFor, setCreatedFor] = useState<string | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await createUser({ email, displayName, roles });
    if (result.data) {
      setCreatedFor(email);
      setEmail(''); setDisplayName('');
      settle();
    }
  };
  const password = created.data?.createUser.oneTimePassword;
  return (
    <div className="space-y-4">
      <PageTitle>Users and roles</PageTitle>
      <form className="card flex flex-wrap items-end gap-3" aria-label="Create user" onSubmit={submit}>
        <div><label className="label" htmlFor="user-email">E-mail</label><input id="user-email" type="email" className="input" required value={email} onChange={(e) => setEmail(e.target.value)} /></div>
        <div><label className="label" htmlFor="user-name">Display name</label><input id="user-name" className="input" required value={displayName} onChange={(e) => setDisplayName(e.target.value)} /></div>
        <fieldset className="flex flex-wrap gap-2 text-sm"><legend className="label">Roles</legend>
          {ROLES.map((role) => (
            <label key={role} className="flex items-center gap-1">
              <input type="checkbox" checked={roles.includes(role)} onChange={(e) => setRoles(e.target.checked ? [...roles, role] : roles.filter((r) => r !== role))} /> {humanEnum(role)}
            </label>
          ))}
        </fieldset>
        <button className="btn-primary" type="submit" disabled={created.fetching || roles.length === 0}>Create user</button>
      </form>
      <ErrorBox error={created.error ?? deactivated.error ?? reactivated.error ?? granted.error ?? revoked.error} />
      {password && createdFor && (
        <div className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-700 dark:bg-amber-950">
          One-time password for {createdFor} (shown once; they choose their own at first sign-in): <code data-testid="one-time-password">{password}</code>
        </div>
      )}
      {fetching && !data && <Loading what="users" />}
      <ErrorBox error={error} />
      {data && (
        <table className="table card">
          <thead><tr><th>E-mail</th><th>Name</th><th>Roles</th><th>2FA</th><th>Created</th><th></th></tr></thead>
          <tbody>{data.users.nodes.map((user) => (
            <tr key={user.id} className={user.active ? '' : 'opacity-60'}>
              <td>{user.email}</td><td>{user.displayName}</td>
              <td><UserRoles email={user.email} roles={user.roles} canManage={canManageRoles} busy={granted.fetching || revoked.fetching}
                onGrant={(role: RoleName) => grantRole({ userId: user.id, role }).then(settle)}
                onRevoke={(role: RoleName) => revokeRole({ userId: user.id, role }).then(settle)} /></td>
              <td>{user.twoFactorEnabled ? 'on' : 'off'}</td><td>{formatTime(user.createdAt)}</td>
              <td>{user.active
                ? <button className="btn" onClick={() => deactivate({ userId: user.id }).then(settle)}>Deactivate</button>
                : <button className="btn" onClick={() => reactivate({ userId: user.id }).then(settle)}>Reactivate</button>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
      {data && <Pager cursors={cursors} endCursor={data.users.pageInfo.endCursor} hasNextPage={data.users.pageInfo.hasNextPage} onChange={setCursors} />}
    </div>
  );
}
