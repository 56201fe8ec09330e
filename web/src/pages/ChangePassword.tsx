import { useState, type FormEvent } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../generated';
import { ErrorBox } from '../components/ui';
import { useSession } from '../lib/session';

const ChangePasswordDocument = graphql(`
  mutation ChangeMyPassword($currentPassword: String!, $newPassword: String!) {
    changeMyPassword(currentPassword: $currentPassword, newPassword: $newPassword)
  }
`);

/// Also the whole app while an admin's forced reset (or a first sign-in) is pending: the server refuses
/// anything else until the password is changed.
export function ChangePassword({ forced = false }: { forced?: boolean }) {
  const { restart } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const [{ fetching, error }, change] = useMutation(ChangePasswordDocument);
  const mismatch = repeat.length > 0 && next !== repeat;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (mismatch) return;
    const result = await change({ currentPassword: current, newPassword: next });
    if (result.data?.changeMyPassword) {
      setDone(true);
      setCurrent(''); setNext(''); setRepeat('');
      if (forced) restart();
    }
  };

  const form = (
    <form onSubmit={submit} className="card max-w-sm space-y-3" aria-label="Change password">
      <h2 className="text-lg font-semibold">{forced ? 'Choose a new password to continue' : 'Change password'}</h2>
      <div>
        <label className="label" htmlFor="current-password">Current password</label>
        <input id="current-password" className="input" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
      </div>
      <div>
        <label className="label" htmlFor="new-password">New password (12 to 128 characters)</label>
        <input id="new-password" className="input" type="password" autoComplete="new-password" minLength={12} maxLength={128} required value={next} onChange={(e) => setNext(e.target.value)} />
      </div>
      <div>
        <label className="label" htmlFor="repeat-password">New password again</label>
        <input id="repeat-password" className="input" type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />
      </div>
      <ErrorBox message={mismatch ? 'The two new passwords differ.' : null} />
      <ErrorBox error={error} />
      {done && !forced && <p role="status" className="text-sm text-green-700 dark:text-green-300">Password changed.</p>}
      <button className="btn-primary" type="submit" disabled={fetching || mismatch}>Change password</button>
    </form>
  );
  return forced ? <main className="flex min-h-screen items-center justify-center p-4">{form}</main> : form;
}
