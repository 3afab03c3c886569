// The web UI's journeys in a real browser (Debian's chromium driven by playwright-core), against
// a real `onset serve --project`: sign in, create a GitHub IssuesService component from the
// catalog, add an `if` and a connector step in the graph (the file's comment stays), edit the
// YAML and see the graph follow, try the handler on its sample, deploy (giving the missing
// secret), send a signed test event and open its run, promote to production, and see the
// throughput graph show the event. axe-core checks every page for serious or critical
// accessibility violations.
//
//   ONSET_BIN=target/debug/onset node e2e/journeys.mjs [--screenshots DIR]
//
// Prints the first page's JavaScript size (gzipped) and the time of the first render after
// sign-in; neither is asserted as a timing.
import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { axe, bin, check, launch, repo, serve, shot, until, violations } from './support.mjs';

/** The first page's JavaScript, gzipped: what index.html loads. */
function firstPageJs() {
  const dist = join(repo, 'ui/dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script[^>]+src="\/([^"]+)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+)"/g)];
  return scripts.reduce((sum, m) => sum + gzipSync(readFileSync(join(dist, m[1]))).length, 0);
}
/** Drags an event field of the data mapper onto an input (HTML5 drag and drop events, as a mouse makes them). */
async function dragField(page, field, target) {
  const source = page.getByTestId(`field-${field}`);
  await source.scrollIntoViewIfNeeded();
  const into = page.getByTestId(target);
  const transfer = await page.evaluateHandle(() => new DataTransfer());
  await source.dispatchEvent('dragstart', { dataTransfer: transfer });
  await into.dispatchEvent('dragenter', { dataTransfer: transfer });
  await into.dispatchEvent('dragover', { dataTransfer: transfer });
  await into.dispatchEvent('drop', { dataTransfer: transfer });
  await source.dispatchEvent('dragend', { dataTransfer: transfer });
}

/**
 * Server mode (no --project): the editor keeps drafts in the store and deploys from them; a
 * viewer sees the same pages and can change nothing.
 */
async function serverMode(browser) {
  const { base, data, server } = await serve(null);
  try {
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    const admin = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, bypassCSP: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    page.on('dialog', (d) => d.accept());
    await page.goto(base + '/');
    await page.getByTestId('login-token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('component-list').waitFor();
    await page.getByRole('link', { name: 'New component' }).click();
    await page.getByTestId('catalog').getByRole('button', { name: /github/ }).click();
    await page.getByLabel('Channel').selectOption('IssuesService');
    await page.getByLabel('Component name').fill('drafted');
    await page.getByRole('button', { name: 'Create and edit' }).click();
    await page.getByTestId('step-0').click();
    await page.getByTestId('add-fail').click();
    await page.getByTestId('step-1').waitFor();
    await page.getByRole('button', { name: /^Save/ }).click();
    const draft = await until('the saved draft', async () => {
      const d = await (await fetch(`${base}/api/v1/drafts/drafted`, { headers: admin })).json();
      return d.revision === 2 ? d : null;
    });
    check(draft.text.startsWith('# Made by `onset new drafted') && draft.text.includes('- fail: "stopped: {{ event.action }}"'), `the draft:\n${draft.text}`);
    await page.getByRole('link', { name: 'Components' }).click();
    await page.getByTestId('component-list').getByText('drafted').waitFor();
    await page.goto(`${base}/#/edit/drafted`);
    await page.getByTestId('tab-deploy').click();
    await page.getByTestId('deploy').click();
    await page.getByTestId('config-webhook_secret').fill('dev-secret-789');
    await page.getByTestId('config-save').click();
    await until('the deployment from the draft', async () => (await page.getByTestId('env-development').innerText()).includes('-'));

    // A viewer: every page, no change.
    const made = await (await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'wall', role: 'viewer' }) })).json();
    const viewer = await (await browser.newContext({ viewport: { width: 1400, height: 1000 }, bypassCSP: true })).newPage();
    await viewer.goto(base + '/');
    await viewer.getByTestId('login-token').fill(made.token);
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    await viewer.getByTestId('component-list').getByText('drafted').waitFor();
    await viewer.goto(`${base}/#/edit/drafted`);
    await viewer.getByTestId('step-0').waitFor();
    check(await viewer.getByTestId('add-if').isDisabled(), 'a viewer cannot add steps');
    await viewer.getByTestId('tab-deploy').click();
    check(await viewer.getByTestId('deploy').isDisabled(), 'a viewer cannot deploy');
    await axe(viewer, 'viewer editor');
    console.log('ui journeys (server mode, viewer): ok');
  } finally {
    server.kill('SIGTERM');
    rmSync(data, { recursive: true, force: true });
  }
}

