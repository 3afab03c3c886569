// The component's YAML is the only truth; the graph is a view of it. This module reads the
// handlers' steps out of the parsed document (npm `yaml`, Document API) and applies the graph's
// edits to that document, writing back only the text of what changed: everything else —
// comments, key order, blank lines, quoting, alignment — stays byte for byte.

import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YNode, YAMLMap, YAMLSeq } from 'yaml';

/** The action keys of a step (one per step), as the engine names them. */
export const STEP_KINDS = [
  'log', 'set', 'map', 'if', 'switch', 'for_each', 'call', 'script', 'script_file', 'delay', 'respond', 'fail',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** A list of steps inside a step: `then`, `else`, `do`, `default`, `on_error` or `cases.<key>`. */
export interface Branch {
  key: string;
  steps: FlowStep[];
}

export interface FlowStep {
  /** The step's place in the source: `0`, `2.then.1`, `3.do.0`, `4.cases.big.0`. */
  path: string;
  kind: StepKind | 'unknown';
  id?: string;
  name?: string;
  /** A one-line summary: the message, the condition, the operation. */
  summary: string;
  branches: Branch[];
}

export interface Handler {
  channel: string;
  event: string;
  steps: FlowStep[];
}

export function parse(text: string): Document {
  return parseDocument(text, { keepSourceTokens: true });
}

function scalarText(node: unknown): string {
  if (isScalar(node)) return String(node.value ?? '');
  if (node && typeof node === 'object' && 'toJSON' in node) {
    try {
      return JSON.stringify((node as YNode).toJSON());
    } catch {
      return '';
    }
  }
  return '';
}

function kindOf(map: YAMLMap): StepKind | 'unknown' {
  for (const item of map.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if ((STEP_KINDS as readonly string[]).includes(key)) return key as StepKind;
  }
  return 'unknown';
}

function summaryOf(map: YAMLMap, kind: string): string {
  const value = map.get(kind, true);
  switch (kind) {
    case 'set':
      return isMap(value) ? value.items.map((i) => scalarText(i.key)).join(', ') : '';
    case 'for_each':
      return `${scalarText(value)} as ${scalarText(map.get('as', true)) || 'item'}`;
    case 'if':
    case 'switch':
    case 'call':
    case 'log':
    case 'fail':
    case 'delay':
    case 'script_file':
      return scalarText(value);
    case 'script':
      return scalarText(value).split('\n')[0] ?? '';
    default:
      return '';
  }
}

function branchesOf(map: YAMLMap, path: string): Branch[] {
  const out: Branch[] = [];
  const list = (key: string, node: unknown) => {
    if (isSeq(node)) out.push({ key, steps: stepsOf(node, `${path}.${key}`) });
  };
  list('then', map.get('then', true));
  list('else', map.get('else', true));
  list('do', map.get('do', true));
  const cases = map.get('cases', true);
  if (isMap(cases)) {
    for (const item of cases.items) list(`cases.${scalarText(item.key)}`, item.value);
  }
  list('default', map.get('default', true));
  list('on_error', map.get('on_error', true));
  return out;
}

function stepsOf(seq: YAMLSeq, prefix: string): FlowStep[] {
  return seq.items.map((item, i) => {
    const path = prefix === '' ? String(i) : `${prefix}.${i}`;
    if (!isMap(item)) return { path, kind: 'unknown', summary: scalarText(item), branches: [] };
    const kind = kindOf(item);
    const id = item.get('id');
    const name = item.get('name');
    return {
      path,
      kind,
      id: typeof id === 'string' ? id : undefined,
      name: typeof name === 'string' ? name : undefined,
      summary: summaryOf(item, kind),
      branches: branchesOf(item, path),
    };
  });
}

/** Every handler of the component with its steps, in the order of the file. */
export function handlers(doc: Document): Handler[] {
  const all = doc.get('handlers', true);
  if (!isMap(all)) return [];
  const out: Handler[] = [];
  for (const channel of all.items) {
    if (!isMap(channel.value)) continue;
    for (const event of channel.value.items) {
      const handler = event.value;
      const steps = isMap(handler) ? handler.get('steps', true) : undefined;
      out.push({
        channel: scalarText(channel.key),
        event: scalarText(event.key),
        steps: isSeq(steps) ? stepsOf(steps, '') : [],
      });
    }
  }
  return out;
}

/** Where a handler is: `[channel, event]`. */
export type HandlerRef = [string, string];

function handlerMap(doc: Document, [channel, event]: HandlerRef): YAMLMap | undefined {
  const node = doc.getIn(['handlers', channel, event], true);
  return isMap(node) ? node : undefined;
}

/** Splits a list path (`''`, `2.then`, `4.cases.big`) into the steps list's place. */
function resolveList(doc: Document, handler: HandlerRef, listPath: string): { parent: YAMLMap; key: string } | undefined {
  let parent = handlerMap(doc, handler);
  if (!parent) return undefined;
  if (listPath === '') return { parent, key: 'steps' };
  const tokens = listPath.split('.');
  let key = 'steps';
  let i = 0;
  while (i < tokens.length) {
    const list: unknown = parent.get(key, true);
    const index = Number(tokens[i]);
    if (!isSeq(list) || !Number.isInteger(index)) return undefined;
    const step: unknown = list.items[index];
    if (!isMap(step)) return undefined;
    parent = step;
    const branch = tokens[i + 1];
    if (branch === undefined) return undefined;
    if (branch === 'cases') {
      const caseKey = tokens[i + 2];
      const cases: unknown = parent.get('cases', true);
      if (caseKey === undefined || !isMap(cases)) return undefined;
      parent = cases;
      key = caseKey;
      i += 3;
    } else {
      key = branch;
      i += 2;
    }
  }
  return { parent, key };
}

/** The step at `path` in a handler. */
export function stepNode(doc: Document, handler: HandlerRef, path: string): YAMLMap | undefined {
  const cut = path.lastIndexOf('.');
  const listPath = cut < 0 ? '' : path.slice(0, cut);
  const index = Number(cut < 0 ? path : path.slice(cut + 1));
  const place = resolveList(doc, handler, listPath);
  const list = place?.parent.get(place.key, true);
  const node = isSeq(list) ? list.items[index] : undefined;
  return isMap(node) ? node : undefined;
}

// ---- writing back -------------------------------------------------------------------------

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function columnOf(text: string, offset: number): number {
  return offset - lineStart(text, offset);
}

/** A value rendered as block YAML, its lines after the first indented by `indent` spaces. */
function render(value: unknown, indent: number): string {
  const d = new Document(value);
  const text = d.toString({ lineWidth: 0, flowCollectionPadding: true }).replace(/\n$/, '');
  return text
    .split('\n')
    .map((line, i) => (i === 0 || line === '' ? line : ' '.repeat(indent) + line))
    .join('\n');
}

/** Re-renders `node` (changed in the document) where it was in `text`: nothing else moves. */
function spliceNode(text: string, node: YNode): string {
  const [start, end] = node.range ?? [0, 0, 0];
  const indent = columnOf(text, start);
  const d = new Document();
  d.contents = node;
  let rendered = d.toString({ lineWidth: 0, flowCollectionPadding: true }).replace(/\n$/, '');
  rendered = rendered
    .split('\n')
    .map((line, i) => (i === 0 || line === '' ? line : ' '.repeat(indent) + line))
    .join('\n');
  // A block node's range ends after its last line's newline; keep the text that followed.
  const tail = text.slice(start, end).endsWith('\n') ? '\n' : '';
  return text.slice(0, start) + rendered + tail + text.slice(end);
}

/**
 * Inserts a step (a plain value such as `{ log: "hi" }`) into the list at `listPath` before
 * `index` (or at the end), and answers the new text and the new step's path.
 */
export function insertStep(
  text: string,
  handler: HandlerRef,
  listPath: string,
  index: number | undefined,
  step: Record<string, unknown>,
): { text: string; path: string } {
  const doc = parse(text);
  const place = resolveList(doc, handler, listPath);
  if (!place) throw new Error(`no steps list at ${listPath || 'the handler'}`);
  const list = place.parent.get(place.key, true);
  const prefix = listPath === '' ? '' : `${listPath}.`;
  if (isSeq(list) && !list.flow && list.items.length > 0) {
    const at = index === undefined || index >= list.items.length ? list.items.length : Math.max(0, index);
    const first = list.items[0] as YNode;
    const dash = lineStart(text, first.range![0]);
    const column = text.slice(dash).search(/-/);
    let offset: number;
    if (at < list.items.length) {
      offset = lineStart(text, (list.items[at] as YNode).range![0]);
      // Comments written above the item stay above it.
      const before = text.slice(0, offset).match(/(?:^[ \t]*#[^\n]*\n)+$/m);
      if (before) offset -= before[0].length;
    } else {
      const last = list.items[list.items.length - 1] as YNode;
      const end = last.range![1];
      const nl = text.indexOf('\n', end - 1);
      offset = nl < 0 ? text.length : nl + 1;
    }
    const item = `${' '.repeat(column)}- ${render(step, column + 2)}\n`;
    const needsNewline = offset === text.length && !text.endsWith('\n');
    const out = text.slice(0, offset) + (needsNewline ? '\n' : '') + item + text.slice(offset);
    return { text: out, path: `${prefix}${at}` };
  }
  // No block list yet (absent, empty or in flow style): the list is written by the document.
  const items = isSeq(list) ? list.items.map((i) => (i as YNode).toJSON?.() ?? i) : [];
  const at = index === undefined || index >= items.length ? items.length : Math.max(0, index);
  items.splice(at, 0, step);
  place.parent.set(place.key, doc.createNode(items));
  const holder = place.parent;
  if (holder.range) {
    return { text: spliceNode(text, holder), path: `${prefix}${at}` };
  }
  return { text: doc.toString({ lineWidth: 0 }), path: `${prefix}${at}` };
}

/** Removes the step at `path` (with the comment lines right above it). */
export function removeStep(text: string, handler: HandlerRef, path: string): string {
  const doc = parse(text);
  const cut = path.lastIndexOf('.');
  const listPath = cut < 0 ? '' : path.slice(0, cut);
  const index = Number(cut < 0 ? path : path.slice(cut + 1));
  const place = resolveList(doc, handler, listPath);
  const list = place?.parent.get(place.key, true);
  if (!place || !isSeq(list) || !list.items[index]) throw new Error(`no step ${path}`);
  if (!list.flow && list.items.length > 1) {
    const item = list.items[index] as YNode;
    let start = lineStart(text, item.range![0]);
    const next = list.items[index + 1] as YNode | undefined;
    let end: number;
    if (next) {
      end = lineStart(text, next.range![0]);
      const above = text.slice(0, end).match(/(?:^[ \t]*#[^\n]*\n)+$/m);
      if (above && end - above[0].length > start) end -= above[0].length;
    } else {
      const nl = text.indexOf('\n', item.range![1] - 1);
      end = nl < 0 ? text.length : nl + 1;
    }
    // Comment lines right above the item, at its indentation, go with it.
    const column = item.range![0] - start - 2;
    const above = text.slice(0, start).match(new RegExp(`(?:^ {${Math.max(0, column)}}#[^\\n]*\\n)+$`, 'm'));
    if (above) start -= above[0].length;
    return text.slice(0, start) + text.slice(end);
  }
  list.items.splice(index, 1);
  return place.parent.range ? spliceNode(text, place.parent) : doc.toString({ lineWidth: 0 });
}

/** Sets (or, with `undefined`, removes) one key of the step at `path`. */
export function setStepField(text: string, handler: HandlerRef, path: string, key: string, value: unknown): string {
  const doc = parse(text);
  const node = stepNode(doc, handler, path);
  if (!node) throw new Error(`no step ${path}`);
  const current = node.get(key, true);
  // A scalar changes in place: only its own text is replaced.
  if (isScalar(current) && current.range && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) {
    const [start, end] = current.range;
    const scalar = doc.createNode(value);
    if (isScalar(scalar) && typeof value === 'string' && current.type && current.type !== 'PLAIN' && current.type !== 'BLOCK_LITERAL' && current.type !== 'BLOCK_FOLDED') {
      scalar.type = current.type;
    }
    const rendered = render(scalar, columnOf(text, start));
    return text.slice(0, start) + rendered + text.slice(end).replace(/^[ \t]+(?=\n)/, '');
  }
  if (value === undefined) node.delete(key);
  else node.set(key, doc.createNode(value));
  return spliceNode(text, node);
}

/** Every step node re-rendered in place, as if each were edited without change. */
export function rerenderSteps(text: string): string {
  let out = text;
  const doc = parse(text);
  const paths: { handler: HandlerRef; path: string }[] = [];
  const walk = (h: HandlerRef, steps: FlowStep[]) => {
    for (const s of steps) {
      paths.push({ handler: h, path: s.path });
      for (const b of s.branches) walk(h, b.steps);
    }
  };
  for (const h of handlers(doc)) walk([h.channel, h.event], h.steps);
  // Innermost last in file order, so re-rendering later steps never moves earlier ones: go backwards.
  for (const { handler, path } of paths.reverse()) {
    const d = parse(out);
    const node = stepNode(d, handler, path);
    if (node?.range && !node.flow) out = spliceNode(out, node);
  }
  return out;
}

/** The innermost step of `handler` holding each 1-based line that has a problem: path → message. */
export function problemsByStep(text: string, handler: HandlerRef, problems: { line: number; message: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  if (problems.length === 0) return out;
  const doc = parse(text);
  const h = handlers(doc).find((x) => x.channel === handler[0] && x.event === handler[1]);
  if (!h) return out;
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  const spans: { path: string; from: number; to: number; depth: number }[] = [];
  const walk = (steps: FlowStep[]) => {
    for (const s of steps) {
      const node = stepNode(doc, handler, s.path);
      if (node?.range) spans.push({ path: s.path, from: lineAt(node.range[0]), to: lineAt(node.range[1]), depth: s.path.split('.').length });
      for (const b of s.branches) walk(b.steps);
    }
  };
  walk(h.steps);
  for (const p of problems) {
    const holders = spans.filter((s) => s.from <= p.line && p.line <= s.to).sort((a, b) => b.depth - a.depth);
    const at = holders[0];
    if (at && !out.has(at.path)) out.set(at.path, p.message);
  }
  return out;
}
