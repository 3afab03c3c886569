// cURL commands per operation of an API's OpenAPI document, with the consumer's credential in
// place, and a sample body made from the operation's request schema (its examples and defaults
// first, else the first value its types allow).
import type { OpenApi, SecurityScheme } from './client';

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface Operation {
  method: string;
  path: string;
  summary: string;
  deprecated: boolean;
  /** Its request body's JSON Schema, when it takes one. */
  schema?: unknown;
}

/** A credential the console and the commands use. */
export type Credential = { kind: 'api_key'; value: string } | { kind: 'token'; value: string } | null;

export function operations(doc: OpenApi): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method] as
        | { summary?: string; deprecated?: boolean; requestBody?: { content?: Record<string, { schema?: unknown }> } }
        | undefined;
      if (!op) continue;
      out.push({
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? `${method.toUpperCase()} ${path}`,
        deprecated: op.deprecated === true,
        schema: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return out;
}

type Schema = {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  format?: string;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
};

/** A value the schema accepts, for a sample request; `undefined` for "anything". */
export function sample(schema: unknown, doc?: OpenApi, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return undefined;
  let s = schema as Schema;
  if (s.$ref) {
    const name = s.$ref.replace(/^#\/components\/schemas\//, '');
    return sample(doc?.components?.schemas?.[name], doc, depth + 1);
  }
  if ('const' in s) return s.const;
  if (s.example !== undefined) return s.example;
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if (s.allOf?.length) {
    const parts = s.allOf.map((p) => sample(p, doc, depth + 1));
    if (parts.every((p) => p && typeof p === 'object' && !Array.isArray(p))) return Object.assign({}, ...parts);
  }
  const alternative = s.oneOf?.[0] ?? s.anyOf?.[0];
  if (alternative) return sample(alternative, doc, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type ?? (s.properties ? 'object' : undefined)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, prop] of Object.entries(s.properties ?? {})) {
        const value = sample(prop, doc, depth + 1);
        if (value !== undefined) out[key] = value;
      }
      return out;
    }
    case 'array': {
      const item = sample(s.items, doc, depth + 1);
      const n = Math.max(s.minItems ?? 1, 1);
      return item === undefined ? [] : Array.from({ length: n }, () => item);
    }
    case 'string':
      s = s as Schema;
      if (s.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (s.format === 'date') return '2026-01-01';
      if (s.format === 'email') return 'ann@example.com';
      if (s.format === 'uri' || s.format === 'url') return 'https://example.com/';
      if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      return 'string'.padEnd(Math.max(s.minLength ?? 0, 6), 's');
    case 'integer':
    case 'number':
      if (s.minimum !== undefined) return s.minimum;
      if (s.exclusiveMinimum !== undefined) return type === 'integer' ? Math.floor(s.exclusiveMinimum) + 1 : s.exclusiveMinimum + 1;
      return type === 'integer' ? 1 : 1.5;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return undefined;
  }
}

/** A word for a POSIX shell: single-quoted, a quote inside written as `'\''`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The security scheme the API uses, if any. */
export function scheme(doc: OpenApi): SecurityScheme | null {
  const schemes = doc.components?.securitySchemes ?? {};
  const name = Object.keys(doc.security?.[0] ?? {})[0] ?? Object.keys(schemes)[0];
  return name ? (schemes[name] ?? null) : null;
}

/** The placeholder a command shows until the consumer has a credential in this tab. */
export function placeholder(doc: OpenApi): string {
  const s = scheme(doc);
  if (!s) return '';
  return s.type === 'apiKey' ? '<your key>' : '<your access token>';
}

/**
 * The command that calls the operation: path parameters filled with their names, the credential
 * where the API's scheme puts it, a JSON body from the request schema.
 */
export function curl(doc: OpenApi, op: Operation, credential: Credential): string {
  const server = (doc.servers?.[0]?.url ?? '').replace(/\/$/, '');
  // A path parameter is filled with its own name, for the consumer to replace.
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(name));
  let url = server + path;
  const lines: string[] = [];
  const s = scheme(doc);
  const secret = credential?.value ?? placeholder(doc);
  if (s?.type === 'apiKey' && s.in === 'query' && s.name) {
    url += `${url.includes('?') ? '&' : '?'}${encodeURIComponent(s.name)}=${encodeURIComponent(secret)}`;
  } else if (s?.type === 'apiKey' && s.name) {
    lines.push(`-H ${shellQuote(`${s.name}: ${secret}`)}`);
  } else if (s) {
    lines.push(`-H ${shellQuote(`Authorization: Bearer ${secret}`)}`);
  }
  if (op.schema !== undefined) {
    const body = sample(op.schema, doc);
    lines.push(`-H ${shellQuote('Content-Type: application/json')}`);
    lines.push(`-d ${shellQuote(JSON.stringify(body === undefined ? {} : body))}`);
  }
  const head = `curl -sS -X ${op.method} ${shellQuote(url)}`;
  return [head, ...lines].join(' \\\n  ');
}
