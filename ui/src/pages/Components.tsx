import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { Session } from '../App';

/** Components: what is deployed where, and the project's component files (project mode) or the drafts (server mode). */
export function Components({ session }: { session: Session }) {
  const [active, setActive] = useState<Schemas['Component'][]>([]);
  const [files, setFiles] = useState<string[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api.GET('/api/v1/components').then(({ data, error }) => (data ? setActive(data.items) : setError(problem(error))));
    if (session.mode === 'server') {
      api.GET('/api/v1/drafts').then(({ data }) => setFiles((data?.items ?? []).map((d) => `components/${d.component}.yaml`)));
    }
    if (session.mode === 'project') {
      api.GET('/api/v1/project/files').then(({ data }) =>
        setFiles(
          (data?.items ?? [])
            .map((f) => f.path)
            .filter((p) => /^components\/[^/]+\.ya?ml$/.test(p)),
        ),
      );
    }
  }, [session.mode]);
  const names = new Set<string>([
    ...active.map((c) => c.name),
    ...files.map((f) => f.replace(/^components\//, '').replace(/\.ya?ml$/, '')),
  ]);
  return (
    <section>
      <div className="row">
        <h1>Components</h1>
        <a className="button" href="#/create">
          New component
        </a>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <table data-testid="component-list" className="table">
        <caption className="sr-only">Components and where they are deployed</caption>
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">Trigger</th>
            {session.environments.map((e) => (
              <th scope="col" key={e}>
                {e}
              </th>
            ))}
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {[...names].sort().map((name) => {
            const here = active.filter((c) => c.name === name);
            return (
              <tr key={name}>
                <th scope="row">
                  <a href={`#/edit/${encodeURIComponent(name)}`}>{name}</a>
                </th>
                <td>{here[0]?.trigger ?? '—'}</td>
                {session.environments.map((e) => {
                  const c = here.find((c) => c.environment === e);
                  return <td key={e}>{c ? (c.paused ? 'paused' : 'active') : '—'}</td>;
                })}
                <td>
                  <a href={`#/runs?component=${encodeURIComponent(name)}`}>Runs</a> ·{' '}
                  <a href={`#/observe?component=${encodeURIComponent(name)}`}>Graphs</a>
                </td>
              </tr>
            );
          })}
          {names.size === 0 && (
            <tr>
              <td colSpan={3 + session.environments.length}>No components yet: create one from the catalog.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
