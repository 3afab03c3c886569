import { useState } from 'react';

/** Copies text to the clipboard (or, where the page may not, selects it for Ctrl+C). */
export function Copy({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const [state, setState] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('Copied');
    } catch {
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      const ok = document.execCommand('copy');
      area.remove();
      setState(ok ? 'Copied' : 'Copy it by hand');
    }
    window.setTimeout(() => setState(''), 2500);
  };
  return (
    <>
      <button type="button" className="secondary" onClick={copy} aria-label={label} data-testid={testId}>
        Copy
      </button>
      <span role="status" className="muted">
        {state}
      </span>
    </>
  );
}
