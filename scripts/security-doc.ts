/**
 * The generated part of docs/security.md: the exposure table, one row per entry of THE port table
 * (`PORTS`), between `<!-- BEGIN ports -->` and `<!-- END ports -->`. `npx tsx
 * scripts/security-doc.ts` rewrites it (and formats the page with prettier);
 * test/security/doc.test.ts fails when it is stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import {
  Daemon,
  HUB_DAEMONS,
  NODE_ROLES,
  OPTIONAL_DAEMONS,
  PORTS,
  PortKey,
  PortSpec,
  ROLE_DAEMONS,
} from "../lib/topology";
import { INTERNAL_PORT_NUMBERS } from "../lib/cluster/exposure";

export const SECURITY_DOC = path.join(__dirname, "..", "docs", "security.md");

/** The node kinds that run a daemon (`hub` for gromox-event/-timer). */
function runsOn(d: Daemon): string {
  if (d === "sshd") return "every node";
  if (HUB_DAEMONS.includes(d)) return "hub (a mailbox node)";
  if (d === "store-export") return "mailbox (ShareNothing, beside an admin node)";
  const always = NODE_ROLES.filter((r) => ROLE_DAEMONS[r].includes(d));
  const optional = NODE_ROLES.filter((r) => OPTIONAL_DAEMONS[r]?.includes(d)).map((r) => `${r} (when configured)`);
  return [...always, ...optional].join(", ");
}

function who(spec: PortSpec): string {
  switch (spec.exposure) {
    case "cluster":
      return [...new Set(spec.clients.map(runsOn))].join("; ") + " nodes";
    case "local":
      return "the node itself (loopback)";
    case "public":
      return "anyone (0.0.0.0/0, ::/0), or only the cloud load balancer";
    case "admin":
      return "`adminAllowFrom` only (no frontend without it); never the world (GRX451)";
    case "operator":
      return "`sshAllowFrom` only (default: nobody); the world only with `allowWorldSsh` (GRX452)";
  }
}

/** The exposure table (Markdown, ends with a newline). */
export function exposureTable(): string {
  const keys = (Object.keys(PORTS) as PortKey[]).sort((a, b) => PORTS[a].port - PORTS[b].port || (a < b ? -1 : 1));
  const rows = keys.map((k) => {
    const spec: PortSpec = PORTS[k];
    const never = INTERNAL_PORT_NUMBERS.has(spec.port) ? " (never outside the cluster: GRX450)" : "";
    return `| ${spec.port} | \`${k}\` | ${spec.description} | ${spec.server} on ${runsOn(spec.server)} | ${spec.exposure}${never} | ${who(spec)} |`;
  });
  return [
    "| port | key | what | listens | exposure | who may connect |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

/**
 * The doc as it should be: the current block, formatted by the repository's prettier (its CLI in a
 * child process, as scripts/dns-doc.ts does).
 */
export function renderSecurityDoc(doc: string): string {
  const begin = "<!-- BEGIN ports -->\n";
  const end = "<!-- END ports -->";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error("docs/security.md has no ports block");
  const text = doc.slice(0, i + begin.length) + "\n" + exposureTable() + "\n" + doc.slice(j);
  const cli = path.join(path.dirname(require.resolve("prettier/package.json")), "bin", "prettier.cjs");
  const r = spawnSync(process.execPath, [cli, "--stdin-filepath", SECURITY_DOC], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`prettier failed: ${r.stderr}`);
  return r.stdout;
}

if (require.main === module) {
  fs.writeFileSync(SECURITY_DOC, renderSecurityDoc(fs.readFileSync(SECURITY_DOC, "utf8")));
  console.log(`updated ${SECURITY_DOC}`);
}
