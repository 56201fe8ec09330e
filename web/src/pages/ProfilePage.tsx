import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '../generated';
import { Badge, Empty, ErrorBox, Loading, PageTitle } from '../components/ui';
import { ChangePassword } from './ChangePassword';
import { formatTime, humanEnum, toLocalInput, fromLocalInput } from '../lib/format';
import { useSession } from '../lib/session';

const TokensDocument = graphql(`query MyApiTokens { myApiTokens { id name scope campaignId createdAt expiresAt revokedAt } }`);
const CreateTokenDocument = graphql(`
  mutation CreateApiToken($name: String!, $scope: TokenScopeInput!, $expiresAt: DateTime!) {
    createApiToken(name: $name, scope: $scope, expiresAt: $expiresAt) { id token }
  }
`);
const RevokeTokenDocument = graphql(`mutation RevokeApiToken($id: UUID!) { revokeApiToken(id: $id) }`);
const BeginTwoFactorDocument = graphql(`mutation BeginTwoFactor { beginTwoFactor { secret otpauthUri } }`);
const ConfirmTwoFactorDocument = graphql(`mutation ConfirmTwoFactor($code: String!) { confirmTwoFactor(code: $code) }`);
const DisableTwoFactorDocument = graphql(`mutation DisableTwoFactor($code: String!) { disableTwoFactor(code: $code) }`);

const DEFAULT_TOKEN_DAYS = 90;

export function ProfilePage() {
  const { me } = useSession();
  return (
    <div className="space-y-4">
      <PageTitle>Profile</PageTitle>
      <p className="text-sm">{me.displayName} · {me.email} · {me.roles.map((role) => humanEnum(role)).join(', ')}</p>
      {me.twoFactorEnrolmentRequired && <ErrorBox message="A role of yours requires two-factor login: set it up below before doing anything else." />}
      <div className="grid gap-4 lg:grid-cols-2">
        <ChangePassword />
        <TwoFactor />
      </div>
      <ApiTokens />
    </div>
  );
}

function TwoFactor() {
  const { me, restart } = useSession();
  const [begin, beginTwoFactor] = useMutation(BeginTwoFactorDocument);
  const [confirm, confirmTwoFactor] = useMutation(ConfirmTwoFactorDocument);
  const [disable, disableTwoFactor] = useMutation(DisableTwoFactorDocument);
  const [code, setCode] = useState('');
  const recoveryCodes = confirm.data?.confirmTwoFactor;
  if (recoveryCodes) {
    return (
      <div className="card space-y-2">
        <h2 className="text-lg font-semibold">Two-factor login is on</h2>
        <p className="text-sm">Keep these recovery codes somewhere safe; they are shown this once and each works once.</p>
        <ul className="grid grid-cols-2 gap-1 font-mono text-sm" data-testid="recovery-codes">{recoveryCodes.map((recovery) => <li key={recovery}>{recovery}</li>)}</ul>
        <button className="btn" onClick={restart}>Done</button>
      </div>
    );
  }
  if (me.twoFactorEnabled) {
    return (
      <form className="card space-y-2" aria-label="Turn two-factor login off" onSubmit={async (e: FormEvent) => { e.preventDefault(); if ((await disableTwoFactor({ code })).data) restart(); }}>
        <h2 className="text-lg font-semibold">Two-factor login <Badge tone="green">on</Badge></h2>
        <label className="label" htmlFor="disable-code">Current code or a recovery code, to turn it off</label>
        <input id="disable-code" className="input" required value={code} onChange={(e) => setCode(e.target.value)} />
        <ErrorBox error={disable.error} />
        <button className="btn-danger" type="submit">Turn off</button>
      </form>
    );
  }
  const enrolment = begin.data?.beginTwoFactor;
  return (
    <div className="card space-y-2">
      <h2 className="text-lg font-semibold">Two-factor login <Badge>off</Badge></h2>
      {!enrolment ? (
        <button className="btn" onClick={() => beginTwoFactor({})}>Set up an authenticator app</button>
      ) : (
        <form className="space-y-2" aria-label="Confirm two-factor login" onSubmit={async (e: FormEvent) => { e.preventDefault(); await confirmTwoFactor({ code }); }}>
          <p className="text-sm">Add this account to your authenticator app with the key below (or open the link on the phone), then enter the code it shows.</p>
          <p className="break-all font-mono text-sm" data-testid="totp-secret">{enrolment.secret}</p>
          <a className="link break-all text-xs" href={enrolment.otpauthUri}>{enrolment.otpauthUri}</a>
          <label className="label" htmlFor="totp-code">Code</label>
          <input id="totp-code" className="input" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} />
          <ErrorBox error={confirm.error} />
          <button className="btn-primary" type="submit">Confirm</button>
        </form>
      )}
      <ErrorBox error={begin.error} />
    </div>
  );
}

