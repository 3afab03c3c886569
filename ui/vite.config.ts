import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const require = createRequire(import.meta.url);

/**
 * Swagger UI (npm `swagger-ui-dist`) for the developer portal's console: its prebuilt bundle and
 * stylesheet are copied as they are into `assets/`, named by their version so they can be cached
 * for good, and loaded by the portal only when a console opens. Nothing comes from a CDN.
 */
function swaggerUi(): Plugin {
  const dir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  const files: [string, string][] = [
    ['swagger-ui-bundle.js', `assets/swagger-ui-${version}.js`],
    ['swagger-ui-bundle.js.LICENSE.txt', `assets/swagger-ui-${version}.js.LICENSE.txt`],
    ['swagger-ui.css', `assets/swagger-ui-${version}.css`],
  ];
  return {
    name: 'onset-swagger-ui',
    config: () => ({ define: { __SWAGGER_UI_VERSION__: JSON.stringify(version) } }),
    generateBundle() {
      for (const [from, to] of files) {
        // The copies leave out the source maps the originals point to.
        const text = readFileSync(join(dir, from), 'utf8').replace(/\n?\/[/*]# sourceMappingURL=[^\n]*\s*$/, '\n');
        this.emitFile({ type: 'asset', fileName: to, source: text });
      }
    },
  };
}

// The production build is committed under dist/ and embedded in the server binary, so the
// output must not depend on the machine: no source maps, stable file names per content.
// Two pages: the studio (`/`) and the developer portal (`/portal`).
export default defineConfig({
  plugins: [react(), swaggerUi()],
  base: '/',
  build: {
    outDir: process.env.ONSET_UI_OUT ?? 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { main: 'index.html', portal: 'portal/index.html' },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
