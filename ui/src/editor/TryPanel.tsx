import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { HandlerRef } from '../flow/yaml';
import type { Sample } from '../pages/Editor';
import { pathOf } from '../source';
import { StepsTable } from './StepsTable';

/** Runs the handler on the sample (or a pasted event) with `/api/v1/try`: nothing is stored. */
export function TryPanel({ text, name, handler, kind, sample }: { text: string; name: string; handler: HandlerRef; kind: string; sample: Sample }) {
  const [payload, setPayload] = useState(() => JSON.stringify(sample.payload ?? {}, null, 2));
  const [config, setConfig] = useState('');
  const [result, setResult] = useState<Schemas['TryResult'] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => setPayload(JSON.stringify(sample.payload ?? {}, null, 2)), [sample]);
  const run = async () => {
    setError('');
    setResult(null);
    let body: unknown;
    try {
      body = JSON.parse(payload || '{}');
    } catch (e) {
      return setError(`The event is not JSON: ${e}`);
    }
    const values: Record<string, string> = {};
    for (const line of config.split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) values[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    const event = kind === 'http' ? `${handler[1]} ${handler[0]}` : `${handler[0]}.${handler[1]}`;
    const { data, error } = await api.POST('/api/v1/try', {
      body: { source: text, path: pathOf(name), files: {}, event, payload: body as never, config: values },
    });
    if (data) setResult(data);
    else setError(problem(error));
  };
  return (
    <div className="try">
      <div className="split">
        <div>
          <label htmlFor="try-event">Event ({handler[0]}.{handler[1]})</label>
          <textarea id="try-event" rows={10} value={payload} onChange={(e) => setPayload(e.target.value)} spellCheck={false} />
        </div>
        <div>
          <label htmlFor="try-config">Config, one KEY=VALUE per line</label>
          <textarea id="try-config" rows={4} value={config} onChange={(e) => setConfig(e.target.value)} spellCheck={false} />
          <p className="muted">Runs like <code>onset run</code>: connectors are called for real, without accounts; nothing is stored.</p>
          <button type="button" data-testid="try-run" onClick={run}>
            Run on this event
          </button>
        </div>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {result && (
        <div data-testid="try-result">
          <p role="status">
            <strong className={`badge ${result.status}`}>{result.status}</strong> {result.handler} in {result.duration_ms.toFixed(1)} ms
            {result.error && (
              <>
                {' '}
                — step <code>{result.error_step}</code>: {result.error}
              </>
            )}
          </p>
          <StepsTable steps={result.steps} />
        </div>
      )}
    </div>
  );
}
