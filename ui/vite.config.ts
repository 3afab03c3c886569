import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The production build is committed under dist/ and embedded in the server binary, so the
// output must not depend on the machine: no source maps, stable file names per content.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: process.env.ONSET_UI_OUT ?? 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
