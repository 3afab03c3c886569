import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { Session } from '../App';
import { go } from '../route';
import { saveSource } from '../source';

/** The trigger catalog → a channel → a name → the skeleton `onset new` writes, opened in the editor. */
export function Create({ session }: { session: Session }) {
  const [types, setTypes] = useState<Schemas['TriggerType'][]>([]);
  const [kind, setKind] = useState<Schemas['TriggerType'] | null>(null);
  const [channel, setChannel] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  useEffect(() => {
    api.GET('/api/v1/catalog').then(({ data }) => setTypes(data?.items ?? []));
  }, []);
  const pick = async (type: string) => {
    const { data } = await api.GET('/api/v1/catalog/{kind}', { params: { path: { kind: type } } });
    setKind(data ?? null);
    setChannel(data?.channels[0]?.name ?? '');
  };
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!kind) return;
    setError('');
    const { data, error } = await api.GET('/api/v1/catalog/{kind}/skeleton', {
      params: { path: { kind: kind.type }, query: { name, channel } },
    });
    if (!data) return setError(problem(error));
    const saved = await saveSource(session, name, data.source, { create: true });
    if (saved.error) return setError(saved.error);
    go(`#/edit/${encodeURIComponent(name)}`);
  };
  const readOnly = session.role === 'viewer';
  return (
    <section>
      <h1>New component</h1>
      <div className="split">
        <div>
          <h2>1. Trigger</h2>
          <ul data-testid="catalog" className="catalog" aria-label="Trigger types">
            {types.map((t) => (
              <li key={t.type}>
                <button
                  type="button"
                  className={kind?.type === t.type ? 'tile selected' : 'tile'}
                  aria-pressed={kind?.type === t.type}
                  onClick={() => pick(t.type)}
                >
                  <strong>{t.type}</strong>
                  <span>{t.description}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
        {kind && (
          <form className="card" onSubmit={create}>
            <h2>2. Channel and name</h2>
            {kind.channels.length === 0 ? (
              <p>
                <code>{kind.type}</code> has no catalog channels: write its handlers in YAML (see the docs).
              </p>
            ) : (
              <>
                <label htmlFor="channel">Channel</label>
                <select id="channel" value={channel} onChange={(e) => setChannel(e.target.value)}>
                  {kind.channels.map((c) => (
                    <option key={c.name} value={c.name}>
                      {c.name} ({c.events.length} events)
                    </option>
                  ))}
                </select>
                <details>
                  <summary>Events of {channel}</summary>
                  <ul className="events" tabIndex={0} aria-label={`Events of ${channel}`}>
                    {kind.channels
                      .find((c) => c.name === channel)
                      ?.events.map((e) => (
                        <li key={e.name}>
                          <code>{e.name}</code> — {e.source}
                        </li>
                      ))}
                  </ul>
                </details>
                <label htmlFor="name">Component name</label>
                <input
                  id="name"
                  value={name}
                  onChange={(e) => setName(e.target.value)}
                  pattern="[a-z][a-z0-9-]*"
                  title="lowercase letters, digits and dashes"
                  required
                />
                {error && <p role="alert" className="error">{error}</p>}
                <button type="submit" disabled={readOnly}>
                  Create and edit
                </button>
              </>
            )}
          </form>
        )}
      </div>
    </section>
  );
}