async function main() {
  check(existsSync(bin), `no onset binary at ${bin} (cargo build -p onset-cli, or set ONSET_BIN)`);
  const gz = firstPageJs();
  console.log(`first page JavaScript: ${(gz / 1024).toFixed(1)} KiB gzipped`);
  check(gz < 500 * 1024, `the first page's JavaScript is ${gz} bytes gzipped; the budget is 500 KB`);

  const project = mkdtempSync(join(tmpdir(), 'onset-ui-project-'));
  writeFileSync(join(project, 'onset.yaml'), 'name: ui-journeys\n');
  mkdirSync(join(project, 'components'));
  const serverLog = await serve(project);
  const { base, data, server } = serverLog;
  const browser = await launch();
  try {
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    // axe-core is injected into the page: the page's CSP (script-src 'self') would refuse it.
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, bypassCSP: true, acceptDownloads: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    const dialogs = [];
    let dismiss = false;
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      return dismiss ? d.dismiss() : d.accept();
    });

    // Sign in.
    await page.goto(base + '/');
    await page.getByTestId('login-token').waitFor();
    await axe(page, 'sign-in');
    await shot(page, 'sign-in');
    await page.getByTestId('login-token').fill(token);
    const clicked = Date.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('component-list').waitFor();
    console.log(`first render after sign-in: ${Date.now() - clicked} ms`);
    // The session is a cookie: a reload stays signed in.
    await page.reload();
    await page.getByTestId('component-list').waitFor();
    await axe(page, 'components');

    // Create a GitHub IssuesService component from the catalog.
    await page.getByRole('link', { name: 'New component' }).click();
    await page.getByTestId('catalog').waitFor();
    await page.getByTestId('catalog').getByRole('button', { name: /github/ }).click();
    await page.getByLabel('Channel').selectOption('IssuesService');
    await page.getByLabel('Component name').fill('triage');
    await axe(page, 'create');
    await shot(page, 'create');
    await page.getByRole('button', { name: 'Create and edit' }).click();
    await page.getByTestId('flow-graph').waitFor();
    const file = join(project, 'components/triage.yaml');
    check(readFileSync(file, 'utf8').startsWith('# Made by `onset new triage'), 'the skeleton was written to the project');
    await page.getByRole('combobox', { name: 'Handler' }).selectOption({ label: 'IssuesService.onOpened' });
    await page.getByTestId('step-0').waitFor();

    // The whole document (CodeMirror renders only the lines in view).
    const yamlText = () =>
      page.getByTestId('yaml-editor').locator('.cm-content').evaluate((el) => el.cmTile.root.view.state.doc.toString());
    // Add an `if` after step 0, then a connector step inside its `then`.
    await page.getByTestId('step-0').click();
    await page.getByTestId('add-if').click();
    await page.getByTestId('step-1').waitFor();
    // Undo takes the graph edit back, redo brings it again.
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.getByTestId('step-1').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Redo' }).click();
    await page.getByTestId('step-1').waitFor();
    await page.getByTestId('step-1.then.0').click();
    await page.getByTestId('operation-select').selectOption('http.request');
    await page.getByTestId('add-call').click();
    await page.getByTestId('step-1.then.1').waitFor();
    // The form is generated from the operation's input schema.
    await page.getByTestId('input-url').fill(`${base}/livez`);
    await page.getByTestId('input-method').fill('GET');
    await page.getByTestId('input-method').blur();
    await until('the call in the YAML', async () => (await yamlText()).includes(`url: ${base}/livez`));
    let text = await yamlText();
    check(text.includes('- if: event.action == "opened"'), `the if is in the YAML:\n${text}`);
    check(text.includes('- call: http.request'), 'the call is in the YAML');
    check(text.startsWith('# Made by `onset new triage'), 'the comment at the top of the file is still there');
    // Map a field of the event onto the call by dragging it; the preview shows its value on the sample.
    await dragField(page, 'event.issue.title', 'input-body');
    await until('the mapped body', async () => (await yamlText()).includes('body: "{{ event.issue.title }}"'));
    await page.getByTestId('input-body').focus();
    await until('the preview', async () => /On the sample: ".+"/.test(await page.getByTestId('preview').innerText()));
    await axe(page, 'editor');
    await shot(page, 'editor');

    // Edit the YAML: a step typed before the `if` moves it to step 2 in the graph.
    // The cursor goes where the `if` starts (scrolled into view), then the keyboard types.
    await page.getByTestId('yaml-editor').locator('.cm-content').evaluate((el) => {
      const view = el.cmTile.root.view;
      const at = view.state.doc.toString().indexOf('- if: event.action == "opened"');
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    });
    await page.keyboard.insertText('- log: typed in the YAML\n        ');
    await page.getByTestId('step-2.then.1').waitFor();
    check((await page.getByTestId('step-1').innerText()).includes('typed in the YAML'), 'the graph shows the typed step');
    // Leaving with unsaved changes asks first; staying keeps them.
    dismiss = true;
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    dismiss = false;
    check(dialogs.some((m) => m.includes('unsaved changes')), `leaving asked first: ${dialogs}`);
    check(page.url().includes('#/edit/triage'), 'staying keeps the editor');
    await page.getByRole('button', { name: /^Save/ }).click();
    await until('the saved file', async () => readFileSync(file, 'utf8').includes('typed in the YAML'));
    check(readFileSync(file, 'utf8').includes('- call: http.request'), 'the file has the call');

    // Try the handler on its sample: nothing stored.
    await page.getByTestId('tab-try').click();
    await page.getByTestId('try-run').click();
    await page.getByTestId('try-result').waitFor();
    const tried = await page.getByTestId('try-result').innerText();
    check(tried.includes('succeeded'), `the try succeeded:\n${tried}`);
    check(await page.getByTestId('run-step-2.then.1').isVisible(), 'the call step ran');
    await axe(page, 'try');
    await shot(page, 'try');

    // Deploy to development: the webhook secret is asked for (masked), then it is active.
    await page.getByTestId('tab-deploy').click();
    await page.getByTestId('deploy').click();
    await page.getByTestId('config-webhook_secret').fill('dev-secret-123');
    check((await page.getByTestId('config-webhook_secret').getAttribute('type')) === 'password', 'secrets are masked');
    await page.getByTestId('config-save').click();
    await until('the deployment', async () => (await page.getByTestId('env-development').innerText()).includes('-'));
    await page.getByTestId('deploy-log').waitFor();
    // The API's documents download; its lifecycle is set here (deprecated, then published again).
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'OpenAPI document' }).click(),
    ]);
    const openapi = JSON.parse(readFileSync(await download.path(), 'utf8'));
    check(openapi.openapi === '3.1.0' && openapi.info.title === 'triage', 'the OpenAPI document downloads');
    await page.getByTestId('lifecycle').selectOption('deprecated');
    await until('deprecated', async () => (await page.getByTestId('deploy-message').innerText()).includes('is deprecated'));
    await page.getByTestId('lifecycle').selectOption('published');
    await until('published', async () => (await page.getByTestId('deploy-message').innerText()).includes('is published'));
    await axe(page, 'deploy');
    await shot(page, 'deploy');

    // A signed test event, and its run.
    await page.getByTestId('send-test').click();
    await until('the test event run', async () => /succeeded/.test(await page.getByTestId('test-event').innerText()));
    await page.getByTestId('test-event-run').click();
    await page.getByTestId('steps-table').waitFor();
    check((await page.getByTestId('steps-table').innerText()).includes('http.request') ||
      (await page.getByTestId('steps-table').innerText()).includes('call'), 'the run shows its steps');
    await axe(page, 'run');
    await shot(page, 'run');

    // Find it in the runs list too.
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.getByTestId('runs-table').getByText('triage').first().waitFor();
    await axe(page, 'runs');
    await shot(page, 'runs');

    // Promote to production (its own secret asked for).
    await page.goto(`${base}/#/edit/triage`);
    await page.getByTestId('tab-deploy').click();
    await page.getByTestId('promote').click();
    await page.getByTestId('config-webhook_secret').fill('prod-secret-456');
    await page.getByTestId('config-save').click();
    await until('production', async () => (await page.getByTestId('env-production').innerText()).includes('-'));

    // The throughput graph shows the event; a click on its point lists its runs.
    await page.goto(`${base}/#/observe?component=triage`);
    const point = page.getByTestId('throughput-point').first();
    await until('the throughput point', async () => (await point.count()) > 0, 30000);
    await axe(page, 'observe');
    await shot(page, 'observe');
    await point.click({ force: true });
    await page.getByTestId('runs-table').getByText('triage').first().waitFor();

    await serverMode(browser);
    check(violations.length === 0, `problems found:\n${violations.join('\n')}`);
    console.log('ui journeys: ok');
  } catch (e) {
    console.error(serverLog.log.slice(-4000));
    for (const p of browser.contexts().flatMap((c) => c.pages())) {
      await p.screenshot({ path: join(tmpdir(), 'onset-ui-failure.png') }).catch(() => {});
      console.error(`the page at the failure (screenshot ${join(tmpdir(), 'onset-ui-failure.png')}):\n${await p.getByTestId('yaml-editor').locator('.cm-content').evaluate((el) => el.cmTile.root.view.state.doc.toString(), null, { timeout: 1000 }).catch(() => '')}`);
    }
    throw e;
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    rmSync(project, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`ui journeys failed: ${e.stack ?? e}`);
  process.exit(1);
});
