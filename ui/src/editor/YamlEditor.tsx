import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { Annotation, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';

/** Marks a change pushed in from outside (the graph), so it is not reported back. */
const external = Annotation.define<boolean>();

export interface Problem {
  line: number;
  column: number;
  message: string;
}

/** CodeMirror 6 over the component's YAML; `onChange` hears every edit typed here. */
export function YamlEditor({
  text,
  problems,
  onChange,
  readOnly,
  reveal,
}: {
  text: string;
  problems: Problem[];
  onChange: (text: string) => void;
  readOnly?: boolean;
  /** An offset to scroll into view (the step selected in the graph). */
  reveal?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: text,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          EditorState.readOnly.of(!!readOnly),
          EditorView.contentAttributes.of({ 'aria-label': 'Component YAML' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged && !u.transactions.some((t) => t.annotation(external))) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    // The scroller takes the keyboard too (arrow keys scroll it), as a scrollable region must.
    v.scrollDOM.tabIndex = 0;
    v.scrollDOM.setAttribute('aria-label', 'Component YAML, scrollable');
    view.current = v;
    return () => v.destroy();
    // The editor is made once; text and problems are pushed into it below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const current = v.state.doc.toString();
    if (current !== text) {
      // Replace only the changed middle, so the cursor and scroll stay where they were.
      let start = 0;
      while (start < current.length && start < text.length && current[start] === text[start]) start++;
      let endA = current.length;
      let endB = text.length;
      while (endA > start && endB > start && current[endA - 1] === text[endB - 1]) {
        endA--;
        endB--;
      }
      v.dispatch({ changes: { from: start, to: endA, insert: text.slice(start, endB) }, annotations: external.of(true) });
    }
  }, [text]);

  useEffect(() => {
    const v = view.current;
    if (!v) return;
    const doc = v.state.doc;
    const diagnostics: Diagnostic[] = problems.map((p) => {
      const line = doc.line(Math.min(Math.max(1, p.line), doc.lines));
      const from = Math.min(line.from + Math.max(0, p.column - 1), line.to);
      return { from, to: Math.max(from, line.to), severity: 'error', message: p.message };
    });
    v.dispatch(setDiagnostics(v.state, diagnostics));
  }, [problems, text]);

 useEffect(() => {
    const v = view.current;
    if (!v || reveal === undefined || reveal > v.state.doc.length) return;
    v.dispatch({ selection: { anchor: reveal }, scrollIntoView: true });
  }, [reveal]);

  return <div data-testid="yaml-editor" className="yaml-editor" ref={host} />;
}
