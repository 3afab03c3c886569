import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';

import type { OpenApi } from './client';
import { curl, operations, sample, shellQuote } from './curl';

function doc(security: 'header' | 'query' | 'oauth2' | 'none', server = 'http://127.0.0.1:8080/hooks/development/orders'): OpenApi {
  const schemes = {
    header: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
    query: { apiKey: { type: 'apiKey', in: 'query', name: 'api_key' } },
    oauth2: { oauth2: { type: 'oauth2' } },
    none: undefined,
  }[security];
  return {
    openapi: '3.1.0',
    info: { title: 'orders', version: '1' },
    servers: [{ url: server }],
    paths: {
      '/orders': {
        post: {
          summary: 'POST /orders',
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['sku', 'qty'],
                  properties: {
                    sku: { type: 'string', minLength: 8 },
                    qty: { type: 'integer', minimum: 1 },
                    note: { type: 'string', example: "it's here" },
                    kind: { enum: ['retail', 'wholesale'] },
                    when: { type: 'string', format: 'date-time' },
                    tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
                    paid: { type: ['boolean', 'null'] },
                  },
                },
              },
            },
          },
        },
      },
      '/orders/{id}': { get: { summary: 'GET /orders/{id}', deprecated: true } },
    },
    components: { securitySchemes: schemes },
    security: schemes ? [{ [Object.keys(schemes)[0]!]: [] }] : undefined,
  };
}

describe('sample bodies', () => {
  it('take examples, enums and formats, and meet minimums', () => {
    const [post] = operations(doc('header'));
    expect(sample(post!.schema)).toEqual({
      sku: 'stringss',
      qty: 1,
      note: "it's here",
      kind: 'retail',
      when: '2026-01-01T00:00:00Z',
      tags: ['string', 'string'],
      paid: true,
    });
  });
  it('follow references into the document and leave "anything" out', () => {
    const d = doc('none');
    d.components = { schemas: { Item: { type: 'object', properties: { n: { type: 'number', exclusiveMinimum: 2 }, any: {} } } } };
    expect(sample({ $ref: '#/components/schemas/Item' }, d)).toEqual({ n: 3 });
    expect(sample({})).toBeUndefined();
  });
});

describe('operations', () => {
  it('are listed per path and method with their request schema', () => {
    const ops = operations(doc('header'));
    expect(ops.map((o) => `${o.method} ${o.path} ${o.deprecated}`)).toEqual(['POST /orders false', 'GET /orders/{id} true']);
    expect(ops[1]!.schema).toBeUndefined();
  });
});

describe('shell quoting', () => {
  it('leaves plain words and quotes the rest', () => {
    expect(shellQuote('https://a.example/x')).toBe('https://a.example/x');
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });
});

/** Runs a command in /bin/sh against a local server and answers what arrived. */
async function arrive(command: string) {
  const seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body: string } = { body: '' };
  const server = createServer((req, res) => {
    seen.method = req.method;
    seen.url = req.url;
    seen.headers = req.headers;
    req.on('data', (d: Buffer) => (seen.body += d.toString()));
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  try {
    await new Promise<void>((ok, fail) =>
      execFile('/bin/sh', ['-c', command.replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)], (e) => (e ? fail(e) : ok())),
    );
  } finally {
    server.close();
  }
  return seen;
}

describe('cURL commands', () => {
  it('put an API key in its header and the sample body, and a shell runs them as written', async () => {
    const d = doc('header');
    const [post, get] = operations(d);
    const command = curl(d, post!, { kind: 'api_key', value: 'onset_test_abc' });
    const seen = await arrive(command);
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/hooks/development/orders/orders');
    expect(seen.headers!['x-api-key']).toBe('onset_test_abc');
    expect(seen.headers!['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toEqual(sample(post!.schema));
    expect(curl(d, get!, null)).toBe(
      "curl -sS -X GET http://127.0.0.1:8080/hooks/development/orders/orders/id \\\n  -H 'x-api-key: <your key>'",
    );
  });
  it('put a query key in the URL and a token in Authorization', async () => {
    const q = doc('query');
    const [, get] = operations(q);
    const seen = await arrive(curl(q, get!, { kind: 'api_key', value: 'k&1' }));
    expect(seen.url).toBe('/hooks/development/orders/orders/id?api_key=k%261');
    const o = doc('oauth2');
    const token = await arrive(curl(o, operations(o)[1]!, { kind: 'token', value: 'eyJ.x.y' }));
    expect(token.headers!.authorization).toBe('Bearer eyJ.x.y');
    expect(curl(doc('none'), operations(doc('none'))[1]!, null)).not.toContain('-H');
  });
});
