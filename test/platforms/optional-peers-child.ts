/**
 * Child process of optional-peers.test.ts (run with `node --require tsx/cjs`): makes the packages in
 * the environment variable BLOCKED_PACKAGES (JSON list) unresolvable, as if not installed, then
 * loads the package root, synthesizes the Hetzner and KVM examples into OUTDIR and tries what
 * needs a blocked package. Prints one line `RESULT <json>`.
 */
import { Module } from "node:module";

const blocked = JSON.parse(process.env.BLOCKED_PACKAGES ?? "[]") as string[];
const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = resolver._resolveFilename;
resolver._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  if (blocked.some((p) => request === p || request.startsWith(`${p}/`))) {
    // Node's own error for a package that is not installed.
    const error = new Error(`Cannot find module '${request}'`) as NodeJS.ErrnoException;
    error.code = "MODULE_NOT_FOUND";
    throw error;
  }
  return resolve.call(this, request, ...rest);
};

/* eslint-disable @typescript-eslint/no-require-imports -- loaded after the resolver hook above */
const { App, TerraformStack } = require("cdktf") as typeof import("cdktf");
const lib = require("../../lib") as typeof import("../../lib");
const { hcloudExample } = require("../../examples/hcloud/main") as typeof import("../../examples/hcloud/main");
const { kvmExample } = require("../../examples/kvm/main") as typeof import("../../examples/kvm/main");
/* eslint-enable @typescript-eslint/no-require-imports */

function attempt(what: () => unknown): string {
  try {
    what();
    return "ok";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const app = new App({ outdir: process.env.OUTDIR, skipValidation: true });
hcloudExample(app);
kvmExample(app);
app.synth();
const loadedAfterSynth = Object.keys(require.cache).filter((f) => /node_modules\/@cdktf\/provider-/.test(f));

const dnsStack = new TerraformStack(app, "dns");
const route53 = attempt(
  () =>
    new lib.MailDns(dnsStack, "dns", {
      records: [
        {
          zone: "example.com",
          name: "example.com",
          type: "MX",
          ttl: 300,
          purpose: "mail",
          values: [{ preference: 10, exchange: "mail.example.com" }],
        },
      ],
      route53: { zoneId: "Z1" },
    }),
);
const result = {
  providerPackages: [...new Set(loadedAfterSynth.map((f) => /@cdktf\/(provider-[a-z0-9-]+)/.exec(f)![1]))].sort(),
  aws: attempt(() => lib.Platform.aws({ region: "eu-central-1" })),
  docker: attempt(() => lib.Platform.docker()),
  vsphere: attempt(() =>
    lib.Platform.vsphere({
      datacenter: "dc",
      datastore: "ds",
      network: { name: "n", dnsServers: ["10.0.0.1"] },
      template: "t",
    }),
  ),
  route53,
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
