// Where a component's YAML lives: a file of the project (`serve --project`), or the server's
// draft of it. Either way the text is the only truth.
import { api, problem } from './api/client';
import type { Session } from './App';

export interface Loaded {
  text: string;
  /** The version this text is: a file's SHA-256 or a draft's revision. */
  base: string | number;
  error?: string;
}

export function pathOf(name: string) {
  return `components/${name}.yaml`;
}

export async function loadSource(session: Session, name: string): Promise<Loaded> {
  if (session.mode === 'project') {
    const { data, error } = await api.GET('/api/v1/project/files/{path}', { params: { path: { path: pathOf(name) } } });
    return data ? { text: data.text, base: data.sha256 } : { text: '', base: '', error: problem(error) };
  }
  const { data, error, response } = await api.GET('/api/v1/drafts/{component}', { params: { path: { component: name } } });
  if (data) return { text: data.text, base: data.revision };
  if (response.status === 404) {
    // No draft: start from what is deployed.
    const c = await api.GET('/api/v1/components/{name}', { params: { path: { name } } });
    if (c.data) {
      const d = await api.GET('/api/v1/deployments/{id}', { params: { path: { id: c.data.deployment_id } } });
      const source = (d.data as { source?: string } | undefined)?.source;
      if (source) return { text: source, base: 0 };
    }
  }
  return { text: '', base: 0, error: problem(error) };
}

export async function saveSource(
  session: Session,
  name: string,
  text: string,
  opts: { base?: string | number; create?: boolean },
): Promise<{ base?: string | number; error?: string }> {
  if (session.mode === 'project') {
    const { data, error } = await api.PUT('/api/v1/project/files/{path}', {
      params: { path: { path: pathOf(name) } },
      body: { text, base_sha256: typeof opts.base === 'string' && opts.base ? opts.base : null },
    });
    return data ? { base: data.sha256 } : { error: problem(error) };
  }
  const { data, error } = await api.PUT('/api/v1/drafts/{component}', {
    params: { path: { component: name } },
    body: { text, base_revision: opts.create ? 0 : typeof opts.base === 'number' ? opts.base : null },
  });
  return data ? { base: data.revision } : { error: problem(error) };
}
