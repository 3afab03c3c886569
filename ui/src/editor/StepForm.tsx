import { useEffect, useMemo, useState } from 'react';
import { isMap, isScalar } from 'yaml';

import { api, type Schemas } from '../api/client';
import { parse, setStepField, stepNode, type HandlerRef } from '../flow/yaml';
import type { Sample } from '../pages/Editor';

interface Field {
  key: string;
  label: string;
  kind: 'text' | 'yaml' | 'select' | 'number';
  options?: string[];
  /** Previewed as a condition (a bare expression), not a value. */
  condition?: boolean;
  help?: string;
}

/** The fields of each step kind (the component schema's `Step`), besides `id` and `name`. */
const FIELDS: Record<string, Field[]> = {
  log: [
    { key: 'log', label: 'Message', kind: 'text' },
    { key: 'level', label: 'Level', kind: 'select', options: ['', 'debug', 'info', 'warn', 'error'] },
  ],
  set: [{ key: 'set', label: 'Variables (YAML: name: value)', kind: 'yaml' }],
  map: [{ key: 'map', label: 'Value (YAML)', kind: 'yaml' }],
  if: [{ key: 'if', label: 'Condition', kind: 'text', condition: true }],
  switch: [{ key: 'switch', label: 'Value to match', kind: 'text' }],
  for_each: [
    { key: 'for_each', label: 'Items', kind: 'text' },
    { key: 'as', label: 'Loop variable', kind: 'text' },
    { key: 'concurrency', label: 'At once', kind: 'number' },
  ],
  call: [{ key: 'account', label: 'Account', kind: 'text', help: 'an account name, or none for the default' }],
  script: [{ key: 'script', label: 'JavaScript', kind: 'yaml' }],
  script_file: [{ key: 'script_file', label: 'Script file', kind: 'text' }],
  delay: [{ key: 'delay', label: 'Wait', kind: 'text', help: 'e.g. 2s, 1m' }],
  respond: [{ key: 'respond', label: 'Response (YAML: status, headers, body)', kind: 'yaml' }],
  fail: [{ key: 'fail', label: 'Message', kind: 'text' }],
};

/** Paths of a JSON Schema's (or a sample's) fields: `issue.number`, `issue.user.login`… */
function fieldsOf(schema: unknown, sample: unknown, prefix = '', depth = 0): string[] {
  if (depth > 4) return [];
  const s = schema as { properties?: Record<string, unknown> } | null;
  if (s && s.properties) {
    return Object.entries(s.properties).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      const child = (sample as Record<string, unknown> | null)?.[k];
      return [p, ...fieldsOf(v, child, p, depth + 1)];
    });
  }
  if (sample && typeof sample === 'object' && !Array.isArray(sample)) {
    return Object.entries(sample).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...fieldsOf(null, v, p, depth + 1)];
    });
  }
  return [];
}

