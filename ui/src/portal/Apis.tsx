import { useEffect, useState } from 'react';

import { portal, type PublishedApi } from './client';

export const SECURITY: Record<string, string> = {
  none: 'open',
  api_key: 'API key',
  oauth2: 'OAuth2',
  external_oauth2: 'OAuth2 (external issuer)',
};

/** The published APIs, per environment; deprecated ones are marked, retired ones are not listed. */
export function Apis() {
  const [apis, setApis] = useState<PublishedApi[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    portal.apis().then(setApis, (e: Error) => setError(e.message));
  }, []);
  return (
    <section>
      <div className="row">
        <h1>APIs</h1>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {apis && apis.length === 0 && <p className="muted">No API is published yet.</p>}
      {apis && apis.length > 0 && (
        <table className="table" data-testid="api-list">
          <caption className="sr-only">Published APIs</caption>
          <thead>
            <tr>
              <th scope="col">API</th>
              <th scope="col">Environment</th>
              <th scope="col">Access</th>
              <th scope="col">Description</th>
            </tr>
          </thead>
          <tbody>
            {apis.map((a) => (
              <tr key={`${a.environment}/${a.component}`}>
                <td>
                  <a href={`#/api/${encodeURIComponent(a.environment)}/${encodeURIComponent(a.component)}`}>{a.component}</a>
                  {a.lifecycle === 'deprecated' && <span className="badge failed"> deprecated</span>}
                </td>
                <td>
                  <span className="badge">{a.environment}</span>
                </td>
                <td>{SECURITY[a.security] ?? a.security}</td>
                <td>{a.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
