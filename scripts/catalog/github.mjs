// Regenerates crates/model/catalog/github/{events,samples,schema}.json from the npm packages
// @octokit/webhooks-schemas and @octokit/webhooks-examples (MIT, see the LICENSE beside them).
//
//   npm install --prefix /tmp/octokit @octokit/webhooks-schemas@7.6.1 @octokit/webhooks-examples@7.6.1
//   node scripts/catalog/github.mjs /tmp/octokit/node_modules
//
// The data is committed: nothing is downloaded when Onset builds or runs.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const modules = process.argv[2] ?? "node_modules";
const out = new URL("../../crates/model/catalog/github/", import.meta.url).pathname;
const schema = JSON.parse(readFileSync(join(modules, "@octokit/webhooks-schemas/schema.json"), "utf8"));
const examples = JSON.parse(readFileSync(join(modules, "@octokit/webhooks-examples/api.github.com/index.json"), "utf8"));

// Events and actions GitHub's webhook documentation lists that the schema package lacks.
const documented = {
  issue_dependencies: ["blocked_by_added", "blocked_by_removed", "blocking_added", "blocking_removed"],
  personal_access_token_request: ["approved", "cancelled", "created", "denied"],
  projects_v2: ["closed", "created", "deleted", "edited", "reopened"],
  projects_v2_status_update: ["created", "deleted", "edited"],
  repository_advisory: ["published", "reported"],
  repository_ruleset: ["created", "deleted", "edited"],
  secret_scanning_scan: ["completed"],
  security_and_analysis: [],
  sub_issues: ["parent_issue_added", "parent_issue_removed", "sub_issue_added", "sub_issue_removed"],
  dependabot_alert: ["auto_dismissed", "auto_reopened"],
  issues: ["typed", "untyped"],
  secret_scanning_alert: ["assigned", "publicly_leaked", "unassigned"],
};

const events = new Map();
for (const ref of schema.oneOf.map((r) => r.$ref.split("/").pop())) {
  const name = ref.replace(/(_event|\$event)$/, "");
  const actions = Object.keys(schema.definitions)
    .filter((k) => k.startsWith(name + "$") && k !== name + "$event")
    .map((k) => k.slice(name.length + 1));
  events.set(name, { name, actions, schema: ref });
}
for (const [name, actions] of Object.entries(documented)) {
  const e = events.get(name) ?? { name, actions: [], schema: null };
  e.actions = [...new Set([...e.actions, ...actions])];
  events.set(name, e);
}
const samples = {};
for (const group of examples) {
  for (const ex of group.examples) {
    // repository_dispatch's action is the sender's own event_type: one sample stands for all.
    const key = group.name === "repository_dispatch" || ex.action === undefined ? group.name : `${group.name}.${ex.action}`;
    samples[key] ??= ex;
  }
}
const list = [...events.values()]
  .map((e) => ({ ...e, actions: e.name === "repository_dispatch" ? [] : e.actions.sort() }))
  .sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(join(out, "events.json"), JSON.stringify(list, null, 1) + "\n");
writeFileSync(join(out, "samples.json"), JSON.stringify(samples) + "\n");
writeFileSync(join(out, "schema.json"), JSON.stringify(schema) + "\n");
console.log(`${list.length} events, ${Object.keys(samples).length} samples`);
