import { useEffect, useState } from 'react';

import { api, problem, type Schemas } from '../api/client';
import type { Session } from '../App';
import { go } from '../route';

type Bucket = Schemas['SeriesBucket'];

interface Line {
  name: string;
  className: string;
  value: (b: Bucket) => number;
}

const W = 640;
const H = 160;

/** One chart over the buckets; a click on a point opens the runs of that bucket. */
function Chart({ title, buckets, lines, unit, onPick, testid }: { title: string; buckets: Bucket[]; lines: Line[]; unit: string; onPick: (b: Bucket) => void; testid: string }) {
  const max = Math.max(1, ...buckets.flatMap((b) => lines.map((l) => l.value(b))));
  const x = (i: number) => (buckets.length <= 1 ? W / 2 : (i / (buckets.length - 1)) * (W - 20) + 10);
  const y = (v: number) => H - 14 - (v / max) * (H - 28);
  const total = (l: Line) => buckets.reduce((s, b) => s + l.value(b), 0);
  return (
    <figure className="chart card" data-testid={testid}>
      <figcaption>
        <strong>{title}</strong>{' '}
        {lines.map((l) => (
          <span key={l.name} className={`legend ${l.className}`}>
            {l.name}
            {unit === 'events' ? `: ${total(l)}` : ''}
          </span>
        ))}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="xMinYMid meet" role="img" aria-label={`${title} over time, up to ${max.toFixed(unit === 'ms' ? 1 : 0)} ${unit}`}>
        <line x1="0" x2={W} y1={H - 14} y2={H - 14} className="axis" />
        <text x="4" y="12" className="tick">
          {max.toFixed(unit === 'ms' ? 1 : 0)} {unit}
        </text>
        {lines.map((l) => (
          <g key={l.name} className={l.className}>
            <polyline fill="none" points={buckets.map((b, i) => `${x(i)},${y(l.value(b))}`).join(' ')} />
            {buckets.map((b, i) => (
              <circle
                key={i}
                cx={x(i)}
                cy={y(l.value(b))}
                r={l.value(b) > 0 ? 4 : 2}
                data-testid={l.value(b) > 0 ? `${testid}-point` : undefined}
                onClick={() => onPick(b)}
              >
                <title>
                  {new Date(b.start).toLocaleTimeString()}: {l.value(b).toFixed(unit === 'ms' ? 1 : 0)} {unit} {l.name}
                </title>
              </circle>
            ))}
          </g>
        ))}
      </svg>
    </figure>
  );
}

/** Throughput, latency and outcomes per component and environment over time, from the series API. */
export function Observe({ session, params }: { session: Session; params: URLSearchParams }) {
  const [components, setComponents] = useState<string[]>([]);
  const component = params.get('component') ?? '';
  const environment = params.get('environment') ?? '';
  const [span, setSpan] = useState('1h');
  const [series, setSeries] = useState<Schemas['Series'] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api.GET('/api/v1/components').then(({ data }) => setComponents([...new Set((data?.items ?? []).map((c) => c.name))].sort()));
  }, []);
  useEffect(() => {
    const hours = span === '24h' ? 24 : span === '6h' ? 6 : 1;
    const from = new Date(Date.now() - hours * 3600_000).toISOString();
    const step = hours > 6 ? '1h' : hours > 1 ? '5m' : '1m';
    const query = { from, step, component: component || undefined, environment: environment || undefined };
    const load = () =>
      api.GET('/api/v1/metrics/series', { params: { query: query as never } }).then(({ data, error }) => {
        if (data) setSeries(data);
        else setError(problem(error));
      });
    void load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [component, environment, span]);

  const pick = (b: Bucket) => {
    const widthMs = series?.step === '1h' ? 3600_000 : series?.step === '5m' ? 300_000 : 60_000;
    const q = new URLSearchParams({ from: b.start, to: new Date(Date.parse(b.start) + widthMs).toISOString() });
    if (component) q.set('component', component);
    if (environment) q.set('environment', environment);
    go(`#/runs?${q}`);
  };
  const set = (k: string, v: string) => {
    const q = new URLSearchParams(params);
    if (v) q.set(k, v);
    else q.delete(k);
    go(`#/observe?${q}`);
  };
  const buckets = series?.buckets ?? [];
  return (
    <section>
      <h1>Observe</h1>
      <div className="filters" role="group" aria-label="What to show">
        <label>
          Component{' '}
          <select value={component} onChange={(e) => set('component', e.target.value)}>
            <option value="">all</option>
            {components.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Environment{' '}
          <select value={environment} onChange={(e) => set('environment', e.target.value)}>
            <option value="">all</option>
            {session.environments.map((e) => (
              <option key={e}>{e}</option>
            ))}
          </select>
        </label>
        <label>
          Last{' '}
          <select value={span} onChange={(e) => setSpan(e.target.value)}>
            <option>1h</option>
            <option>6h</option>
            <option>24h</option>
          </select>
        </label>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <Chart
        title="Throughput"
        testid="throughput"
        unit="events"
        buckets={buckets}
        onPick={pick}
        lines={[
          { name: 'accepted', className: 'l-accepted', value: (b) => b.accepted },
          { name: 'duplicates', className: 'l-dup', value: (b) => b.duplicates },
        ]}
      />
      <Chart
        title="Runs"
        testid="outcomes"
        unit="events"
        buckets={buckets}
        onPick={pick}
        lines={[
          { name: 'succeeded', className: 'l-ok', value: (b) => b.runs.succeeded },
          { name: 'failed', className: 'l-fail', value: (b) => b.runs.failed + b.runs.dead },
          { name: 'retried', className: 'l-retry', value: (b) => b.runs.retried },
        ]}
      />
      <Chart
        title="Latency"
        testid="latency"
        unit="ms"
        buckets={buckets}
        onPick={pick}
        lines={[
          { name: 'p50', className: 'l-p50', value: (b) => b.duration_ms.p50 },
          { name: 'p95', className: 'l-p95', value: (b) => b.duration_ms.p95 },
          { name: 'p99', className: 'l-p99', value: (b) => b.duration_ms.p99 },
        ]}
      />
    </section>
  );
}
