/**
 * A node's first-boot steps (`runcmd`) stop at the first failing one, shown with cloud-init 22.4
 * itself: `cloud-init init`, `cloud-init modules --mode config` (cc_runcmd writes the entries into
 * one /bin/sh script) and `--mode final` (scripts-user runs it), then `cloud-init status --long`
 * and the node's readiness report (READINESS_SCRIPT) reading what they left. The entries are those
 * of a synthesized mailbox node (Hetzner: the schema wait, then the firewall restarted before the
 * services); only `runcmd` and `scripts-user` are enabled, with the None datasource handing over a
 * document of the node's `runcmd`. `systemctl`, `timeout` and `mysql` are stand-ins on PATH that
 * log their arguments and fail where a case says (the firewall refusing its ruleset, the schema
 * wait running out). Everything runs in the sandbox of cloud-init-sandbox.ts (a private mount
 * namespace whose /etc is a scratch copy and whose /run, /var/lib and /var/log are scratch
 * directories; network configuration disabled): nothing on the host changes. cloud-init.log starts with an earlier boot's lines, which the
 * report leaves out (it counts from this boot's welcome line, written by cloud-init itself).
 *
 *   npx jest test/system/runcmd.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
  GromoxNode,
  LoadBalancerTier,
  READINESS_END,
  READINESS_SCRIPT,
  RUNCMD_STOP_ON_ERROR,
  SharedStorage,
} from "../../lib";
import { type CloudInitSandboxSpec, requireCloudInitSandbox, withCloudInitSandbox } from "./cloud-init-sandbox";
import { hcloudTestCluster } from "./small-cluster";

/** mail2's runcmd (SharedStorage on Hetzner: waits for the schema, firewall, gromox, web). */
function nodeRuncmd(): string[] {
  const cluster = hcloudTestCluster(new SharedStorage(), (c) => {
    new GromoxNode(c, "mail1", { admin: true });
    new GromoxNode(c, "mail2");
    new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
  });
  return (parse(cluster.cloudConfigs.get("mail2")!.text, { version: "1.1" }) as { runcmd: string[] }).runcmd;
}

/**
 * A stand-in that logs `<name> <args>` and fails (status 1, or 124 for `timeout`, as when the time
 * ran out) when that line matches the case pattern in $FAIL; `timeout` otherwise runs its command.
 */
const standIn = (name: string) => `#!/bin/sh
line="${name} $*"
echo "$line" >> "$STANDIN_LOG"
case "$line" in $FAIL) echo "stand-in: $line failed" >&2; exit ${name === "timeout" ? 124 : 1};; esac
${name === "timeout" ? 'shift; exec "$@"' : "exit 0"}
`;

/** cloud-init.log of an earlier boot that failed (cloud-init 22.4's welcome lines and a warning). */
const PREVIOUS_BOOT_LOG = [
  "2026-11-29 08:00:01,100 - main.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local' at Sun, 29 Nov 2026 08:00:01 +0000. Up 3.10 seconds.",
  "2026-11-29 08:00:05,000 - main.py[DEBUG]: Cloud-init v. 22.4.2 running 'init' at Sun, 29 Nov 2026 08:00:05 +0000. Up 7.00 seconds.",
  "2026-11-29 08:09:01,000 - util.py[WARNING]: earlier boot: Failed to run module scripts-user",
  "",
].join("\n");

interface Boot {
  /** Exit status of `cloud-init modules --mode final`. */
  final: number;
  /** `cloud-init status --long`. */
  status: string;
  /** The stand-ins' calls, in order. */
  calls: string[];
  /** What the readiness report wrote to its device. */
  report: string;
}

/** cloud-init's stages on a document of `runcmd`, stand-ins failing on `fail` (a case pattern). */
function boot(runcmd: readonly string[], fail = "__nothing__"): Boot {
  const script = [
    "set +e",
    'PATH="$STANDINS:$PATH"',
    "cloud-init init >/dev/null 2>&1 || exit 9",
    "cloud-init modules --mode config >/dev/null 2>&1 || exit 9",
    'cloud-init modules --mode final >/dev/null 2>&1; echo "final=$?"',
    "cloud-init status --long",
    // The report, with the host's programs (not the stand-ins) and its device a scratch file.
    'PATH="$HOST_PATH" sh -c "$READINESS" grommunio-readiness "$SANDBOX/console"',
  ];
  const spec: CloudInitSandboxSpec = {
    name: "runcmd",
    userData: { runcmd },
    modules: { init: [], config: ["runcmd"], final: ["scripts-user"] },
    standIns: Object.fromEntries(["systemctl", "timeout", "mysql"].map((n) => [n, standIn(n)])),
    script,
    env: { FAIL: fail, READINESS: READINESS_SCRIPT },
    prepare: (root) => {
      // An earlier boot's lines: the report counts this boot's only (from cloud-init's own welcome line).
      fs.writeFileSync(path.join(root, "var-log/cloud-init.log"), PREVIOUS_BOOT_LOG);
      fs.writeFileSync(path.join(root, "console"), "");
    },
  };
  return withCloudInitSandbox(spec, (r) => {
    const m = /^final=(\d+)\n([\s\S]*)$/.exec(r.stdout);
    if (!m) throw new Error(`cloud-init did not run (exit ${r.status}): ${r.stdout}${r.stderr}`);
    return {
      final: Number(m[1]),
      status: m[2]!,
      calls: [...r.calls],
      report: fs.readFileSync(path.join(r.root, "console"), "utf8"),
    };
  });
}

