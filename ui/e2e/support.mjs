// What the browser journeys share: the onset binary on a free port, waiting without fixed
// sleeps, chromium, axe-core's check and screenshots.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const shotsAt = process.argv.indexOf('--screenshots');
const shots = shotsAt > 0 ? resolve(process.argv[shotsAt + 1]) : null;
export const bin = process.env.ONSET_BIN ? resolve(process.env.ONSET_BIN) : resolve(repo, 'target/debug/onset');

export function fail(message) {
  throw new Error(message);
}

export function check(condition, message) {
  if (!condition) fail(message);
}

export async function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export async function until(what, probe, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  fail(`timed out waiting for ${what} (${last})`);
}

/** Serious or critical accessibility violations found so far, `page: rule — nodes`. */
export const violations = [];

/**
 * axe-core over the page (without what `options.exclude` selects). It is evaluated through the
 * DevTools protocol, which the page's content security policy does not govern.
 */
export async function axe(page, name, options = {}) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async (o) => {
    const context = o.exclude ? { exclude: o.exclude } : document;
    // eslint-disable-next-line no-undef
    const r = await axe.run(context, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }, options);
  for (const v of result) violations.push(`${name}: ${v}`);
  console.log(`axe ${name}: ${result.length} serious or critical`);
}

export async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

/** `onset serve` on a free port, with `--project DIR` when given (else server mode). */
export async function serve(project, extra = []) {
  const data = mkdtempSync(join(tmpdir(), 'onset-ui-data-'));
  const port = await freePort();
  const args = ['serve', '--data-dir', data, '--listen', `127.0.0.1:${port}`, ...(project ? ['--project', project] : []), ...extra];
  const server = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  const out = { base: `http://127.0.0.1:${port}`, data, server, log: '' };
  server.stderr.on('data', (d) => (out.log += d));
  await until('the server', async () => (await fetch(`${out.base}/readyz`)).ok);
  return out;
}

/** Debian's chromium, headless, with nothing reaching out on its own. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}
