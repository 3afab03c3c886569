// Prints every example payload of @octokit/webhooks-examples as a GitHub delivery signed by
// @octokit/webhooks-methods: one JSON line per example {event, action, body, signature}.
//   node sign-github-examples.mjs SECRET
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";

const require = createRequire(import.meta.url);
const index = JSON.parse(readFileSync(require.resolve("@octokit/webhooks-examples/api.github.com/index.json"), "utf8"));
const secret = process.argv[2];
for (const group of index) {
  for (const example of group.examples) {
    const body = JSON.stringify(example);
    const signature = await sign(secret, body);
    process.stdout.write(JSON.stringify({ event: group.name, action: example.action ?? null, body, signature }) + "\n");
  }
}
