// Builds the UI into ui/dist, which crates/web embeds (see docs/ui.md).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` proxies the API to a Bongsu on :9090.
    proxy: { '/api': 'http://127.0.0.1:9090', '/-/': 'http://127.0.0.1:9090' },
  },
});
