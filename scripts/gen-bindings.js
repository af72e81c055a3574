#!/usr/bin/env node
// Generates the cdktf bindings for the providers without prebuilt packages (hcloud, libvirt) from
// the committed schemas in schemas/, offline: no terraform, no registry, no network.
// Recipe: shared reference/toolchain.md §6. Output: lib/gen/providers/<name>/ (committed, never
// hand-edited; `npm run gen` rewrites it and test/gen/bindings.test.ts checks it is up to date).
//
// Usage: node scripts/gen-bindings.js [OUT_DIR]   (default: lib/gen)
"use strict";

// Must be set before anything loads @cdktf/commons: it pings checkpoint-api.hashicorp.com.
process.env.CHECKPOINT_DISABLE ??= "1";

const fs = require("fs");
const path = require("path");

// @cdktf/commons spawns `terraform version`; a TF_CLI_CONFIG_FILE naming a missing file makes
// every terraform call print "Unable to open CLI configuration file" (harmless, but noisy).
if (process.env.TF_CLI_CONFIG_FILE && !fs.existsSync(process.env.TF_CLI_CONFIG_FILE)) {
  delete process.env.TF_CLI_CONFIG_FILE;
}

const ROOT = path.resolve(__dirname, "..");

/** The providers we generate, pinned: the constraint sets required_providers source + version. */
const PROVIDERS = [
  { name: "hcloud", schema: "schemas/hcloud.schema.json", constraint: "hetznercloud/hcloud@1.68.0" },
  { name: "libvirt", schema: "schemas/libvirt.schema.json", constraint: "dmacvicar/libvirt@0.8.3" },
];

function load() {
  // Deep import on purpose: the package index also loads constructs-maker.js, which needs
  // jsii-pacmak (only present with cdktf-cli).
  const { TerraformProviderGenerator } = require("@cdktf/provider-generator/lib/get/generator/provider-generator");
  const home = path.dirname(require.resolve("@cdktf/provider-generator/package.json"));
  const dep = (m) => require(require.resolve(m, { paths: [home] }));
  const { CodeMaker } = dep("codemaker");
  const { ConstructsMakerProviderTarget, TerraformProviderConstraint, LANGUAGES } = dep("@cdktf/commons");
  return {
    TerraformProviderGenerator,
    CodeMaker,
    ConstructsMakerProviderTarget,
    TerraformProviderConstraint,
    LANGUAGES,
  };
}

/** Generates every provider into `outDir` (its `providers/<name>` folders are replaced). */
async function generateBindings(outDir) {
  const m = load();
  const typescript = m.LANGUAGES.find((l) => l === "typescript") ?? m.LANGUAGES[0];
  for (const p of PROVIDERS) {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, p.schema), "utf8"));
    // Start clean so resources dropped from a schema do not linger.
    fs.rmSync(path.join(outDir, "providers", p.name), { recursive: true, force: true });
    const code = new m.CodeMaker();
    const gen = new m.TerraformProviderGenerator(code, schema);
    gen.generate(new m.ConstructsMakerProviderTarget(new m.TerraformProviderConstraint(p.constraint), typescript));
    await code.save(outDir);
  }
}

module.exports = { generateBindings, PROVIDERS };

if (require.main === module) {
  const outDir = path.resolve(process.argv[2] ?? path.join(ROOT, "lib", "gen"));
  generateBindings(outDir).then(
    () => console.log(`bindings for ${PROVIDERS.map((p) => p.constraint).join(", ")} written to ${outDir}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
