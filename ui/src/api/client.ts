// The control-plane client, typed by `schema.d.ts`, which `npm run api` generates from the
// server's OpenAPI document (schema/openapi.json). The session cookie goes with every request;
// changes carry the session's CSRF token.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];

export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)onset_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]!) : '';
}

export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });

api.use({
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD') request.headers.set('x-csrf-token', csrfToken());
    return request;
  },
});

/** The `{code, message}` of a failed answer, as one line for the page. */
export function problem(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) {
    const e = error as { code?: string; message: string };
    return e.code ? `${e.message} (${e.code})` : e.message;
  }
  return String(error);
}
