// The developer portal at `/portal`: the published APIs with their documents, a console and
// cURL commands; consumers sign up and sign in with their own accounts and manage their
// applications, keys and subscriptions. Hash routes: `#/apis`, `#/api/<environment>/<component>`,
// `#/applications`, `#/sign-in`, `#/sign-up`.
import { useCallback, useEffect, useState } from 'react';

import { useRoute } from '../route';
import { ApiPage } from './ApiPage';
import { Apis } from './Apis';
import { Applications } from './Applications';
import { portal, type Consumer } from './client';
import { SignIn } from './SignIn';

export function Portal() {
  const [me, setMe] = useState<Consumer | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    portal.session().then(setMe, () => setMe(null));
  }, []);
  const signedIn = useCallback((c: Consumer) => {
    setMe(c);
    window.location.hash = '#/apis';
  }, []);
  const signOut = async () => {
    await portal.signOut().catch(() => undefined);
    setMe(null);
    window.location.hash = '#/apis';
  };
  if (me === undefined) return <main className="center" aria-busy="true" />;

  let page;
  const [environment, ...component] = (route.arg ?? '').split('/');
  switch (route.page) {
    case 'api':
      page = <ApiPage key={route.arg} me={me} environment={environment ?? ''} component={component.join('/')} />;
      break;
    case 'applications':
      page = me ? <Applications /> : <SignIn mode="sign-in" onSignedIn={signedIn} reason="Sign in to see your applications." />;
      break;
    case 'sign-in':
    case 'sign-up':
      page = <SignIn key={route.page} mode={route.page} onSignedIn={signedIn} />;
      break;
    default:
      page = <Apis />;
  }
  const nav: [string, string][] = [
    ['apis', 'APIs'],
    ['applications', 'Applications'],
  ];
  const current = route.page === 'api' ? 'apis' : route.page;
  return (
    <div className="shell">
      <header className="top">
        <a className="brand" href="#/apis">
          Onset developer portal
        </a>
        <nav aria-label="Portal">
          {nav.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={current === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        {me ? (
          <>
            <span className="who" data-testid="consumer">
              {me.name === me.email ? me.email : `${me.name} · ${me.email}`}
            </span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </>
        ) : (
          <span className="who">
            <a href="#/sign-in">Sign in</a> · <a href="#/sign-up">Sign up</a>
          </span>
        )}
      </header>
      <main className="page">{page}</main>
    </div>
  );
}
