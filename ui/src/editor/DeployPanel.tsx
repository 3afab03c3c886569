import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { Session } from '../App';
import type { HandlerRef } from '../flow/yaml';
import type { Sample } from '../pages/Editor';
import { pathOf } from '../source';

type Failure = Schemas['DeployFailure'];

/** Deploy, promote, roll back, undeploy; config that is missing; the log; a signed test event. */
export function DeployPanel({
  session,
  name,
  text,
  handler,
  kind,
  sample,
  trigger,
}: {
  session: Session;
  name: string;
  text: string;
  handler: HandlerRef | null;
  kind: string;
  sample: Sample;
  trigger: Schemas['TriggerType'] | null;
}) {
  const envs = session.environments;
  const [env, setEnv] = useState(envs[0] ?? 'development');
  const [active, setActive] = useState<Record<string, Schemas['Component'] | null>>({});
  const [log, setLog] = useState<Schemas['LogLine'][]>([]);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [retry, setRetry] = useState<(() => Promise<void>) | null>(null);
  /** The environment the failed change was for: its missing config is asked for. */
  const [target, setTarget] = useState(env);
  const [sent, setSent] = useState<{ event?: string; status?: string; run?: string; error?: string } | null>(null);
  const readOnly = session.role === 'viewer';

  const refresh = async () => {
    const out: Record<string, Schemas['Component'] | null> = {};
    for (const e of envs) {
      const { data } = await api.GET('/api/v1/components/{name}', { params: { path: { name }, query: { environment: e } } });
      out[e] = data ?? null;
    }
    setActive(out);
  };
  useEffect(() => {
    void refresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name]);

  // The log of what is active in the environment, followed while the panel is open.
  const activeId = active[env]?.deployment_id;
  useEffect(() => {
    if (!activeId) return;
    const load = () =>
      api.GET('/api/v1/deployments/{id}/logs', { params: { path: { id: activeId } } }).then(({ data }) => {
        if (data) setLog(data.items);
      });
    void load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [activeId]);

  const answered = async (
    r: { data?: Schemas['DeployResult']; error?: unknown },
    again: () => Promise<void>,
    what: string,
    into: string,
  ) => {
    setTarget(into);
    if (r.data) {
      setFailure(null);
      setLog(r.data.log);
      setMessage(`${what}: ${r.data.deployment?.environment ?? ''} runs deployment ${r.data.deployment?.id ?? ''}`);
    } else {
      const f = r.error as Failure;
      setFailure(f);
      setLog([]);
      setMessage(problem(f));
      setRetry(() => again);
    }
    await refresh();
  };

  const deploy = async () => {
    const r = await api.POST('/api/v1/deployments', { body: { source: text, path: pathOf(name), files: {}, environment: env } });
    await answered(r as never, deploy, 'Deployed', env);
  };
  const promote = async () => {
    const r = await api.POST('/api/v1/components/{name}/promote', { params: { path: { name } }, body: { from: env, to: null } });
    await answered(r as never, promote, 'Promoted', envs[envs.indexOf(env) + 1] ?? env);
  };
  const rollback = async () => {
    const r = await api.POST('/api/v1/components/{name}/rollback', { params: { path: { name } }, body: { environment: env, to: null } });
    await answered(r as never, rollback, 'Rolled back', env);
  };
  const undeploy = async () => {
    if (!window.confirm(`Remove ${name} from ${env}?`)) return;
    const { error } = await api.DELETE('/api/v1/components/{name}', { params: { path: { name }, query: { environment: env } } });
    setMessage(error ? problem(error) : `Removed from ${env}`);
    await refresh();
  };
  const saveConfig = async (e: React.FormEvent) => {
    e.preventDefault();
    const { error } = await api.PUT('/api/v1/config/{component}', {
      params: { path: { component: name }, query: { environment: target } },
      body: { values },
    });
    if (error) return setMessage(problem(error));
    setValues({});
    if (retry) await retry();
  };

  const setLifecycle = async (state: 'published' | 'deprecated' | 'retired') => {
    const { data, error } = await api.POST('/api/v1/components/{name}/lifecycle', {
      params: { path: { name }, query: { environment: env } },
      body: { state },
    });
    setMessage(data ? `The API in ${env} is ${data.state}${data.deprecated_at ? ` since ${data.deprecated_at}` : ''}` : problem(error));
    await refresh();
  };
  /** Saves what the API answers as a file (the OpenAPI document, the Postman collection). */
  const download = async (what: 'openapi' | 'postman' | 'postman-environment') => {
    const path =
      what === 'openapi'
        ? `/api/v1/components/${encodeURIComponent(name)}/openapi.json?environment=${env}`
        : `/api/v1/components/${encodeURIComponent(name)}/postman.json?environment=${env}&file=${what === 'postman' ? 'collection' : 'environment'}`;
    const answer = await fetch(path, { credentials: 'same-origin' });
    if (!answer.ok) return setMessage(`${what}: ${answer.status}`);
    const blob = new Blob([JSON.stringify(await answer.json(), null, 2)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download =
      what === 'openapi'
        ? `${name}.${env}.openapi.json`
        : what === 'postman'
          ? `${name}.postman_collection.json`
          : `${name}.${env}.postman_environment.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  const sendTest = async () => {
    if (!handler) return;
    setSent({ status: 'signing' });
    const body = JSON.stringify(sample.payload ?? {});
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const info = trigger?.channels.find((c) => c.name === handler[0])?.events.find((e) => e.name === handler[1]);
    if (kind === 'github' && info) {
      headers['x-github-event'] = info.source.split('.')[0]!;
      headers['x-github-delivery'] = crypto.randomUUID();
    }
    const method = kind === 'http' ? handler[1] : 'POST';
    const resource = kind === 'http' ? handler[0] : '/';
    const { data, error } = await api.POST('/api/v1/components/{name}/sign', {
      params: { path: { name }, query: { environment: env } },
      body: { body, method, path: resource, headers, query: null },
    });
    if (!data) return setSent({ error: problem(error) });
    // The ingress is this server: send it from here, as the provider would.
    const url = new URL(data.url);
    const answer = await fetch(url.pathname + url.search, { method: data.method, headers: data.headers, body });
    const got = (await answer.json().catch(() => ({}))) as { event_id?: string; message?: string };
    if (!got.event_id) return setSent({ error: `${answer.status}: ${got.message ?? 'refused'}` });
    setSent({ event: got.event_id, status: 'accepted' });
    for (let i = 0; i < 100; i++) {
      const ev = await api.GET('/api/v1/events/{id}', { params: { path: { id: got.event_id } } });
      const run = ev.data?.runs[0];
      if (run && ['succeeded', 'failed', 'dead'].includes(run.status)) {
        return setSent({ event: got.event_id, status: run.status, run: run.id });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  return (
    <div className="deploy">
      <div className="row">
        <label className="inline">
          Environment{' '}
          <select value={env} onChange={(e) => setEnv(e.target.value)} data-testid="deploy-env">
            {envs.map((e) => (
              <option key={e}>{e}</option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="deploy" onClick={deploy} disabled={readOnly}>
          Deploy to {env}
        </button>
        <button type="button" data-testid="promote" onClick={promote} disabled={readOnly || !active[env] || env === envs[envs.length - 1]}>
          Promote to {envs[envs.indexOf(env) + 1] ?? '—'}
        </button>
        <button type="button" onClick={rollback} disabled={readOnly || !active[env]}>
          Roll back
        </button>
        <button type="button" onClick={undeploy} disabled={readOnly || !active[env]}>
          Undeploy
        </button>
        <button type="button" data-testid="send-test" onClick={sendTest} disabled={readOnly || !active[env]}>
          Send signed test event
        </button>
      </div>
      {active[env] && (
        <div className="row" role="group" aria-label="The API">
          <label className="inline">
            API lifecycle in {env}{' '}
            <select
              data-testid="lifecycle"
              value={active[env]!.lifecycle}
              disabled={readOnly}
              onChange={(e) => setLifecycle(e.target.value as 'published' | 'deprecated' | 'retired')}
            >
              <option value="published">published</option>
              <option value="deprecated">deprecated</option>
              <option value="retired">retired</option>
            </select>
          </label>
          <button type="button" className="link" onClick={() => download('openapi')}>
            OpenAPI document
          </button>
          <button type="button" className="link" onClick={() => download('postman')}>
            Postman collection
          </button>
          <button type="button" className="link" onClick={() => download('postman-environment')}>
            Postman environment
          </button>
        </div>
      )}
      <table className="table" data-testid="deploy-state">
        <caption className="sr-only">Where the component runs</caption>
        <thead>
          <tr>
            <th scope="col">Environment</th>
            <th scope="col">Deployment</th>
            <th scope="col">Ingress</th>
          </tr>
        </thead>
        <tbody>
          {envs.map((e) => (
            <tr key={e} data-testid={`env-${e}`}>
              <th scope="row">{e}</th>
              <td>{active[e] ? `${active[e]!.deployment_id}${active[e]!.paused ? ' (paused)' : ''}` : 'not deployed'}</td>
              <td>{active[e]?.ingress ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {message && <p role="status" data-testid="deploy-message">{message}</p>}
      {failure && failure.errors.length > 0 && (
        <ul className="problems">
          {failure.errors.map((e, i) => (
            <li key={i}>{e}</li>
          ))}
        </ul>
      )}
      {failure && failure.missing_config.length > 0 && (
        <form className="card" onSubmit={saveConfig} aria-label="Missing config">
          <h2>Config {target} needs</h2>
          {failure.missing_config.map((m) => (
            <div className="field" key={m.key}>
              <label htmlFor={`cfg-${m.key}`}>
                {m.key}
                {m.description ? ` — ${m.description}` : ''}
              </label>
              <input
                id={`cfg-${m.key}`}
                data-testid={`config-${m.key}`}
                type={m.secret ? 'password' : 'text'}
                autoComplete="off"
                value={values[m.key] ?? ''}
                onChange={(e) => setValues({ ...values, [m.key]: e.target.value })}
                required
              />
            </div>
          ))}
          <button type="submit" data-testid="config-save">
            Save and try again
          </button>
        </form>
      )}
      {log.length > 0 && (
        <ol className="log" aria-label="Deployment log" data-testid="deploy-log">
          {log.map((l, i) => (
            <li key={i}>
              <time>{l.at}</time> {l.message}
            </li>
          ))}
        </ol>
      )}
      {sent && (
        <p role="status" data-testid="test-event">
          {sent.error
            ? `Test event refused: ${sent.error}`
            : `Test event ${sent.event ?? ''}: ${sent.status}`}{' '}
          {sent.run && (
            <a href={`#/runs/${sent.run}`} data-testid="test-event-run">
              open its run
            </a>
          )}
        </p>
      )}
    </div>
  );
}
