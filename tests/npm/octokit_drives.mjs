// Drives the GitHub fake (tests/fakes/github.py) with GitHub's own clients: @octokit/rest for the
// REST calls and @octokit/auth-app for the installation token, so the fake's answers (errors and
// rate limits included) are ones GitHub's libraries accept.
// usage: node octokit_drives.mjs BASE_URL PRIVATE_KEY_FILE APP_ID
import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import { createAppAuth } from '@octokit/auth-app';

const [base, keyFile, appId] = process.argv.slice(2);
const assert = (ok, what) => { if (!ok) { console.error('not ok:', what); process.exit(1); } };

const gh = new Octokit({ auth: 'ghp_onsetTestToken0000000000000000000000', baseUrl: base });
const me = await gh.rest.users.getAuthenticated();
assert(me.data.login === 'onset-bot', 'GET /user');
const issue = await gh.rest.issues.create({ owner: 'acme', repo: 'widgets', title: 'From octokit', labels: ['bug'] });
assert(issue.status === 201 && issue.data.number > 0, 'issues.create');
const comment = await gh.rest.issues.createComment({ owner: 'acme', repo: 'widgets', issue_number: issue.data.number, body: 'hi' });
assert(comment.status === 201 && comment.data.body === 'hi', 'issues.createComment');
const labels = await gh.rest.issues.addLabels({ owner: 'acme', repo: 'widgets', issue_number: issue.data.number, labels: ['triage'] });
assert(labels.data[0].name === 'triage', 'issues.addLabels');
const status = await gh.rest.repos.createCommitStatus({ owner: 'acme', repo: 'widgets', sha: 'a'.repeat(40), state: 'success', context: 'onset' });
assert(status.data.state === 'success', 'repos.createCommitStatus');
const created = await gh.rest.repos.createOrUpdateFileContents({ owner: 'acme', repo: 'widgets', path: 'docs/a.md', message: 'add', content: Buffer.from('one').toString('base64') });
assert(created.status === 201, 'contents create');
const current = await gh.rest.repos.getContent({ owner: 'acme', repo: 'widgets', path: 'docs/a.md' });
const updated = await gh.rest.repos.createOrUpdateFileContents({ owner: 'acme', repo: 'widgets', path: 'docs/a.md', message: 'edit', content: Buffer.from('two').toString('base64'), sha: current.data.sha });
assert(updated.status === 200, 'contents update');

const refused = async (call, status, what) => {
  try { await call(); assert(false, `${what}: expected HTTP ${status}`); }
  catch (e) { assert(e.status === status, `${what}: got ${e.status} ${e.message}`); return e; }
};
await refused(() => gh.rest.issues.create({ owner: 'acme', repo: 'missing', title: 'x' }), 404, 'missing repository');
const invalid = await refused(() => gh.rest.issues.create({ owner: 'acme', repo: 'widgets', title: '' }), 422, 'no title');
assert(invalid.response.data.errors[0].field === 'title', 'validation errors');
await refused(() => new Octokit({ auth: 'ghp_wrong', baseUrl: base }).rest.users.getAuthenticated(), 401, 'bad credentials');
const limited = await refused(() => gh.rest.issues.create({ owner: 'acme', repo: 'busy', title: 'x' }), 403, 'rate limit');
assert(limited.response.headers['x-ratelimit-remaining'] === '0', 'rate limit headers');

// The app: @octokit/auth-app signs the JWT and gets an installation token the fake accepts.
const app = new Octokit({
  authStrategy: createAppAuth, baseUrl: base,
  auth: { appId, privateKey: readFileSync(keyFile, 'utf8'), installationId: 42 },
});
const byApp = await app.rest.issues.create({ owner: 'acme', repo: 'widgets', title: 'From the app' });
assert(byApp.status === 201, 'issues.create as the app');
console.log('ok');
