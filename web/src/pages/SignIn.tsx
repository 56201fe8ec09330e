import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../generated';
import { ErrorBox } from '../components/ui';
import { describeError } from '../lib/errors';

const LoginDocument = graphql(`
  mutation Login($email: String!, $password: String!, $secondFactor: String) {
    login(email: $email, password: $password, secondFactor: $secondFactor) { userId passwordChangeRequired }
  }
`);

/// The server answers a missing second factor with this message (UNAUTHENTICATED, like a wrong password,
/// so that it reveals nothing to someone without the password).
const SECOND_FACTOR_HINT = 'authenticator app';

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [needsCode, setNeedsCode] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [{ fetching }, login] = useMutation(LoginDocument);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    const result = await login({ email, password, secondFactor: needsCode ? code : null });
    if (result.data) return onSignedIn();
    const message = describeError(result.error);
    if (!needsCode && message?.includes(SECOND_FACTOR_HINT)) {
      setNeedsCode(true);
      return;
    }
    setError(message);
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <form onSubmit={submit} className="card w-full max-w-sm space-y-3" aria-label="Sign in">
        <h1 className="flex items-center gap-2 text-xl font-semibold"><img src="/favicon.svg" alt="" className="h-7 w-7" /> Sign in to Aegis</h1>
        <div>
          <label className="label" htmlFor="email">E-mail address</label>
          <input id="email" className="input" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} disabled={needsCode} />
        </div>
        <div>
          <label className="label" htmlFor="password">Password</label>
          <input id="password" className="input" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} disabled={needsCode} />
        </div>
        {needsCode && (
          <div>
            <label className="label" htmlFor="code">Code from your authenticator app (or a recovery code)</label>
            <input id="code" className="input" autoComplete="one-time-code" inputMode="numeric" autoFocus required value={code} onChange={(e) => setCode(e.target.value)} />
          </div>
        )}
        <ErrorBox message={error} />
        <button className="btn-primary w-full justify-center" type="submit" disabled={fetching}>
          {fetching ? 'Signing in…' : needsCode ? 'Verify code' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
