// The developer portal's client: `/portal/api/…` with the consumer's session cookie (never a
// control-plane token). Changes repeat the session's CSRF secret in `X-CSRF-Token`.
import type { components } from '../api/schema';

type Schemas = components['schemas'];
export type Plan = Schemas['Plan'];
export type Application = Schemas['Application'];
export type CreatedApplication = Schemas['CreatedApplication'];
export type ApiKey = Schemas['ApiKey'];
export type IssuedKeys = Schemas['IssuedKeys'];
export type Subscription = Schemas['Subscription'];

export interface Consumer {
  id: string;
  email: string;
  name: string;
  csrf_token: string;
}

/** One API the portal publishes: a component's HTTP API in one environment. */
export interface PublishedApi {
  component: string;
  environment: string;
  description?: string | null;
  lifecycle: string;
  /** `none`, `api_key`, `oauth2` (Onset's tokens) or `external_oauth2`. */
  security: string;
  url: string;
}

export interface AccessToken {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

/** A refusal of the portal's API: `{code, message, location}` as one line. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function csrf(): string {
  const m = document.cookie.match(/(?:^|;\s*)onset_portal_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]!) : '';
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf();
  const resp = await fetch(`/portal/api${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the status says what happened.
  }
  if (!resp.ok) {
    const e = (json ?? {}) as { code?: string; message?: string; location?: string };
    const where = e.location ? ` (${e.location})` : '';
    throw new Problem(resp.status, e.code ?? `http_${resp.status}`, `${e.message ?? resp.statusText}${where}`);
  }
  return json as T;
}

export const portal = {
  session: () => call<Consumer>('GET', '/session'),
  signIn: (email: string, password: string) => call<Consumer>('POST', '/session', { email, password }),
  signUp: (email: string, password: string, name: string) => call<Consumer>('POST', '/signup', { email, password, name }),
  signOut: () => call<void>('DELETE', '/session'),
  apis: () => call<{ items: PublishedApi[] }>('GET', '/apis').then((r) => r.items),
  document: (environment: string, component: string) =>
    call<OpenApi>('GET', `/apis/${encodeURIComponent(environment)}/${encodeURIComponent(component)}/openapi.json`),
  postman: (environment: string, component: string, file: 'collection' | 'environment') =>
    call<PostmanFile>(
      'GET',
      `/apis/${encodeURIComponent(environment)}/${encodeURIComponent(component)}/postman.json?file=${file}`,
    ),
  plans: () => call<{ items: Plan[] }>('GET', '/plans').then((r) => r.items),
  applications: () => call<{ items: Application[] }>('GET', '/applications').then((r) => r.items),
  createApplication: (name: string) => call<CreatedApplication>('POST', '/applications', { name }),
  deleteApplication: (id: string) => call<unknown>('DELETE', `/applications/${encodeURIComponent(id)}`),
  keys: (id: string) => call<{ items: ApiKey[] }>('GET', `/applications/${encodeURIComponent(id)}/keys`).then((r) => r.items),
  issueKeys: (id: string) => call<IssuedKeys>('POST', `/applications/${encodeURIComponent(id)}/keys`),
  token: (id: string) => call<AccessToken>('POST', `/applications/${encodeURIComponent(id)}/token`, {}),
  subscriptions: () => call<{ items: Subscription[] }>('GET', '/subscriptions').then((r) => r.items),
  subscribe: (application: string, component: string, environment: string, plan: string) =>
    call<Subscription>('POST', '/subscriptions', { application, component, environment, plan }),
  unsubscribe: (id: string) => call<unknown>('DELETE', `/subscriptions/${encodeURIComponent(id)}`),
};

/** A Postman collection or environment file; an environment's `values` are `{key, value}`. */
export interface PostmanFile {
  values?: { key: string; value: string; enabled?: boolean }[];
  [more: string]: unknown;
}

/** Saves JSON as a file the browser downloads. */
export function save(name: string, value: unknown) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The parts of an OpenAPI 3.1 document the portal reads. */
export interface OpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string; description?: string }[];
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, SecurityScheme> };
  security?: Record<string, string[]>[];
  externalDocs?: { url: string; description?: string };
}

export interface SecurityScheme {
  type: string;
  in?: string;
  name?: string;
  scheme?: string;
}

/**
 * Keys shown once (at issue) are kept for this browser tab only, so the console and the cURL
 * commands can use them; they are gone when the tab closes and never leave it.
 */
export const keyring = {
  get(application: string): IssuedKeys | null {
    const text = sessionStorage.getItem(`onset-keys-${application}`);
    return text ? (JSON.parse(text) as IssuedKeys) : null;
  },
  put(keys: IssuedKeys) {
    sessionStorage.setItem(`onset-keys-${keys.application_id}`, JSON.stringify(keys));
  },
  forget(application: string) {
    sessionStorage.removeItem(`onset-keys-${application}`);
  },
};
