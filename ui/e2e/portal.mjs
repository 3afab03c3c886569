// The developer portal's journey in a real browser against `onset serve --project`, under the
// server's own content security policy: the published APIs (a deprecated one marked), a consumer
// signs up, creates an application, subscribes it under Bronze, gets a sandbox key, calls the API
// from the console (Swagger UI, served by Onset) and sees 202, copies the operation's cURL
// command and runs it in a shell (202 again), downloads the Postman collection and environment
// (with the key) and newman runs them green, and the requests are stored events; an OAuth2 API
// is called from the console with a test token of the application. Nothing is
// fetched from another origin; axe-core checks every page.
//
//   ONSET_BIN=target/debug/onset node e2e/portal.mjs [--screenshots DIR]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { axe, bin, check, launch, repo, serve, shot, until, violations } from './support.mjs';

const SHOP = `component: shop
description: Orders of the shop.
docs: |
  # Shop orders
  Send one order per request to \`POST /orders\`; the answer names the stored event.
trigger:
  type: http
  with:
    security: { scheme: api_key }
    rate_limit: 100/s
handlers:
  /orders:
    POST:
      schema:
        type: object
        required: [sku, qty]
        properties: { sku: { type: string }, qty: { type: integer, minimum: 1 } }
      steps: [ { log: "order {{ event.sku }}" } ]
`;

const STOCK = `component: stock
trigger:
  type: http
  with: { security: { scheme: oauth2 } }
handlers:
  /levels:
    POST: { steps: [ { log: stock } ] }
`;

const LEGACY = `component: legacy
trigger: { type: http }
handlers:
  /:
    POST: { steps: [ { log: old } ] }
`;

