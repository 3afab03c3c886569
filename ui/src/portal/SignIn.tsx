import { useState } from 'react';

import { portal, type Consumer } from './client';

/** Sign-in and sign-up with a portal account (an e-mail address and a password of 10 or more characters). */
export function SignIn({
  mode,
  onSignedIn,
  reason,
}: {
  mode: 'sign-in' | 'sign-up';
  onSignedIn: (c: Consumer) => void;
  reason?: string;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const up = mode === 'sign-up';
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    setBusy(true);
    try {
      onSignedIn(up ? await portal.signUp(email, password, name) : await portal.signIn(email, password));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="center-block">
      <form className="card login" onSubmit={submit} aria-labelledby="account-title">
        <h1 id="account-title">{up ? 'Create a portal account' : 'Sign in to the portal'}</h1>
        <p className="muted">
          {reason ?? 'Portal accounts are for the consumers of these APIs; they are not the tokens of the Onset studio.'}
        </p>
        {up && (
          <>
            <label htmlFor="portal-name">Name</label>
            <input id="portal-name" data-testid="portal-name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
          </>
        )}
        <label htmlFor="portal-email">E-mail address</label>
        <input
          id="portal-email"
          data-testid="portal-email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
        />
        <label htmlFor="portal-password">Password{up ? ' (10 characters or more)' : ''}</label>
        <input
          id="portal-password"
          data-testid="portal-password"
          type="password"
          autoComplete={up ? 'new-password' : 'current-password'}
          minLength={up ? 10 : undefined}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {up ? 'Create account' : 'Sign in'}
        </button>
        <p className="muted">
          {up ? (
            <>
              Have an account? <a href="#/sign-in">Sign in</a>
            </>
          ) : (
            <>
              New here? <a href="#/sign-up">Create an account</a>
            </>
          )}
        </p>
      </form>
    </section>
  );
}
