// Builds the renderer to renderer/dist (served by `pxekit serve --ui`, loaded by
// Electron from disk, hence relative asset paths). `--mode harness` builds the
// component-test page (fake transport, no engine) to dist/renderer-harness, which
// only the UI tests load: the fake never ships in renderer/dist.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ mode }) => {
  const harness = mode === 'harness';
  return {
    root: here,
    base: './',
    plugins: [react()],
    logLevel: 'warn',
    build: {
      outDir: harness ? `${here}../dist/renderer-harness` : `${here}dist`,
      emptyOutDir: true,
      sourcemap: true,
      rollupOptions: { input: harness ? `${here}harness.html` : `${here}index.html` },
    },
  };
});
