import { useCallback, useEffect, useMemo, useRef, useState } from 'react';

import { api, type Schemas } from '../api/client';

type Problem = Schemas['Problem'];
import type { Session } from '../App';
import { DeployPanel } from '../editor/DeployPanel';
import { StepForm } from '../editor/StepForm';
import { TryPanel } from '../editor/TryPanel';
import { YamlEditor } from '../editor/YamlEditor';
import { Graph } from '../flow/Graph';
import { STEP_KINDS, handlers, insertStep, parse, problemsByStep, removeStep, stepNode, type HandlerRef } from '../flow/yaml';
import { leaving } from '../route';
import { loadSource, pathOf, saveSource } from '../source';

/** What a new step of each kind starts as. */
const NEW_STEP: Record<string, Record<string, unknown>> = {
  log: { log: '{{ meta.channel }}.{{ meta.event }}' },
  set: { set: { value: '{{ event }}' } },
  map: { map: { id: '{{ event.id }}' } },
  if: { if: 'event.action == "opened"', then: [{ log: 'it holds' }] },
  switch: { switch: '{{ event.action }}', cases: { opened: [{ log: 'opened' }] }, default: [{ log: 'other' }] },
  for_each: { for_each: '{{ event.items }}', as: 'item', do: [{ log: '{{ item }}' }] },
  call: { call: 'http.request', with: { method: 'POST', url: 'https://example.com' } },
  script: { script: 'export default (ctx) => ({ seen: ctx.event });\n' },
  script_file: { script_file: 'scripts/step.js' },
  delay: { delay: '1s' },
  respond: { respond: { status: 200, body: { ok: true } } },
  fail: { fail: 'stopped: {{ event.action }}' },
};

export interface Sample {
  payload: unknown;
  schema: unknown;
}

