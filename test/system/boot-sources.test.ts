/**
 * A SharedStorage mailbox node with `osRepository` installs its NFS client in `bootcmd`, which
 * cloud-init runs before `write_files`: the OS mirror's sources must be in place by then, or apt
 * reads the image's sources (unreachable on a mirror-only site: the mount, and the node, fail).
 * Shown with cloud-init 22.4 itself: `cloud-init init` with the None datasource handing over the
 * node's `bootcmd` and its early (not deferred) `write_files`, and only `bootcmd` and `write-files`
 * enabled, in the order of the package's own cloud.cfg. `apt-get`, `mount`, `mountpoint` and `curl`
 * are stand-ins on PATH that log their arguments; `apt-get update` also copies /etc/apt as it is
 * at that moment. Everything runs in the sandbox of cloud-init-sandbox.ts (a private mount namespace
 * whose /etc is a scratch copy and whose /run, /var/lib and /var/log are scratch directories):
 * nothing on the host changes.
 *
 *   npx jest test/system/boot-sources.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { GromoxNode, LoadBalancerTier, SharedStorage } from "../../lib";
import { requireCloudInitSandbox, withCloudInitSandbox } from "./cloud-init-sandbox";
import { hcloudTestCluster } from "./small-cluster";

jest.setTimeout(120_000);

const MIRROR = "http://mirror.example.net/debian";

interface WriteFile {
  path: string;
  content: string;
  encoding?: string;
  defer?: boolean;
  permissions?: string;
  owner?: string;
}
interface Doc {
  bootcmd: Array<string | string[]>;
  write_files: WriteFile[];
}

/** mail2's cloud-config (SharedStorage on Hetzner, the OS archive from MIRROR). */
function mail2(): Doc {
  const cluster = hcloudTestCluster(
    new SharedStorage(),
    (c) => {
      new GromoxNode(c, "mail1", { admin: true });
      new GromoxNode(c, "mail2");
      new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
    },
    { osRepository: { uris: MIRROR } },
  );
  return parse(cluster.cloudConfigs.get("mail2")!.text, { version: "1.1" }) as Doc;
}

/** The entry that installs the NFS client. */
const isNfsClient = (e: string | string[]) => Array.isArray(e) && e.includes("grommunio-nfs-client");
/** The pinned accounts' entry (systemd-sysusers and a check against the host's ids: not this test's). */
const isAccounts = (e: string | string[]) => typeof e === "string" && e.startsWith("systemd-sysusers ");

const STAND_IN = (name: string) => `#!/bin/sh
echo "${name} $*" >> "$STANDIN_LOG"
${name === "apt-get" ? '[ "$1" != update ] || [ -e "$SANDBOX/apt-at-update" ] || cp -a /etc/apt "$SANDBOX/apt-at-update"' : ""}
${name === "mountpoint" ? "exit 1" : "exit 0"}
`;

interface Boot {
  init: number;
  calls: string[];
  /** /etc/apt as `apt-get update` found it (file → content), or undefined when it was not called. */
  aptAtUpdate: Map<string, string> | undefined;
  /** /etc/apt after the init stage. */
  aptAfter: Map<string, string>;
}

function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), fs.readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

/** The package's init-stage modules that this test enables, in its cloud.cfg's order. */
function initModules(): string[] {
  const cfg = parse(fs.readFileSync("/etc/cloud/cloud.cfg", "utf8")) as { cloud_init_modules: unknown[] };
  const names = cfg.cloud_init_modules.map((m) => (Array.isArray(m) ? String(m[0]) : String(m)));
  return names.filter((n) => ["bootcmd", "write-files", "write_files"].includes(n));
}