const endLine = (report: string) => report.split("\n").find((l) => l.startsWith(READINESS_END)) ?? "";

beforeAll(requireCloudInitSandbox);

describe("runcmd stops at the first failing step (cloud-init runs the entries as one script without -e)", () => {
  const runcmd = nodeRuncmd();
  // The last step enables the services and restarts them one at a time (servicesCommand).
  const services = /^s="([^"]+)"; systemctl enable \$s; for u in \$s; do systemctl restart \$u; done$/
    .exec(runcmd[runcmd.length - 1] ?? "")?.[1]
    ?.split(" ");
  const restarts = (services ?? []).map((s) => `systemctl restart ${s}`);

  test("the node's runcmd: set -e first, the schema wait, then the firewall before every service", () => {
    expect(runcmd[0]).toBe(RUNCMD_STOP_ON_ERROR);
    expect(runcmd[1]).toMatch(/^timeout 1800 sh -c 'until mysql /);
    expect(services).toBeDefined();
    expect(restarts[0]).toBe("systemctl restart nftables");
    expect(restarts).toContain("systemctl restart nginx");
  });

  test("every step succeeds: every service is restarted, cloud-init and the report say done", () => {
    const b = boot(runcmd);
    expect(b.final).toBe(0);
    expect(b.status).toMatch(/^status: done$/m);
    expect(b.calls[0]).toMatch(/^timeout 1800 sh -c /);
    expect(b.calls.filter((c) => c.startsWith("systemctl restart "))).toEqual(restarts);
    // every service enabled (one call) before the first restart
    const enable = b.calls.indexOf(`systemctl enable ${services!.join(" ")}`);
    expect(enable).toBeGreaterThan(0);
    expect(enable).toBeLessThan(b.calls.indexOf(restarts[0]!));
    expect(endLine(b.report)).toMatch(/ status=done failed-units=0 warnings=0 ===$/);
    expect(b.report).not.toContain("earlier boot");
  });

  test("the firewall refuses its ruleset: no service starts after it; scripts-user fails, the report says error and shows why", () => {
    const b = boot(runcmd, "systemctl restart nftables");
    expect(b.final).not.toBe(0);
    expect(b.calls[b.calls.length - 1]).toBe("systemctl restart nftables");
    expect(b.calls.filter((c) => c.startsWith("systemctl restart "))).toEqual(["systemctl restart nftables"]);
    expect(b.status).toMatch(/^status: error$/m);
    expect(b.status).toContain("scripts-user");
    expect(endLine(b.report)).toMatch(/ status=error failed-units=0 warnings=[1-9]\d* ===$/);
    // cloud-init.log's warning and the step's own message (the end of cloud-init-output.log)
    expect(b.report).toMatch(/\[WARNING\]: Failed to run module scripts-user/);
    expect(b.report).not.toContain("earlier boot");
    expect(b.report).toContain("stand-in: systemctl restart nftables failed");
  });

  test("the schema wait runs out: nothing after it runs (no service, not even the firewall's restart)", () => {
    const b = boot(runcmd, "timeout *");
    expect(b.final).not.toBe(0);
    expect(b.calls).toEqual([expect.stringMatching(/^timeout 1800 sh -c until mysql /)]);
    expect(endLine(b.report)).toMatch(/ status=error /);
  });

  test("without the first entry, the refusal is masked: the services start unprotected and cloud-init says done", () => {
    const b = boot(runcmd.slice(1), "systemctl restart nftables");
    expect(b.final).toBe(0);
    expect(b.status).toMatch(/^status: done$/m);
    expect(b.calls).toContain("systemctl restart nginx");
    expect(endLine(b.report)).toMatch(/ status=done /);
  });
});