async function main() {
  check(existsSync(bin), `no onset binary at ${bin} (cargo build -p onset-cli, or set ONSET_BIN)`);
  const project = mkdtempSync(join(tmpdir(), 'onset-portal-project-'));
  writeFileSync(join(project, 'onset.yaml'), 'name: portal-journey\n');
  mkdirSync(join(project, 'components'));
  writeFileSync(join(project, 'components/shop.yaml'), SHOP);
  writeFileSync(join(project, 'components/legacy.yaml'), LEGACY);
  writeFileSync(join(project, 'components/stock.yaml'), STOCK);
  const served = await serve(project);
  const { base, data, server } = served;
  const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
  const admin = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const browser = await launch();
  try {
    await until('the deployed APIs', async () => (await (await fetch(`${base}/portal/api/apis`)).json()).items.length === 3);
    const deprecated = await fetch(`${base}/api/v1/components/legacy/lifecycle?environment=development`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ state: 'deprecated' }),
    });
    check(deprecated.ok, `deprecating legacy: ${deprecated.status}`);

    // The page runs under the server's CSP (no bypass): Swagger UI must work within it.
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await context.newPage();
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) violations.push(`CSP: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('data:')) violations.push(`a request elsewhere: ${r.url()}`);
    });
    page.on('dialog', (d) => d.accept());

    // The published APIs, for anyone.
    await page.goto(`${base}/portal`);
    const list = page.getByTestId('api-list');
    await list.getByRole('link', { name: 'shop' }).waitFor();
    check((await list.innerText()).match(/legacy\s*deprecated/), `legacy is marked deprecated:\n${await list.innerText()}`);
    await axe(page, 'portal apis');
    await shot(page, 'portal-apis');

    // Sign up.
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.getByTestId('portal-name').fill('Ann Consumer');
    await page.getByTestId('portal-email').fill('ann@example.com');
    await page.getByTestId('portal-password').fill('a long portal secret');
    await axe(page, 'portal sign-up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await until('signed in', async () => (await page.getByTestId('consumer').innerText()).includes('ann@example.com'));

    // An application: its client secret is shown once.
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.getByTestId('app-name').fill('storefront');
    await page.getByRole('button', { name: 'Create application' }).click();
    const secret = await page.getByTestId('client-secret').innerText();
    check(secret.startsWith('onset_cs_'), `the client secret: ${secret}`);
    await page.getByTestId('application-storefront').waitFor();
    await axe(page, 'portal applications');
    await shot(page, 'portal-applications');

    // The API: subscribe under Bronze, get keys (the sandbox key goes to the console).
    await page.getByRole('link', { name: 'APIs' }).click();
    await page.getByTestId('api-list').getByRole('link', { name: 'shop' }).click();
    await page.getByTestId('sub-plan').selectOption('Bronze');
    await page.getByTestId('subscribe').click();
    await until('the subscription', async () => (await page.getByTestId('subscriptions').innerText()).includes('storefront is subscribed under Bronze'));
    await page.getByTestId('issue-keys').click();
    const sandbox = await page.getByTestId('sandbox-key').innerText();
    check(sandbox.startsWith('onset_test_'), `the sandbox key: ${sandbox}`);
    check((await page.getByTestId('credential').inputValue()) === sandbox, 'the console uses the sandbox key');

    // The console: the docs, then POST /orders with its sample body → 202.
    const consoleArea = page.getByTestId('console');
    await consoleArea.getByText('Shop orders').waitFor({ timeout: 30000 });
    const op = consoleArea.locator('.opblock-post').first();
    await op.locator('.opblock-summary').first().click();
    await op.getByRole('button', { name: 'Execute' }).click();
    const status = op.locator('.live-responses-table tbody .response-col_status').first();
    await until('the console answer', async () => (await status.innerText()).trim() === '202', 20000);
    await axe(page, 'portal api');
    await shot(page, 'portal-api');

    // The operation's cURL command, copied, works from a shell.
    await page.getByTestId('copy-curl-POST /orders').click();
    const command = await page.evaluate(() => navigator.clipboard.readText());
    check(command.includes(`x-api-key: ${sandbox}`) && command.includes('/hooks/development/shop/orders'), `the command:\n${command}`);
    const out = execFileSync('/bin/sh', ['-c', `${command} -o /dev/null -w '%{http_code}'`], { encoding: 'utf8' });
    check(out.trim() === '202', `the copied command answered ${out}:\n${command}`);

    // The Postman collection and the environment with the sandbox key, downloaded from the page,
    // run green with Postman's own runner (newman).
    const saved = {};
    for (const file of ['Postman collection', 'Postman environment (with your credential)']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: file }).click()]);
      saved[file] = join(project, download.suggestedFilename());
      await download.saveAs(saved[file]);
    }
    const environment = JSON.parse(readFileSync(saved['Postman environment (with your credential)'], 'utf8'));
    check(environment.values.some((v) => v.key === 'apiKey' && v.value === sandbox), 'the environment carries the sandbox key');
    const newman = join(repo, 'tests/npm/node_modules/newman/bin/newman.js');
    const report = execFileSync(process.execPath, [newman, 'run', saved['Postman collection'], '-e', saved['Postman environment (with your credential)'], '--color', 'off'], { encoding: 'utf8' });
    check(/assertions\s*│\s*1\s*│\s*0/.test(report), `newman:\n${report}`);

    // The three calls are stored events of the API.
    await until('three stored events', async () => {
      const r = await (await fetch(`${base}/api/v1/events?component=shop&environment=development`, { headers: admin })).json();
      return r.items?.length === 3;
    });

    // An OAuth2 API: the console calls it with a test token of the subscribed application.
    await page.goto(`${base}/portal#/api/development/stock`);
    await page.getByTestId('subscribe').click();
    await until('the stock subscription', async () => (await page.getByTestId('subscriptions').innerText()).includes('storefront'));
    await page.getByTestId('test-token').click();
    await until('the test token', async () => (await page.getByTestId('credential').inputValue()).split('.').length === 3);
    const stockOp = page.getByTestId('console').locator('.opblock-post').first();
    await stockOp.locator('.opblock-summary').first().click();
    await stockOp.getByRole('button', { name: 'Execute' }).click();
    const stockStatus = stockOp.locator('.live-responses-table tbody .response-col_status').first();
    await until('the token call', async () => (await stockStatus.innerText()).trim() === '202', 20000);
    check((await page.getByTestId('curl-POST /levels').innerText()).includes('Authorization: Bearer ey'), 'the cURL command carries the token');
    await axe(page, 'portal oauth2 api');

    // Signed out, the APIs are still listed and applications ask for a sign-in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await page.goto(`${base}/portal#/applications`);
    await page.getByText('Sign in to see your applications.').waitFor();
    await axe(page, 'portal sign-in');

    check(violations.length === 0, `problems found:\n${violations.join('\n')}`);
    console.log('portal journey: ok');
  } catch (e) {
    console.error(served.log.slice(-4000));
    for (const p of browser.contexts().flatMap((c) => c.pages())) {
      await p.screenshot({ path: join(tmpdir(), 'onset-portal-failure.png'), fullPage: true }).catch(() => {});
    }
    console.error(`screenshot: ${join(tmpdir(), 'onset-portal-failure.png')}`);
    throw e;
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    rmSync(project, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`portal journey failed: ${e.stack ?? e}`);
  process.exit(1);
});