function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The form of one step, generated from its kind's fields and, for `call`, the operation's input schema; the data mapper beside it. */
export function StepForm({
  text,
  handler,
  path,
  sample,
  operations,
  onChange,
  readOnly,
}: {
  text: string;
  handler: HandlerRef;
  path: string;
  sample: Sample;
  operations: Schemas['ConnectorOperation'][];
  onChange: (text: string) => void;
  readOnly: boolean;
}) {
  const node = useMemo(() => stepNode(parse(text), handler, path), [text, handler, path]);
  const value = (node?.toJSON() ?? {}) as Record<string, unknown>;
  const kind = Object.keys(value).find((k) => k in FIELDS) ?? 'unknown';
  const [focus, setFocus] = useState<{ key: string; sub?: string; condition?: boolean } | null>(null);
  const [preview, setPreview] = useState<{ value?: unknown; error?: string | null } | null>(null);
  const paths = useMemo(() => fieldsOf(sample.schema, sample.payload), [sample]);

  const op = kind === 'call' ? operations.find((o) => o.name === value.call) : undefined;
  const inputProps = ((op?.input ?? {}) as { properties?: Record<string, { description?: string; type?: unknown }> })
    .properties ?? {};
  const withValue = (value.with ?? {}) as Record<string, unknown>;

  const set = (key: string, v: unknown) => {
    try {
      onChange(setStepField(text, handler, path, key, v === '' ? undefined : v));
    } catch {
      /* a field the document cannot take now (mid-edit YAML) */
    }
  };
  const setWith = (field: string, v: string) => {
    const next = { ...withValue };
    if (v === '') delete next[field];
    else next[field] = v;
    set('with', next);
  };

  const focused = focus ? (focus.sub ? withValue[focus.sub] : value[focus.key]) : undefined;
  useEffect(() => {
    if (!focus || typeof focused !== 'string' || focused === '') return setPreview(null);
    const t = setTimeout(async () => {
      const { data } = await api.POST('/api/v1/expressions/preview', {
        body: { text: focused, mode: focus.condition ? 'condition' : 'value', event: sample.payload as never },
      });
      setPreview(data ?? null);
    }, 200);
    return () => clearTimeout(t);
  }, [focus, focused, sample]);

  const drop = (apply: (v: string) => void, current: string) => (e: React.DragEvent) => {
    e.preventDefault();
    const field = e.dataTransfer.getData('text/plain');
    if (field) apply(current ? `${current}{{ ${field} }}` : `{{ ${field} }}`);
  };

  if (!node) return <p>No step at {path}.</p>;
  const scalarOf = (key: string) => {
    const n = node.get(key, true);
    return isScalar(n) ? n : undefined;
  };
  return (
    <div className="step-form">
      <form className="card" aria-label={`Step ${path}`} onSubmit={(e) => e.preventDefault()}>
        <h2>
          Step <code>{path}</code>: {kind}
        </h2>
        {(['id', 'name'] as const).map((k) => (
          <div className="field" key={k}>
            <label htmlFor={`f-${k}`}>{k === 'id' ? 'Id (steps.<id>.output)' : 'Name'}</label>
            <input id={`f-${k}`} defaultValue={valueText(value[k])} readOnly={readOnly} onBlur={(e) => e.target.value !== valueText(value[k]) && set(k, e.target.value)} />
          </div>
        ))}
        {(FIELDS[kind] ?? []).map((f) => {
          const id = `f-${f.key}`;
          const current = f.kind === 'yaml' && typeof value[f.key] !== 'string' ? JSON.stringify(value[f.key] ?? '', null, 2) : valueText(value[f.key]);
          return (
            <div className="field" key={f.key}>
              <label htmlFor={id}>{f.label}</label>
              {f.kind === 'select' ? (
                <select id={id} value={current} disabled={readOnly} onChange={(e) => set(f.key, e.target.value)}>
                  {f.options!.map((o) => (
                    <option key={o} value={o}>
                      {o || '(default)'}
                    </option>
                  ))}
                </select>
              ) : f.kind === 'yaml' ? (
                <textarea
                  id={id}
                  defaultValue={current}
                  readOnly={readOnly}
                  rows={4}
                  onBlur={(e) => {
                    if (e.target.value === current) return;
                    try {
                      set(f.key, f.key === 'script' ? e.target.value : JSON.parse(e.target.value));
                    } catch {
                      set(f.key, e.target.value);
                    }
                  }}
                />
              ) : (
                <input
                  id={id}
                  data-testid={`field-${f.key}`}
                  key={current}
                  defaultValue={current}
                  readOnly={readOnly}
                  type={f.kind === 'number' ? 'number' : 'text'}
                  onFocus={() => setFocus({ key: f.key, condition: f.condition })}
                  onDragOver={(e) => e.preventDefault()}
                  onDrop={drop((v) => set(f.key, v), current)}
                  onBlur={(e) => {
                    if (e.target.value === current) return;
                    const keep = scalarOf(f.key);
                    set(f.key, f.kind === 'number' ? Number(e.target.value) : e.target.value);
                    void keep;
                  }}
                />
              )}
              {f.help && <small className="muted">{f.help}</small>}
            </div>
          );
        })}
        {kind === 'call' && (
          <fieldset>
            <legend>
              Input of <code>{valueText(value.call)}</code>
            </legend>
            {Object.keys(inputProps).length === 0 && <p className="muted">This operation takes no declared input.</p>}
            {Object.entries(inputProps).map(([field, schema]) => {
              const current = valueText(withValue[field]);
              return (
                <div className="field" key={field}>
                  <label htmlFor={`w-${field}`}>{field}</label>
                  <input
                    id={`w-${field}`}
                    data-testid={`input-${field}`}
                    key={current}
                    defaultValue={current}
                    readOnly={readOnly}
                    onFocus={() => setFocus({ key: 'with', sub: field })}
                    onDragOver={(e) => e.preventDefault()}
                    onDrop={drop((v) => setWith(field, v), current)}
                    onBlur={(e) => e.target.value !== current && setWith(field, e.target.value)}
                  />
                  {schema.description && <small className="muted">{schema.description}</small>}
                </div>
              );
            })}
          </fieldset>
        )}
        {preview && (
          <p className="preview" role="status" data-testid="preview">
            {preview.error ? `Error: ${preview.error}` : `On the sample: ${JSON.stringify(preview.value)}`}
          </p>
        )}
      </form>
      <div className="card mapper">
        <h2>Event fields</h2>
        <p className="muted">Drag a field onto an input to map it; its value on the sample event is previewed.</p>
        <ul className="tree" aria-label="Fields of the event" tabIndex={0}>
          {paths.map((p) => (
            <li key={p} style={{ paddingLeft: `${(p.split('.').length - 1) * 12}px` }}>
              <span
                draggable
                className="chip"
                data-testid={`field-event.${p}`}
                onDragStart={(e) => e.dataTransfer.setData('text/plain', `event.${p}`)}
              >
                {p.split('.').pop()}
              </span>
            </li>
          ))}
        </ul>
        {isMap(node) ? null : null}
      </div>
    </div>
  );
}
