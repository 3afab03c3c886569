import { useEffect, useState } from 'react';

import { api, type Schemas } from './api/client';
import { Components } from './pages/Components';
import { Create } from './pages/Create';
import { Editor } from './pages/Editor';
import { Login } from './pages/Login';
import { Observe } from './pages/Observe';
import { RunDetail, Runs } from './pages/Runs';
import { go, useRoute } from './route';

export type Session = Schemas['Session'];

const NAV: [string, string][] = [
  ['components', 'Components'],
  ['create', 'Create'],
  ['runs', 'Runs'],
  ['observe', 'Observe'],
];

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();

  useEffect(() => {
    api.GET('/api/v1/session').then(({ data }) => setSession(data ?? null));
  }, []);

  if (session === undefined) return <main className="center" aria-busy="true" />;
  if (session === null) return <Login onSignedIn={setSession} />;

  const signOut = async () => {
    await api.DELETE('/api/v1/session', {});
    setSession(null);
  };

  let page;
  switch (route.page) {
    case 'create':
      page = <Create session={session} />;
      break;
    case 'edit':
      page = <Editor key={route.arg} session={session} name={route.arg ?? ''} />;
      break;
    case 'runs':
      page = route.arg ? <RunDetail id={route.arg} session={session} /> : <Runs params={route.params} session={session} />;
      break;
    case 'observe':
      page = <Observe session={session} params={route.params} />;
      break;
    default:
      page = <Components session={session} />;
  }
  return (
    <div className="shell">
      <header className="top">
        <a className="brand" href="#/components">Onset</a>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a
              key={id}
              href={`#/${id}`}
              aria-current={route.page === id ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                go(`#/${id}`);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <span className="who">
          {session.name} · {session.role}
          {session.role === 'viewer' ? ' (read only)' : ''} · {session.mode} mode
        </span>
        <button type="button" className="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main className="page">{page}</main>
    </div>
  );
}
