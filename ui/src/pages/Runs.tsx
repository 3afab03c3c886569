import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { Session } from '../App';
import { StepsTable } from '../editor/StepsTable';
import { go } from '../route';

const STATUSES = ['', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'dead'];

function local(iso?: string | null) {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** Runs, filtered by component, environment, status and time; replay one, the selected, or every dead letter. */
export function Runs({ params, session }: { params: URLSearchParams; session: Session }) {
  const [runs, setRuns] = useState<Schemas['Run'][]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState('');
  const filters = {
    component: params.get('component') ?? '',
    environment: params.get('environment') ?? '',
    status: params.get('status') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const load = async (cursor?: string) => {
    const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as Record<string, string>;
    const { data, error } = await api.GET('/api/v1/runs', { params: { query: { ...query, cursor } as never } });
    if (!data) return setMessage(problem(error));
    setRuns(cursor ? [...runs, ...data.items] : data.items);
    setNext(data.next_cursor ?? null);
  };
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [params.toString()]);

  const filter = (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const q = new URLSearchParams();
    for (const [k, v] of form.entries()) {
      if (typeof v === 'string' && v) q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    }
    go(`#/runs?${q}`);
  };
  const replay = async (ids: string[]) => {
    const { data, error } = await api.POST('/api/v1/runs/replay', { body: { ids } });
    if (!data) return setMessage(problem(error));
    setMessage(`Replayed ${data.replayed.length}${data.skipped.length ? `; skipped ${data.skipped.map((s) => `${s.id}: ${s.message}`).join('; ')}` : ''}`);
    setPicked(new Set());
    await load();
  };
  const replayDead = async () => {
    if (!filters.component) return setMessage('Choose a component to replay its dead letters.');
    const { data, error } = await api.POST('/api/v1/components/{name}/dead/replay', {
      params: { path: { name: filters.component }, query: { environment: filters.environment || undefined } },
    });
    setMessage(data ? `Replayed ${data.replayed} dead run(s)` : problem(error));
    await load();
  };
  const toInput = (iso: string) => (iso ? new Date(iso).toISOString().slice(0, 16) : '');
  const readOnly = session.role === 'viewer';
  return (
    <section>
      <h1>Runs</h1>
      <form className="filters" onSubmit={filter} aria-label="Filter runs">
        <label>
          Component <input name="component" defaultValue={filters.component} />
        </label>
        <label>
          Environment{' '}
          <select name="environment" defaultValue={filters.environment}>
            <option value="">any</option>
            {session.environments.map((e) => (
              <option key={e}>{e}</option>
            ))}
          </select>
        </label>
        <label>
          Status{' '}
          <select name="status" defaultValue={filters.status}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          From <input type="datetime-local" name="from" defaultValue={toInput(filters.from)} />
        </label>
        <label>
          To <input type="datetime-local" name="to" defaultValue={toInput(filters.to)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <div className="row">
        <button type="button" disabled={readOnly || picked.size === 0} onClick={() => replay([...picked])}>
          Replay selected ({picked.size})
        </button>
        <button type="button" disabled={readOnly} onClick={replayDead}>
          Replay all dead letters{filters.component ? ` of ${filters.component}` : ''}
        </button>
        {message && <span role="status">{message}</span>}
      </div>
      <table className="table" data-testid="runs-table">
        <caption className="sr-only">Runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="sr-only">Select</span>
            </th>
            <th scope="col">Run</th>
            <th scope="col">Component</th>
            <th scope="col">Environment</th>
            <th scope="col">Handler</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`select run ${r.id}`}
                  checked={picked.has(r.id)}
                  onChange={(e) => {
                    const next = new Set(picked);
                    if (e.target.checked) next.add(r.id);
                    else next.delete(r.id);
                    setPicked(next);
                  }}
                />
              </td>
              <td>
                <a href={`#/runs/${r.id}`}>{r.id.slice(-12)}</a>
              </td>
              <td>{r.component}</td>
              <td>{r.environment}</td>
              <td>{r.handler}</td>
              <td>
                <span className={`badge ${r.status}`}>{r.status}</span>
              </td>
              <td>{local(r.created_at)}</td>
            </tr>
          ))}
          {runs.length === 0 && (
            <tr>
              <td colSpan={7}>No runs match.</td>
            </tr>
          )}
        </tbody>
      </table>
      {next && (
        <button type="button" onClick={() => load(next)}>
          More
        </button>
      )}
    </section>
  );
}

/** One run: its steps with input, output, logs and errors; replay it. */
export function RunDetail({ id, session }: { id: string; session: Session }) {
  const [run, setRun] = useState<Schemas['Run'] | null>(null);
  const [message, setMessage] = useState('');
  useEffect(() => {
    api.GET('/api/v1/runs/{id}', { params: { path: { id } } }).then(({ data, error }) => (data ? setRun(data) : setMessage(problem(error))));
  }, [id]);
  const replay = async () => {
    const { data, error } = await api.POST('/api/v1/runs/replay', { body: { ids: [id] } });
    setMessage(data ? `Replayed: new run ${data.replayed[0]?.runs.join(', ') ?? '—'}` : problem(error));
  };
  if (!run) return <p role="status">{message || 'Loading…'}</p>;
  return (
    <section>
      <h1>
        Run <code>{run.id}</code>
      </h1>
      <p>
        <span className={`badge ${run.status}`}>{run.status}</span> {run.component} in {run.environment}, {run.handler}, attempt{' '}
        {run.attempt} of {run.max_attempts}, created {local(run.created_at)}
        {run.error && (
          <>
            {' '}
            — <span className="error">step {run.error_step}: {run.error}</span>
          </>
        )}
      </p>
      <div className="row">
        <button type="button" onClick={replay} disabled={session.role === 'viewer'}>
          Replay
        </button>
        <a href={`#/runs?component=${encodeURIComponent(run.component)}`}>All runs of {run.component}</a>
        {message && <span role="status">{message}</span>}
      </div>
      <StepsTable steps={run.steps ?? []} />
    </section>
  );
}
