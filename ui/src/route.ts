// Hash routes: `#/components`, `#/create`, `#/edit/<name>`, `#/runs?…`, `#/runs/<id>`, `#/observe`.
import { useEffect, useState } from 'react';

export interface Route {
  page: string;
  arg?: string;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page = 'components', ...rest] = path.split('/');
  return { page: page || 'components', arg: rest.length ? decodeURIComponent(rest.join('/')) : undefined, params: new URLSearchParams(query) };
}

/** Pages with unsaved work set this; leaving them asks first. */
export const leaving = { dirty: false };

export function go(hash: string) {
  if (leaving.dirty && !window.confirm('You have unsaved changes. Leave this page and lose them?')) return;
  leaving.dirty = false;
  window.location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
