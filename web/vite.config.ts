import { fileURLToPath, URL } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const client = (path: string) => fileURLToPath(new URL(`../clients/typescript/src/${path}`, import.meta.url));
const api = process.env.SIGNALHUB_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  resolve: {
    // The page uses the client package straight from its sources in this repository.
    alias: [
      { find: /^@signalhub\/client\/react$/, replacement: client("react.ts") },
      { find: /^@signalhub\/client\/styles\.css$/, replacement: client("../styles.css") },
      { find: /^@signalhub\/client$/, replacement: client("index.ts") },
    ],
    // The client's sources live outside this folder: make them share this React.
    dedupe: ["react", "react-dom"],
  },
  build: {
    // Served by the API at `/` (see src/signalhub/api/app.py).
    outDir: fileURLToPath(new URL("../src/signalhub/static/web", import.meta.url)),
    emptyOutDir: true,
  },
  server: {
    fs: { allow: [".", "../clients/typescript"] },
    // `npm run dev`: the API (`make run`) answers /api and /ws on the same origin.
    proxy: {
      "/api": api,
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
});
