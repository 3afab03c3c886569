import { useEffect, useMemo, useState } from 'react';

import componentSchema from '../../../schema/component.schema.json';
import { isMap, isScalar } from 'yaml';

import { api, type Schemas } from '../api/client';
import { STEP_KINDS, parse, setStepField, stepNode, type HandlerRef } from '../flow/yaml';

const ACTIONS: readonly string[] = STEP_KINDS;
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

type JsonSchema = { type?: string | string[]; enum?: string[]; description?: string; $ref?: string; anyOf?: JsonSchema[]; items?: JsonSchema };
const definitions = (componentSchema as { definitions: Record<string, JsonSchema> }).definitions;
const stepProps = (definitions.Step as unknown as { properties: Record<string, JsonSchema> }).properties;

/** Keys that belong to one action besides the action key itself (lists of steps are the graph's). */
const BELONGS: Record<string, string> = { level: 'log', as: 'for_each', concurrency: 'for_each', account: 'call' };

/** A property's schema without `null` and `$ref`s. */
function resolve(s: JsonSchema | undefined): JsonSchema {
  if (!s) return {};
  if (s.$ref) return { ...resolve(definitions[s.$ref.split('/').pop()!]), description: s.description ?? definitions[s.$ref.split('/').pop()!]?.description };
  if (s.anyOf) return resolve(s.anyOf.find((a) => a.type !== 'null'));
  return s;
}

/** The form of a step kind, generated from the component schema's `Step`. */
function fieldsOf(kind: string, value: Record<string, unknown>): Field[] {
  const keys = [kind, ...Object.keys(BELONGS).filter((k) => BELONGS[k] === kind), 'timeout'];
  return keys
    .filter((k) => k in stepProps)
    .map((key) => {
      const s = resolve(stepProps[key]);
      const types = ([] as string[]).concat(s.type ?? []).filter((t) => t !== 'null');
      // Untyped values (a message, a template, a body) are text while they are text.
      const untypedText = types.length === 0 && (value[key] === undefined || typeof value[key] === 'string');
      const kind: Field['kind'] = s.enum
        ? 'select'
        : types.includes('integer')
          ? 'number'
          : (types.includes('string') && key !== 'script') || untypedText
            ? 'text'
            : 'yaml';
      return {
        key,
        label: key,
        kind,
        options: s.enum ? ['', ...s.enum] : undefined,
        condition: key === 'if',
        help: s.description?.split('\n')[0],
      };
    });
}

/** Paths of a JSON Schema's (or a sample's) fields: `issue.number`, `issue.user.login`… */
function eventFields(schema: unknown, sample: unknown, prefix = '', depth = 0): string[] {
  if (depth > 4) return [];
  const s = schema as { properties?: Record<string, unknown> } | null;
  if (s && s.properties) {
    return Object.entries(s.properties).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      const child = (sample as Record<string, unknown> | null)?.[k];
      return [p, ...eventFields(v, child, p, depth + 1)];
    });
  }
  if (sample && typeof sample === 'object' && !Array.isArray(sample)) {
    return Object.entries(sample).flatMap(([k, v]) => {
      const p = prefix ? `${prefix}.${k}` : k;
      return [p, ...eventFields(null, v, p, depth + 1)];
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
  const kind = Object.keys(value).find((k) => ACTIONS.includes(k)) ?? 'unknown';
  const [focus, setFocus] = useState<{ key: string; sub?: string; condition?: boolean } | null>(null);
  const [preview, setPreview] = useState<{ value?: unknown; error?: string | null } | null>(null);
  const paths = useMemo(() => eventFields(sample.schema, sample.payload), [sample]);

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
        {fieldsOf(kind, value).map((f) => {
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
