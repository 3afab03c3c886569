import { useCallback, useEffect, useState } from 'react';

import { Copy } from './Copy';
import { keyring, portal, type ApiKey, type Application, type CreatedApplication, type IssuedKeys, type Subscription } from './client';

/** Keys shown this once, with a way to copy each. */
export function IssuedKeysPanel({ keys }: { keys: IssuedKeys }) {
  return (
    <div className="card notice" data-testid="issued-keys">
      <h3>New keys (shown this once; this tab keeps them for the console)</h3>
      <dl className="pairs">
        <dt>Sandbox key (development)</dt>
        <dd>
          <code data-testid="sandbox-key">{keys.sandbox}</code> <Copy text={keys.sandbox} label="Copy the sandbox key" />
        </dd>
        <dt>Production key (production)</dt>
        <dd>
          <code data-testid="production-key">{keys.production}</code>{' '}
          <Copy text={keys.production} label="Copy the production key" />
        </dd>
      </dl>
    </div>
  );
}

/** The consumer's applications: their client credentials, keys and subscriptions. */
export function Applications() {
  const [apps, setApps] = useState<Application[]>([]);
  const [keys, setKeys] = useState<Record<string, ApiKey[]>>({});
  const [subs, setSubs] = useState<Subscription[]>([]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedApplication | null>(null);
  const [issued, setIssued] = useState<IssuedKeys | null>(null);
  const [error, setError] = useState('');

  const load = useCallback(async () => {
    try {
      const list = await portal.applications();
      setApps(list);
      const all = await Promise.all(list.map((a) => portal.keys(a.id).then((k) => [a.id, k] as const)));
      setKeys(Object.fromEntries(all));
      setSubs(await portal.subscriptions());
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);

  const act = async (what: () => Promise<unknown>) => {
    setError('');
    try {
      await what();
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const create = (e: React.FormEvent) => {
    e.preventDefault();
    act(async () => {
      setCreated(await portal.createApplication(name));
      setName('');
    });
  };
  const issue = (a: Application) => {
    const has = (keys[a.id] ?? []).length > 0;
    if (has && !window.confirm(`New keys replace ${a.name}'s current keys, which stop working at once. Go on?`)) return;
    act(async () => {
      const k = await portal.issueKeys(a.id);
      keyring.put(k);
      setIssued(k);
    });
  };
  const remove = (a: Application) => {
    if (!window.confirm(`Delete ${a.name}? Its keys and subscriptions end at once.`)) return;
    act(async () => {
      await portal.deleteApplication(a.id);
      keyring.forget(a.id);
    });
  };

  return (
    <section>
      <div className="row">
        <h1>Applications</h1>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <form className="row" onSubmit={create}>
        <label className="inline" htmlFor="app-name">
          New application
        </label>
        <input id="app-name" data-testid="app-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
        <button type="submit">Create application</button>
      </form>
      {created && (
        <div className="card notice" data-testid="created-application">
          <h3>{created.name}: its client credentials (the secret is shown this once)</h3>
          <dl className="pairs">
            <dt>Client id</dt>
            <dd>
              <code data-testid="client-id">{created.client_id}</code>
            </dd>
            <dt>Client secret</dt>
            <dd>
              <code data-testid="client-secret">{created.client_secret}</code>{' '}
              <Copy text={created.client_secret} label="Copy the client secret" />
            </dd>
          </dl>
          <p className="muted">
            With them an application gets OAuth2 access tokens from <code>POST /oauth2/token</code> (client credentials grant).
          </p>
        </div>
      )}
      {issued && <IssuedKeysPanel keys={issued} />}
      {apps.length === 0 ? (
        <p className="muted">You have no application yet: create one, subscribe it to an API, then get its keys.</p>
      ) : (
        <table className="table" data-testid="application-list">
          <caption className="sr-only">Your applications</caption>
          <thead>
            <tr>
              <th scope="col">Application</th>
              <th scope="col">Client id</th>
              <th scope="col">Keys</th>
              <th scope="col">Subscriptions</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {apps.map((a) => (
              <tr key={a.id} data-testid={`application-${a.name}`}>
                <td>{a.name}</td>
                <td>
                  <code>{a.client_id}</code>
                </td>
                <td>
                  {(keys[a.id] ?? []).length === 0
                    ? 'none yet'
                    : (keys[a.id] ?? []).map((k) => (
                        <div key={k.kind}>
                          {k.kind}: <code>{k.prefix}…</code>
                        </div>
                      ))}
                </td>
                <td>
                  {subs
                    .filter((s) => s.application_id === a.id)
                    .map((s) => (
                      <div key={s.id}>
                        <a href={`#/api/${encodeURIComponent(s.environment)}/${encodeURIComponent(s.component)}`}>{s.component}</a> in{' '}
                        {s.environment} ({s.plan}){' '}
                        <button
                          type="button"
                          className="link"
                          aria-label={`Unsubscribe ${a.name} from ${s.component} in ${s.environment}`}
                          onClick={() => act(() => portal.unsubscribe(s.id))}
                        >
                          unsubscribe
                        </button>
                      </div>
                    ))}
                </td>
                <td className="actions">
                  <button type="button" data-testid={`issue-keys-${a.name}`} onClick={() => issue(a)}>
                    {(keys[a.id] ?? []).length ? 'Regenerate keys' : 'Generate keys'}
                  </button>{' '}
                  <button type="button" className="danger" onClick={() => remove(a)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
