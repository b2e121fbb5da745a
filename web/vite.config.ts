import { defineConfig } from 'vite'

/**
 * The web client: Preact through esbuild's automatic JSX runtime (no Babel). `npm run build` at the
 * root writes web/dist, which the server serves at `/` and `/assets/*` (src/plugins/web.plugin.ts).
 * `npm run dev -w web` proxies the API to a server on :3000.
 */
export default defineConfig({
  root: import.meta.dirname,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline <script>: the page's Content-Security-Policy admits scripts from /assets only.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:3000', ws: true } },
  },
})
