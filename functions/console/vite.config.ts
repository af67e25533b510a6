// The console is served under /console/ (locally by the stack's gateway, deployed by CloudFront).
// Output: <repo>/build/console (gitignored; outDir is relative to this directory); `make console` runs this build.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../../build/console",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
  },
});