function boot(doc: { bootcmd: Array<string | string[]>; write_files: WriteFile[] }): Boot {
  const script = [
    // (the stand-ins, `mount` among them, are on cloud-init's PATH only)
    'PATH="$STANDINS:$PATH" cloud-init init >/dev/null 2>&1 && rc=0 || rc=$?; echo "init=$rc"',
    // what the init stage left, copied out before the namespace (and its mounts) goes
    'cp -a /etc/apt "$SANDBOX/apt-after"',
  ];
  const standIns = Object.fromEntries(["apt-get", "mount", "mountpoint", "curl"].map((n) => [n, STAND_IN(n)]));
  const spec = { name: "boot-sources", userData: doc, modules: { init: initModules(), config: [], final: [] } };
  return withCloudInitSandbox({ ...spec, standIns, script }, (r) => {
    const m = /^init=(\d+)$/m.exec(r.stdout);
    if (!m) throw new Error(`cloud-init did not run (exit ${r.status}): ${r.stdout}${r.stderr}`);
    const snap = path.join(r.root, "apt-at-update");
    return {
      init: Number(m[1]),
      calls: [...r.calls],
      aptAtUpdate: fs.existsSync(snap) ? readTree(snap) : undefined,
      aptAfter: readTree(path.join(r.root, "apt-after")),
    };
  });
}

beforeAll(requireCloudInitSandbox);

describe("a SharedStorage node with osRepository installs its NFS client from the mirror on its first boot", () => {
  const doc = mail2();
  const bootcmd = doc.bootcmd.filter((e) => !isAccounts(e));
  // What cloud-init writes in the init stage (deferred files come after the packages).
  const early = doc.write_files.filter((f) => f.defer !== true);
  const mirrorSources = (tree: Map<string, string> | undefined) => tree?.get("sources.list.d/debian.sources") ?? "";

  test("the package's cloud.cfg runs bootcmd before write_files (why the sources cannot come from write_files)", () => {
    expect(initModules().slice(0, 1)).toEqual(["bootcmd"]);
    expect(initModules()).toHaveLength(2);
  });

  test("apt-get update already reads the mirror (and the emptied sources.list); the NFS client is installed, then mounted", () => {
    const b = boot({ bootcmd, write_files: early });
    expect(b.init).toBe(0);
    expect(mirrorSources(b.aptAtUpdate)).toBe(
      `Types: deb\nURIs: ${MIRROR}\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    );
    expect(b.aptAtUpdate!.get("sources.list")).toMatch(/^# Emptied by cdktf-grommunio/);
    // grommunio's source comes with write_files, after the step (its key may be fetched later)
    expect(b.aptAtUpdate!.has("sources.list.d/grommunio.sources")).toBe(false);
    const update = b.calls.indexOf("apt-get update -q");
    const install = b.calls.indexOf("apt-get install -y -q nfs-common");
    expect(update).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(update);
    expect(b.calls.findIndex((c) => c.startsWith("mount "))).toBeGreaterThan(install);
    // after the stage: the mirror's sources still, and grommunio's from write_files
    expect(mirrorSources(b.aptAfter)).toBe(mirrorSources(b.aptAtUpdate));
    expect(b.aptAfter.get("sources.list.d/grommunio.sources")).toMatch(/^Types: deb\n/);
  });

  test("control: the same files written by write_files come too late: apt-get update reads the image's sources", () => {
    const entry = bootcmd.find((e) => Array.isArray(e) && e.includes("grommunio-boot-files")) as string[];
    expect(entry).toBeDefined();
    // the entry's argv after `sh -c SCRIPT sh`: path, mode, owner, content per file
    const args = entry.slice(entry.indexOf("-c") + 3);
    const moved: WriteFile[] = [];
    for (let i = 0; i < args.length; i += 4)
      moved.push({ path: args[i]!, permissions: args[i + 1]!, owner: args[i + 2]!, content: args[i + 3]! });
    expect(moved.map((f) => f.path).sort()).toEqual([
      "/etc/apt/sources.list",
      "/etc/apt/sources.list.d/debian.sources",
    ]);
    const b = boot({ bootcmd: bootcmd.filter((e) => e !== entry), write_files: [...moved, ...early] });
    expect(b.init).toBe(0);
    expect(bootcmd.some(isNfsClient)).toBe(true);
    expect(b.calls).toContain("apt-get install -y -q nfs-common");
    expect(mirrorSources(b.aptAtUpdate)).not.toContain(MIRROR);
    // ... though write_files puts them in place afterwards
    expect(mirrorSources(b.aptAfter)).toContain(MIRROR);
  });
});
