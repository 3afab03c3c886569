import type { Schemas } from '../api/client';

function json(v: unknown) {
  return v === undefined || v === null ? '' : JSON.stringify(v, null, 2);
}

/** A run's steps: each with its input, output, logs and error. */
export function StepsTable({ steps }: { steps: Schemas['Step'][] }) {
  return (
    <table className="table steps" data-testid="steps-table">
      <caption className="sr-only">Steps of the run</caption>
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">Type</th>
          <th scope="col">Status</th>
          <th scope="col">ms</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((s, i) => (
          <tr key={i} data-testid={`run-step-${s.path}`}>
            <td>
              <code>{s.path}</code>
              {s.id ? ` (${s.id})` : ''}
            </td>
            <td>{s.type}</td>
            <td>
              <span className={`badge ${s.status}`}>{s.status}</span>
            </td>
            <td>{s.duration_ms.toFixed(1)}</td>
            <td>
              <details>
                <summary>input, output{s.logs ? ', logs' : ''}{s.error ? ', error' : ''}</summary>
                {s.error && <p className="error">{s.error}</p>}
                <h3>Input</h3>
                <pre>{json(s.input)}</pre>
                <h3>Output</h3>
                <pre>{json(s.output)}</pre>
                {s.logs && (
                  <>
                    <h3>Logs</h3>
                    <pre>{(s.logs as string[]).join('\n')}</pre>
                  </>
                )}
              </details>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
