import { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { SECURITY } from './Apis';
import { IssuedKeysPanel } from './Applications';
import { Copy } from './Copy';
import {
  keyring,
  portal,
  save,
  type Application,
  type Consumer,
  type IssuedKeys,
  type OpenApi,
  type Plan,
  type PublishedApi,
  type Subscription,
} from './client';
import { curl, operations, type Credential } from './curl';
import { mount, type SwaggerUi } from './swagger';

/**
 * One API in one environment: its documentation and console (Swagger UI), subscribing an
 * application under a plan, the credential the console and the commands use, and a cURL command
 * per operation.
 */
export function ApiPage({ me, environment, component }: { me: Consumer | null; environment: string; component: string }) {
  const [api, setApi] = useState<PublishedApi | null>(null);
  const [doc, setDoc] = useState<OpenApi | null>(null);
  const [error, setError] = useState('');
  const [plans, setPlans] = useState<Plan[]>([]);
  const [apps, setApps] = useState<Application[]>([]);
  const [subs, setSubs] = useState<Subscription[]>([]);
  const [appId, setAppId] = useState('');
  const [plan, setPlan] = useState('Bronze');
  const [secret, setSecret] = useState('');
  const [issued, setIssued] = useState<IssuedKeys | null>(null);
  const [note, setNote] = useState('');

  const production = environment === 'production';
  const security = api?.security ?? 'none';

  const loadMine = useCallback(async () => {
    if (!me) return;
    const [a, s] = await Promise.all([portal.applications(), portal.subscriptions()]);
    setApps(a);
    setSubs(s);
    // The application the console uses: one subscribed here first.
    setAppId((current) => {
      if (current && a.some((x) => x.id === current)) return current;
      const here = s.find((x) => x.component === component && x.environment === environment);
      return here?.application_id ?? a[0]?.id ?? '';
    });
  }, [me, component, environment]);

  useEffect(() => {
    Promise.all([portal.apis(), portal.document(environment, component), portal.plans()])
      .then(([list, d, p]) => {
        setApi(list.find((x) => x.component === component && x.environment === environment) ?? null);
        setDoc(d);
        setPlans(p);
      })
      .catch((e: Error) => setError(e.message));
    loadMine().catch((e: Error) => setError(e.message));
  }, [component, environment, loadMine]);

  // The key this tab holds for the application, when the API takes keys.
  useEffect(() => {
    if (security !== 'api_key') return;
    const held = appId ? keyring.get(appId) : null;
    setSecret(held ? (production ? held.production : held.sandbox) : '');
  }, [appId, security, production]);

  const credential: Credential = useMemo(() => {
    if (!secret) return null;
    return security === 'api_key' ? { kind: 'api_key', value: secret } : { kind: 'token', value: secret };
  }, [secret, security]);

  // The console: Swagger UI over the document, sending the credential.
  const consoleRef = useRef<HTMLDivElement>(null);
  const swagger = useRef<SwaggerUi | null>(null);
  const current = useRef<Credential>(null);
  current.current = credential;
  useEffect(() => {
    if (!doc || !consoleRef.current) return;
    let gone = false;
    mount({
      domNode: consoleRef.current,
      spec: doc,
      requestInterceptor: (req) => {
        const c = current.current;
        if (c?.kind === 'token' && !req.headers.Authorization) req.headers.Authorization = `Bearer ${c.value}`;
        return req;
      },
      onComplete: () => {
        if (!gone && current.current?.kind === 'api_key') swagger.current?.preauthorizeApiKey('apiKey', current.current.value);
      },
    }).then(
      (ui) => {
        if (!gone) swagger.current = ui;
      },
      (e: Error) => setError(e.message),
    );
    return () => {
      gone = true;
      swagger.current = null;
    };
  }, [doc]);
  useEffect(() => {
    if (credential?.kind === 'api_key') swagger.current?.preauthorizeApiKey('apiKey', credential.value);
  }, [credential]);
  // Swagger UI leaves a few controls without a name (the server list, the request body): they
  // get one, so a screen reader can say what they are.
  useEffect(() => {
    const root = consoleRef.current;
    if (!root) return;
    const name = () => {
      for (const el of root.querySelectorAll<HTMLElement>('select, textarea, input')) {
        // (The server list sits in a label of no text of its own.)
        const labelled = [...((el as HTMLInputElement).labels ?? [])].some((l) => l.innerText.trim() !== (el.innerText ?? '').trim());
        if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || labelled) continue;
        const label =
          el.id === 'servers'
            ? 'Server'
            : el.tagName === 'TEXTAREA'
              ? 'Request body'
              : (el.getAttribute('placeholder') ?? el.getAttribute('title') ?? el.className.split(' ')[0] ?? 'Value');
        el.setAttribute('aria-label', label);
      }
    };
    // Its code blocks (the answer, its cURL line) scroll: they take the keyboard's focus.
    const focusable = () => {
      for (const el of root.querySelectorAll<HTMLElement>('pre:not([tabindex]), .curl:not([tabindex])')) el.tabIndex = 0;
    };
    const watch = new MutationObserver(() => {
      name();
      focusable();
    });
    watch.observe(root, { childList: true, subtree: true });
    return () => watch.disconnect();
  }, []);

  const act = async (what: () => Promise<void>) => {
    setError('');
    setNote('');
    try {
      await what();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const subscribe = (e: React.FormEvent) => {
    e.preventDefault();
    act(async () => {
      const s = await portal.subscribe(appId, component, environment, plan);
      setNote(`Subscribed under ${s.plan}.`);
      await loadMine();
    });
  };
  const issueKeys = () => {
    const app = apps.find((a) => a.id === appId);
    if (!app) return;
    if (!window.confirm(`New keys replace ${app.name}'s current keys, which stop working at once. Go on?`)) return;
    act(async () => {
      const k = await portal.issueKeys(app.id);
      keyring.put(k);
      setIssued(k);
      setSecret(production ? k.production : k.sandbox);
    });
  };
  const testToken = () =>
    act(async () => {
      const t = await portal.token(appId);
      setSecret(t.access_token);
      setNote(`A test token for ${Math.round(t.expires_in / 60)} minutes${t.scope ? ` with the scopes ${t.scope}` : ''}.`);
    });

  // The API's documents; the Postman environment carries the credential this page holds.
  const download = (file: 'openapi' | 'collection' | 'environment') =>
    act(async () => {
      if (file === 'openapi') return save(`${component}.${environment}.openapi.json`, doc);
      const got = await portal.postman(environment, component, file);
      if (file === 'collection') return save(`${component}.${environment}.postman_collection.json`, got);
      for (const v of got.values ?? []) {
        if (secret && (v.key === 'apiKey' || v.key === 'accessToken')) v.value = secret;
      }
      save(`${component}.${environment}.postman_environment.json`, got);
    });

  if (error && !doc) {
    return (
      <section>
        <h1>{component}</h1>
        <p role="alert" className="error">
          {error}
        </p>
      </section>
    );
  }
  const mine = subs.filter((s) => s.component === component && s.environment === environment);
  const ops = doc ? operations(doc) : [];
  const appName = (id: string) => apps.find((a) => a.id === id)?.name ?? id;
  return (
    <section className="api-page">
      <div className="row">
        <h1>
          {component} <span className="badge">{environment}</span>
        </h1>
        {api && <span className="muted">{SECURITY[api.security] ?? api.security}</span>}
      </div>
      {api?.lifecycle === 'deprecated' && (
        <p className="card warning" role="note">
          This API is deprecated: it still answers, but it will be retired. Move to its successor.
        </p>
      )}
      {api && (
        <p className="row">
          <span>
            Base URL: <code data-testid="api-url">{api.url}</code>
          </span>
          <button type="button" className="secondary" onClick={() => download('openapi')}>
            OpenAPI document
          </button>
          <button type="button" className="secondary" onClick={() => download('collection')}>
            Postman collection
          </button>
          <button type="button" className="secondary" onClick={() => download('environment')}>
            Postman environment{secret ? ' (with your credential)' : ''}
          </button>
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {note && (
        <p role="status" className="ok">
          {note}
        </p>
      )}

      <div className="split">
        <div className="card">
          <h2>Subscribe</h2>
          {!me ? (
            <p>
              <a href="#/sign-in">Sign in</a> or <a href="#/sign-up">create an account</a> to subscribe an application and get keys.
            </p>
          ) : apps.length === 0 ? (
            <p>
              First <a href="#/applications">create an application</a>.
            </p>
          ) : (
            <form onSubmit={subscribe}>
              <label htmlFor="sub-app">Application</label>
              <select id="sub-app" data-testid="sub-app" value={appId} onChange={(e) => setAppId(e.target.value)}>
                {apps.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
              <label htmlFor="sub-plan">Plan</label>
              <select id="sub-plan" data-testid="sub-plan" value={plan} onChange={(e) => setPlan(e.target.value)}>
                {plans.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name} — {p.rate_limit ?? 'no rate limit'}
                    {p.daily_quota ? `, ${p.daily_quota}/day` : ''}
                    {p.monthly_quota ? `, ${p.monthly_quota}/month` : ''}
                  </option>
                ))}
              </select>{' '}
              <button type="submit" data-testid="subscribe">
                Subscribe
              </button>
            </form>
          )}
          {mine.length > 0 && (
            <ul data-testid="subscriptions">
              {mine.map((s) => (
                <li key={s.id}>
                  {appName(s.application_id)} is subscribed under {s.plan}
                </li>
              ))}
            </ul>
          )}
        </div>

        <div className="card">
          <h2>Credentials for the console and cURL</h2>
          {security === 'none' && <p>This API takes no credentials.</p>}
          {security === 'api_key' && (
            <>
              <p className="muted">
                {production ? 'A production key' : 'A sandbox key'} of a subscribed application. Keys are shown once; this tab
                keeps the ones it was shown.
              </p>
              {me && apps.length > 0 && (
                <button type="button" data-testid="issue-keys" onClick={issueKeys} disabled={!appId}>
                  Get new keys for {appName(appId)}
                </button>
              )}
            </>
          )}
          {security === 'oauth2' &&
            (production ? (
              <p className="muted">
                Production tokens come from <code>POST /oauth2/token</code> with the application's client id and secret.
              </p>
            ) : (
              me &&
              apps.length > 0 && (
                <button type="button" data-testid="test-token" onClick={testToken} disabled={!appId}>
                  Get a test token for {appName(appId)}
                </button>
              )
            ))}
          {security === 'external_oauth2' && <p className="muted">Paste an access token from the API's issuer.</p>}
          {security !== 'none' && (
            <>
              <label htmlFor="credential">{security === 'api_key' ? 'Key' : 'Access token'}</label>
              <input
                id="credential"
                data-testid="credential"
                type="password"
                autoComplete="off"
                className="wide"
                value={secret}
                onChange={(e) => setSecret(e.target.value.trim())}
              />
            </>
          )}
          {issued && <IssuedKeysPanel keys={issued} />}
        </div>
      </div>

      <h2>Operations</h2>
      <ul className="operations" data-testid="operations">
        {ops.map((op) => {
          const command = doc ? curl(doc, op, credential) : '';
          const id = `${op.method} ${op.path}`;
          return (
            <li key={id} className="card">
              <h3>
                <span className="badge">{op.method}</span> <code>{op.path}</code>
                {op.deprecated && <span className="badge failed"> deprecated</span>}
              </h3>
              <pre data-testid={`curl-${id}`} aria-label={`cURL for ${id}`} tabIndex={0}>
                {command}
              </pre>
              <Copy text={command} label={`Copy the cURL command for ${id}`} testId={`copy-curl-${id}`} />
            </li>
          );
        })}
      </ul>

      <h2>Documentation and console</h2>
      <div ref={consoleRef} className="console" data-testid="console" />
    </section>
  );
}