function ApiTokens() {
  const [{ data, error, fetching }] = useQuery({ query: TokensDocument });
  const [created, createToken] = useMutation(CreateTokenDocument);
  const [revoked, revokeToken] = useMutation(RevokeTokenDocument);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'FULL' | 'READ_ONLY'>('READ_ONLY');
  const [expiresAt, setExpiresAt] = useState(toLocalInput(new Date(Date.now() + DEFAULT_TOKEN_DAYS * 86_400_000)));
  const [copied, setCopied] = useState(false);
  const token = created.data?.createApiToken.token;
  return (
    <section className="card space-y-3" aria-label="API tokens">
      <h2 className="text-lg font-semibold">API tokens</h2>
      <form className="flex flex-wrap items-end gap-2" aria-label="Create API token" onSubmit={async (e) => { e.preventDefault(); setCopied(false); await createToken({ name, scope: { kind: scope }, expiresAt: fromLocalInput(expiresAt)! }); setName(''); }}>
        <div><label className="label" htmlFor="token-name">Name</label><input id="token-name" className="input" required value={name} onChange={(e) => setName(e.target.value)} /></div>
        <div><label className="label" htmlFor="token-scope">Scope</label>
          <select id="token-scope" className="input" value={scope} onChange={(e) => setScope(e.target.value as 'FULL' | 'READ_ONLY')}>
            <option value="READ_ONLY">Read only</option><option value="FULL">Full (my roles)</option>
          </select></div>
        <div><label className="label" htmlFor="token-expiry">Expires</label><input id="token-expiry" type="datetime-local" className="input" required value={expiresAt} onChange={(e) => setExpiresAt(e.target.value)} /></div>
        <button className="btn-primary" type="submit" disabled={created.fetching}>Create token</button>
      </form>
      <ErrorBox error={created.error ?? revoked.error} />
      {token && (
        <div className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-700 dark:bg-amber-950">
          <p className="font-semibold">Copy the token now: it is shown this once.</p>
          <code className="block break-all" data-testid="new-token">{token}</code>
          <button className="btn mt-2" onClick={async () => { await navigator.clipboard.writeText(token); setCopied(true); }}>{copied ? 'Copied' : 'Copy'}</button>
        </div>
      )}
      {fetching && !data && <Loading what="your tokens" />}
      <ErrorBox error={error} />
      {data && data.myApiTokens.length === 0 && <Empty>No API tokens.</Empty>}
      {data && data.myApiTokens.length > 0 && (
        <table className="table">
          <thead><tr><th>Name</th><th>Scope</th><th>Created</th><th>Expires</th><th></th></tr></thead>
          <tbody>{data.myApiTokens.map((item) => (
            <tr key={item.id}>
              <td>{item.name}</td><td>{humanEnum(item.scope)}</td><td>{formatTime(item.createdAt)}</td><td>{formatTime(item.expiresAt)}</td>
              <td>{item.revokedAt ? `revoked ${formatTime(item.revokedAt)}` : <button className="btn" onClick={() => revokeToken({ id: item.id })}>Revoke</button>}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
