import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { STEP_KINDS, handlers, insertStep, parse, removeStep, rerenderSteps, setStepField, stepNode } from './yaml';

// One handler with a step of every kind, containers holding more, comments and quoting.
const ALL = `# every step kind
component: all
trigger: { type: github }
handlers:
  IssuesService:
    onOpened:
      steps:
        # first a log
        - log: "#{{ event.issue.number }} opened"
          level: warn
        - id: vars
          set: { title: "{{ event.issue.title }}", n: 1 }
        - if: event.issue.number > 5
          then:
            - map: { big: true }
            - call: slack.postMessage
              with:
                channel: "#ops"
                text: 'big one'
          else:
            - delay: 1s
        - for_each: "{{ event.issue.labels }}"
          as: label
          do:
            - log: "{{ label.name }}"
        - switch: "{{ event.action }}"
          cases:
            big:
              - script: |
                  export default (ctx) => ctx.event.action;
          default:
            - script_file: scripts/x.js
        - respond: { status: 200 }
          on_error:
            - fail: gave up
`;

// The same kinds as the renderer writes them (block style): removing and inserting any step
// gives the text back.
const CANONICAL = `component: all
trigger:
  type: github
handlers:
  IssuesService:
    onOpened:
      steps:
        - log: "#{{ event.issue.number }} opened"
          level: warn
        - id: vars
          set:
            title: "{{ event.issue.title }}"
            n: 1
        - if: event.issue.number > 5
          then:
            - map:
                big: true
            - call: slack.postMessage
              with:
                channel: "#ops"
                text: big one
          else:
            - delay: 1s
        - for_each: "{{ event.issue.labels }}"
          as: label
          do:
            - log: "{{ label.name }}"
            - log: again
        - switch: "{{ event.action }}"
          cases:
            big:
              - script: |
                  export default (ctx) => ctx.event.action;
              - log: after
          default:
            - script_file: scripts/x.js
            - log: other
        - respond:
            status: 200
          on_error:
            - fail: gave up
            - log: not reached
`;

const H: [string, string] = ['IssuesService', 'onOpened'];

function paths(text: string): string[] {
  const out: string[] = [];
  const walk = (steps: ReturnType<typeof handlers>[number]['steps']) => {
    for (const s of steps) {
      out.push(`${s.path}:${s.kind}`);
      for (const b of s.branches) walk(b.steps);
    }
  };
  walk(handlers(parse(text))[0]!.steps);
  return out;
}

describe('the graph read from YAML', () => {
  it('names every step by its place in the source', () => {
    expect(paths(ALL)).toEqual([
      '0:log', '1:set', '2:if', '2.then.0:map', '2.then.1:call', '2.else.0:delay', '3:for_each', '3.do.0:log',
      '4:switch', '4.cases.big.0:script', '4.default.0:script_file', '5:respond', '5.on_error.0:fail',
    ]);
    const kinds = new Set(paths(ALL).map((p) => p.split(':')[1]));
    for (const k of STEP_KINDS) expect(kinds, k).toContain(k);
  });

  it('summarises each step', () => {
    const [h] = handlers(parse(ALL));
    expect(h!.steps[0]!.summary).toBe('#{{ event.issue.number }} opened');
    expect(h!.steps[1]).toMatchObject({ id: 'vars', summary: 'title, n' });
    expect(h!.steps[2]!.summary).toBe('event.issue.number > 5');
    expect(h!.steps[3]!.summary).toBe('{{ event.issue.labels }} as label');
  });
});

describe('edits write back only what changed', () => {
  it('every step kind round-trips: removed and inserted again, the text is the same', () => {
    const doc = parse(CANONICAL);
    const all = paths(CANONICAL).map((p) => p.split(':')[0]!);
    expect(new Set(paths(CANONICAL).map((p) => p.split(':')[1]))).toEqual(new Set(STEP_KINDS));
    for (const path of all) {
      const value = stepNode(doc, H, path)!.toJSON() as Record<string, unknown>;
      const cut = path.lastIndexOf('.');
      const list = cut < 0 ? '' : path.slice(0, cut);
      const index = Number(cut < 0 ? path : path.slice(cut + 1));
      const without = removeStep(CANONICAL, H, path);
      expect(paths(without).length, path).toBeLessThan(all.length);
      const back = insertStep(without, H, list, index, value);
      expect(back.text, path).toBe(CANONICAL);
      expect(back.path).toBe(path);
    }
  });

  it('adding an if and a connector step keeps the comments and the quoting', () => {
    const added = insertStep(ALL, H, '', 1, { if: 'event.issue.number > 100', then: [{ log: 'huge' }] });
    expect(added.path).toBe('1');
    const call = insertStep(added.text, H, '1.then', undefined, {
      call: 'slack.postMessage',
      with: { channel: '#ops', text: '{{ event.issue.title }}' },
    });
    expect(call.path).toBe('1.then.1');
    expect(call.text).toContain('# every step kind\n');
    expect(call.text).toContain('        # first a log\n');
    expect(call.text).toContain("text: 'big one'");
    expect(call.text).toContain(
      '        - if: event.issue.number > 100\n          then:\n            - log: huge\n            - call: slack.postMessage\n              with:\n                channel: "#ops"\n                text: "{{ event.issue.title }}"\n',
    );
    expect(paths(call.text).slice(0, 4)).toEqual(['0:log', '1:if', '1.then.0:log', '1.then.1:call']);
    // Outside the edit, not a byte moved.
    expect(call.text.replace(/        - if: event.issue.number > 100\n[\s\S]*?text: "\{\{ event.issue.title \}\}"\n/, '')).toBe(ALL);
  });

  it('an else added to an if is written into that step only', () => {
    const text = insertStep(ALL, H, '2.else', undefined, { log: 'small' }).text;
    expect(paths(text)).toContain('2.else.1:log');
    const noElse = ALL.replace('          else:\n            - delay: 1s\n', '');
    const added = insertStep(noElse, H, '2.else', 0, { log: 'small' });
    expect(added.path).toBe('2.else.0');
    expect(added.text).toContain('          else:\n            - log: small\n        - for_each');
  });

  it('a field set in place keeps its quoting', () => {
    const text = setStepField(ALL, H, '2.then.1', 'call', 'slack.updateMessage');
    expect(text).toBe(ALL.replace('call: slack.postMessage', 'call: slack.updateMessage'));
    const quoted = setStepField(ALL, H, '0', 'log', 'hello {{ event.action }}');
    expect(quoted).toBe(ALL.replace('"#{{ event.issue.number }} opened"', '"hello {{ event.action }}"'));
  });

  it('removing a step takes the comment above it', () => {
    const text = removeStep(ALL, H, '0');
    expect(text).not.toContain('# first a log');
    expect(paths(text)[0]).toBe('0:set');
  });
});

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

describe("the project's files round-trip without a byte changed", () => {
  const files = [...yamlFiles('../examples'), ...yamlFiles('../crates/engine/tests/golden')];
  it('finds the examples and the golden files', () => expect(files.length).toBeGreaterThanOrEqual(6));
  for (const file of files) {
    it(file, () => {
      const text = readFileSync(file, 'utf8');
      expect(rerenderSteps(text)).toBe(text);
    });
  }
});

describe('problems are placed on the step that holds them', () => {
  it('the innermost step of the line', async () => {
    const { problemsByStep } = await import('./yaml');
    const line = CANONICAL.split('\n').findIndex((l) => l.includes('text: big one')) + 1;
    const placed = problemsByStep(CANONICAL, H, [{ line, message: 'bad text' }]);
    expect([...placed]).toEqual([['2.then.1', 'bad text']]);
  });
});
