import { useState } from 'react';

import { api, problem } from '../api/client';
import type { Session } from '../App';

export function Login({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError('');
    const { data, error } = await api.POST('/api/v1/session', { body: { token } });
    if (data) {
      window.performance.mark('onset-signed-in');
      onSignedIn(data);
    } else setError(problem(error));
  };
  return (
    <main className="center">
      <form className="card login" onSubmit={submit}>
        <h1>Sign in to Onset</h1>
        <p className="muted">
          Use a control-plane token: the admin token is in <code>&lt;data-dir&gt;/admin-token</code>, others come from{' '}
          <code>onset token create</code>.
        </p>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          data-testid="login-token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
