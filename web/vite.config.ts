// Builds the app into dist/ (embedded by the `strata` binary) and, in development, proxies
// /api (HTTP and the /api/ws WebSocket) to a running `strata serve` named by STRATA_URL.
import { defineConfig, loadEnv } from "vite";

interface WsEvents {
  on(event: "proxyReqWs", listener: (req: { setHeader(name: string, value: string): void }) => void): void;
}

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, ".", "");
  const target = env.STRATA_URL || "http://127.0.0.1:8080";
  return {
    base: "/",
    esbuild: { jsx: "automatic", jsxImportSource: "preact" },
    build: {
      outDir: "dist",
      emptyOutDir: true,
      target: "es2020",
      sourcemap: false,
      modulePreload: { polyfill: false },
      reportCompressedSize: true,
      rollupOptions: {
        output: {
          // The chunk with the chart library (shared by the pages with charts) is "charts".
          chunkFileNames: (chunk) =>
            chunk.moduleIds.some((id) => id.includes("/node_modules/uplot/"))
              ? "assets/charts-[hash].js"
              : "assets/[name]-[hash].js",
        },
      },
    },
    server: {
      host: "127.0.0.1",
      port: 5173,
      strictPort: false,
      proxy: {
        "/api": {
          target,
          changeOrigin: true,
          ws: true,
          // The server takes WebSocket handshakes only from its own origin.
          // (Typed by hand: the full types would need @types/node.)
          configure(proxy) {
            (proxy as unknown as WsEvents).on("proxyReqWs", (req) => req.setHeader("origin", new URL(target).origin));
          },
        },
      },
    },
  };
});