/** The handler's graph and its YAML side by side, both live, with the step form, Try and Deploy. */
export function Editor({ session, name }: { session: Session; name: string }) {
  const [text, setText] = useState<string | null>(null);
  const [base, setBase] = useState<string | number>('');
  const [saved, setSaved] = useState('');
  const [status, setStatus] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [handler, setHandler] = useState<HandlerRef | null>(null);
  const [selected, setSelected] = useState<string | undefined>();
  const [tab, setTab] = useState<'step' | 'try' | 'deploy'>('step');
  const [operations, setOperations] = useState<Schemas['ConnectorOperation'][]>([]);
  const [operation, setOperation] = useState('slack.postMessage');
  const [trigger, setTrigger] = useState<Schemas['TriggerType'] | null>(null);
  const history = useRef<{ past: string[]; future: string[] }>({ past: [], future: [] });
  const readOnly = session.role === 'viewer';

  useEffect(() => {
    loadSource(session, name).then((l) => {
      if (l.error) setStatus(l.error);
      setText(l.text);
      setSaved(l.text);
      setBase(l.base);
    });
    api.GET('/api/v1/catalog/connectors').then(({ data }) => setOperations(data?.items ?? []));
  }, [session, name]);

  const doc = useMemo(() => (text === null ? null : parse(text)), [text]);
  const all = useMemo(() => (doc ? handlers(doc) : []), [doc]);
  const kind = (doc?.getIn(['trigger', 'type']) as string | undefined) ?? '';
  useEffect(() => {
    if (!kind) return;
    api.GET('/api/v1/catalog/{kind}', { params: { path: { kind } } }).then(({ data }) => setTrigger(data ?? null));
  }, [kind]);
  useEffect(() => {
    if (all.length && (!handler || !all.some((h) => h.channel === handler[0] && h.event === handler[1]))) {
      setHandler([all[0]!.channel, all[0]!.event]);
    }
  }, [all, handler]);
  const current = all.find((h) => handler && h.channel === handler[0] && h.event === handler[1]);

  const sample: Sample = useMemo(() => {
    const event = trigger?.channels.find((c) => c.name === handler?.[0])?.events.find((e) => e.name === handler?.[1]);
    return { payload: event?.sample ?? {}, schema: event?.schema ?? null };
  }, [trigger, handler]);

  // `onset validate` on every change, shown in the YAML and on the graph's nodes.
  useEffect(() => {
    if (text === null) return;
    const t = setTimeout(async () => {
      const { data } = await api.POST('/api/v1/validate', { body: { source: text, path: pathOf(name), files: {} } });
      setProblems(data?.problems ?? []);
    }, 250);
    return () => clearTimeout(t);
  }, [text, name]);

  const dirty = text !== null && text !== saved;
  useEffect(() => {
    leaving.dirty = dirty;
    const warn = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);
  useEffect(() => () => void (leaving.dirty = false), []);

  /** Every change goes through here: the YAML is replaced, the graph follows from it. */
  const change = useCallback(
    (next: string, fromEditor = false) => {
      setText((prev) => {
        if (prev !== null && prev !== next) {
          const h = history.current;
          // Typing in the editor coalesces into its own undo (CodeMirror's); graph edits are steps here.
          if (!fromEditor || h.past.length === 0 || h.past[h.past.length - 1] !== prev) h.past.push(prev);
          h.future = [];
        }
        return next;
      });
    },
    [],
  );
  const undo = () => {
    const h = history.current;
    const prev = h.past.pop();
    if (prev === undefined || text === null) return;
    h.future.push(text);
    setText(prev);
  };
  const redo = () => {
    const h = history.current;
    const next = h.future.pop();
    if (next === undefined || text === null) return;
    h.past.push(text);
    setText(next);
  };

  const add = (step: Record<string, unknown>) => {
    if (text === null || !handler) return;
    // After the selected step, in its list; else at the end of the handler.
    let list = '';
    let index: number | undefined;
    if (selected) {
      const cut = selected.lastIndexOf('.');
      list = cut < 0 ? '' : selected.slice(0, cut);
      index = Number(cut < 0 ? selected : selected.slice(cut + 1)) + 1;
    }
    try {
      const out = insertStep(text, handler, list, index, step);
      change(out.text);
      setSelected(out.path);
      setTab('step');
    } catch (e) {
      setStatus(String(e));
    }
  };
  const addCall = () => {
    const op = operations.find((o) => o.name === operation);
    const input = (op?.input ?? {}) as { required?: string[] };
    const w: Record<string, string> = {};
    for (const k of input.required ?? []) w[k] = '';
    add({ call: operation, with: w });
  };
  const remove = () => {
    if (text === null || !handler || !selected) return;
    change(removeStep(text, handler, selected));
    setSelected(undefined);
  };

  const save = async () => {
    if (text === null) return;
    const r = await saveSource(session, name, text, { base });
    if (r.error) return setStatus(r.error);
    setBase(r.base!);
    setSaved(text);
    setStatus(session.mode === 'project' ? 'Saved; the server deploys it to development.' : `Saved as revision ${r.base}.`);
  };

  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 's') {
        e.preventDefault();
        void save();
      }
    };
    window.addEventListener('keydown', keys);
    return () => window.removeEventListener('keydown', keys);
  });

  if (text === null) return <p aria-busy="true">Loading {name}…</p>;
  const placed = handler ? problemsByStep(text, handler, problems) : new Map<string, string>();
  const reveal = doc && handler && selected ? stepNode(doc, handler, selected)?.range?.[0] : undefined;
  return (
    <section className="editor">
      <div className="row toolbar">
        <h1>{name}</h1>
        <label className="inline">
          Handler{' '}
          <select
            value={handler ? `${handler[0]}\u0000${handler[1]}` : ''}
            onChange={(e) => {
              const [c, ev] = e.target.value.split('\u0000');
              setHandler([c!, ev!]);
              setSelected(undefined);
            }}
          >
            {all.map((h) => (
              <option key={`${h.channel}.${h.event}`} value={`${h.channel}\u0000${h.event}`}>
                {h.channel}.{h.event}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={undo} disabled={history.current.past.length === 0}>
          Undo
        </button>
        <button type="button" onClick={redo} disabled={history.current.future.length === 0}>
          Redo
        </button>
        <button type="button" onClick={save} disabled={!dirty || readOnly}>
          Save{dirty ? ' *' : ''}
        </button>
        <span className="status" role="status">
          {problems.length ? `${problems.length} problem${problems.length > 1 ? 's' : ''}` : 'valid'}
          {status ? ` · ${status}` : ''}
        </span>
      </div>
      <div className="palette" role="toolbar" aria-label="Add a step">
        {STEP_KINDS.filter((k) => k !== 'call').map((k) => (
          <button type="button" key={k} data-testid={`add-${k}`} onClick={() => add(NEW_STEP[k]!)} disabled={readOnly || !handler}>
            + {k}
          </button>
        ))}
        <label className="inline">
          <span className="sr-only">Connector operation</span>
          <select value={operation} onChange={(e) => setOperation(e.target.value)} data-testid="operation-select">
            {operations.map((o) => (
              <option key={o.name} value={o.name}>
                {o.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" data-testid="add-call" onClick={addCall} disabled={readOnly || !handler}>
          + call
        </button>
        <button type="button" onClick={remove} disabled={readOnly || !selected}>
          Remove step
        </button>
      </div>
      <div className="panes">
        <Graph steps={current?.steps ?? []} problems={placed} selected={selected} onSelect={setSelected} />
        <YamlEditor text={text} problems={problems} onChange={(t) => change(t, true)} readOnly={readOnly} reveal={reveal} />
      </div>
      {problems.length > 0 && (
        <ul className="problems" aria-label="Problems">
          {problems.map((p, i) => (
            <li key={i}>
              <code>
                {p.file}:{p.line}:{p.column}
              </code>{' '}
              {p.message}
            </li>
          ))}
        </ul>
      )}
      <div className="tabs" role="tablist" aria-label="Step, try and deploy">
        {(['step', 'try', 'deploy'] as const).map((t) => (
          <button key={t} role="tab" type="button" aria-selected={tab === t} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
            {t === 'step' ? 'Step' : t === 'try' ? 'Try' : 'Deploy'}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="tabpanel">
        {tab === 'step' &&
          (selected && handler ? (
            <StepForm
              key={`${selected}`}
              text={text}
              handler={handler}
              path={selected}
              sample={sample}
              operations={operations}
              onChange={change}
              readOnly={readOnly}
            />
          ) : (
            <p className="muted">Select a step in the graph to edit it, or add one from the palette.</p>
          ))}
        {tab === 'try' && handler && <TryPanel text={text} name={name} handler={handler} kind={kind} sample={sample} />}
        {tab === 'deploy' && (
          <DeployPanel session={session} name={name} text={text} handler={handler} kind={kind} sample={sample} trigger={trigger} />
        )}
      </div>
    </section>
  );
}
