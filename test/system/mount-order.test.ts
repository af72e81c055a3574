/**
 * The services that keep data on a data mount start only with it, after it (`mountDropIns`), with
 * systemd 252's own loader: the generated drop-in, the mount unit systemd-fstab-generator makes of
 * the fstab line the mount step writes, and stand-ins for the packages' units, named as theirs
 * (gromox-http.service, …), in a scratch unit directory (`SYSTEMD_UNIT_PATH`). `systemd-analyze
 * verify` builds each unit's start transaction:
 * - Requires: the mount unit gets a drop-in requiring a unit that does not exist; starting the
 *   service then fails ("Unit … not found") only if its start pulls the mount's start in as a
 *   requirement (a `Wants=` would drop the mount's job instead);
 * - After: the mount unit gets `After=<the service>`; the transaction then has an ordering cycle
 *   only if the service is ordered after the mount.
 * Without the drop-in, or with another directory in it, both transactions are clean (the controls).
 * The NFS server's ordering is nfs-utils' own: its generator, run on the generated /etc/exports.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ClassicNode, GromoxNode, GrommunioCluster, ShareNothing, SharedStorage } from "../../lib";
import {
  BLOCK_MOUNT_SCRIPT,
  MOUNT_DROP_IN,
  NFS_MOUNT_SCRIPT,
  NodeProvisioning,
  SYSTEMD_UNIT_DIR,
} from "../../lib/provision";
import { hcloudTestCluster } from "./small-cluster";
import { requireProgram, run, scratchDir } from "./support";

function example(storage: "share-nothing" | "shared"): GrommunioCluster {
  return hcloudTestCluster(storage === "shared" ? new SharedStorage() : new ShareNothing(), (c) => {
    new GromoxNode(c, "mail1", { admin: true });
    new GromoxNode(c, "mail2");
    new ClassicNode(c, "classic1");
  });
}

const PROBE_ABSENT = "grommunio-probe-absent.service";

/** A systemd generator's path (not on PATH), or the failure saying which package installs it. */
function generator(name: string, debianPackage: string): string {
  for (const dir of ["/lib/systemd/system-generators", "/usr/lib/systemd/system-generators"]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(
    `${name} is not installed. Install it with: apt-get install ${debianPackage} ` +
      `(or run scripts/install-system-deps.sh, which installs everything the system tests need).`,
  );
}

/** The fstab lines the node's boot mount steps write: their own `echo … >> /etc/fstab` line, run. */
function fstabOf(p: NodeProvisioning, sb: string): string {
  const fstab = path.join(sb, "fstab");
  fs.writeFileSync(fstab, "");
  for (const m of p.mounts) {
    if (m.kind === "nfs" && m.onDemand) continue;
    const script = m.kind === "block" ? BLOCK_MOUNT_SCRIPT : NFS_MOUNT_SCRIPT;
    const line = script.split("\n").find((l) => l.includes(">> /etc/fstab"))!;
    const vars =
      m.kind === "block"
        ? { label: m.label, dir: m.mountPoint }
        : { src: m.source.replace(/\$\{[^}]*\}/g, "10.10.10.5"), dir: m.mountPoint, opts: m.options };
    const r = run("sh", ["-c", line.split("/etc/fstab").join(fstab)], { env: { ...process.env, ...vars } });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  }
  return fstab;
}

interface Setup {
  /** Scratch unit directory: the generator's mount units, stand-ins, the node's drop-ins. */
  readonly units: string;
  /** The services the node's drop-ins apply to, as unit names. */
  readonly consumers: Map<string, string[]>; // unit → RequiresMountsFor directories
}

/** The node's drop-ins (optionally altered), the mount units of its fstab lines, stand-in units. */
function setUp(p: NodeProvisioning, alter: (content: string) => string | undefined = (c) => c): Setup {
  const gen = generator("systemd-fstab-generator", "systemd");
  const sb = scratchDir(`mount-order-${p.name}`);
  const units = path.join(sb, "units");
  fs.mkdirSync(units);
  const fstab = fstabOf(p, sb);
  const g = run(gen, [units, units, units], {
    env: { ...process.env, SYSTEMD_FSTAB: fstab, SYSTEMD_PROC_CMDLINE: "" },
  });
  expect({ status: g.status, stderr: g.stderr }).toEqual({ status: 0, stderr: "" });
  const consumers = new Map<string, string[]>();
  for (const f of p.files.filter((x) => x.path.endsWith(`.service.d/${MOUNT_DROP_IN}`))) {
    const stem = f.path.slice(SYSTEMD_UNIT_DIR.length + 1, -`.service.d/${MOUNT_DROP_IN}`.length);
    // A prefix drop-in (gromox-.service.d) applies to every unit of the node named so.
    const names = stem.endsWith("-") ? p.services.filter((s) => s.startsWith(stem)) : [stem];
    expect(names.length).toBeGreaterThan(0);
    const dirs = [...f.content.matchAll(/^RequiresMountsFor=(.*)$/gm)].map((m) => m[1]!);
    for (const n of names) {
      consumers.set(`${n}.service`, dirs);
      fs.writeFileSync(
        path.join(units, `${n}.service`),
        "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/true\n",
      );
    }
    const content = alter(f.content);
    if (content === undefined) continue;
    fs.mkdirSync(path.dirname(path.join(units, f.path.slice(SYSTEMD_UNIT_DIR.length))), { recursive: true });
    fs.writeFileSync(path.join(units, f.path.slice(SYSTEMD_UNIT_DIR.length)), content);
  }
  return { units, consumers };
}

const mountUnitOf = (dir: string) => run("systemd-escape", ["-p", "--suffix=mount", dir]).stdout.trim();

/** A drop-in on a mount unit (the probe). */
function probe(units: string, mountUnit: string, text: string): void {
  fs.mkdirSync(path.join(units, `${mountUnit}.d`), { recursive: true });
  fs.writeFileSync(path.join(units, `${mountUnit}.d`, "probe.conf"), `[Unit]\n${text}\n`);
}

function verify(units: string, unit: string) {
  const r = run("systemd-analyze", ["verify", "--man=no", unit], {
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:`, SYSTEMD_LOG_COLOR: "0" },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Does starting `unit` require the mount unit `mountUnit` (a requirement that cannot be met fails it)? */
function requires(p: NodeProvisioning, unit: string, mountUnit: string, alter?: (c: string) => string | undefined) {
  const { units } = setUp(p, alter);
  probe(units, mountUnit, `Requires=${PROBE_ABSENT}`);
  const r = verify(units, unit);
  return r.status !== 0 && r.out.includes(`Failed to create ${unit}/start: Unit ${PROBE_ABSENT} not found.`);
}

/** Is `unit` ordered after the mount unit (the mount ordered after the unit closes a cycle)? */
function after(p: NodeProvisioning, unit: string, mountUnit: string, alter?: (c: string) => string | undefined) {
  const { units } = setUp(p, alter);
  probe(units, mountUnit, `After=${unit}`);
  const r = verify(units, unit);
  // (the cycle is reported from whichever of the two jobs the check starts at)
  const cycle = new Set([...r.out.matchAll(/Found (?:ordering cycle|dependency) on (\S+)\/start$/gm)].map((m) => m[1]));
  return (
    r.status !== 0 &&
    r.out.includes("Transaction order is cyclic") &&
    cycle.size === 2 &&
    cycle.has(unit) &&
    cycle.has(mountUnit)
  );
}

describe("services start only with their data mounts (systemd-analyze verify, systemd-fstab-generator)", () => {
  beforeAll(() => {
    requireProgram("systemd-analyze", "systemd");
    requireProgram("systemd-escape", "systemd");
  });
  const shareNothing = example("share-nothing");
  const shared = example("shared");
  const cases: [string, NodeProvisioning, string[]][] = [
    [
      "ShareNothing mail1 (admin): block volume at /var/lib/gromox",
      shareNothing.provisioning.get("mail1")!,
      ["gromox-event", "gromox-timer", "gromox-http", "gromox-midb", "gromox-zcore", "grommunio-admin-api"],
    ],
    ["ShareNothing mail2", shareNothing.provisioning.get("mail2")!, ["gromox-http", "gromox-midb", "gromox-zcore"]],
    ["database node: block volume at /var/lib/mysql", shareNothing.provisioning.get("db1")!, ["mariadb"]],
    [
      "SharedStorage mail1: the NFS node's export at /var/lib/gromox",
      shared.provisioning.get("mail1")!,
      ["gromox-event", "gromox-timer", "gromox-http", "gromox-midb", "gromox-zcore", "grommunio-admin-api"],
    ],
  ];

  test.each(cases)("%s: every consumer requires the mount and starts after it", (_name, p, want) => {
    const { consumers } = setUp(p);
    expect([...consumers.keys()].sort()).toEqual(want.map((u) => `${u}.service`).sort());
    for (const [unit, dirs] of consumers) {
      expect(dirs).toHaveLength(1);
      const mountUnit = mountUnitOf(dirs[0]!);
      // The generator made the mount unit of the node's fstab line (nofail: nothing else orders it).
      expect(fs.readFileSync(path.join(setUp(p).units, mountUnit), "utf8")).toContain(`Where=${dirs[0]}\n`);
      expect([unit, requires(p, unit, mountUnit), after(p, unit, mountUnit)]).toEqual([unit, true, true]);
    }
  });

  test.each(cases)("%s (controls): without the drop-in, or with another directory in it, neither holds", (_name, p) => {
    const { consumers } = setUp(p);
    for (const [unit, dirs] of consumers) {
      const mountUnit = mountUnitOf(dirs[0]!);
      const none = () => undefined;
      const elsewhere = (c: string) => c.replace(/^RequiresMountsFor=(.*)$/m, "RequiresMountsFor=$1x");
      expect([unit, requires(p, unit, mountUnit, none), after(p, unit, mountUnit, none)]).toEqual([unit, false, false]);
      expect([unit, requires(p, unit, mountUnit, elsewhere), after(p, unit, mountUnit, elsewhere)]).toEqual([
        unit,
        false,
        false,
      ]);
    }
  });

  test.each(cases)(
    "%s: with nothing mounted at the mount point the drop-in's assertion fails the start (RequiresMountsFor= alone is met by the root mount when the fstab line is missing)",
    (_name, p) => {
      const mountPoints = p.mounts.filter((m) => !(m.kind === "nfs" && m.onDemand)).map((m) => m.mountPoint);
      for (const f of p.files.filter((x) => x.path.endsWith(`.service.d/${MOUNT_DROP_IN}`))) {
        const asserts = [...f.content.matchAll(/^AssertPathIsMountPoint=(.*)$/gm)].map((m) => m[1]!);
        expect(asserts).toHaveLength(1);
        expect(mountPoints).toContain(asserts[0]);
        // systemd evaluates the line against this machine, where the node's mount point is no mount point
        const line = `AssertPathIsMountPoint=${asserts[0]}`;
        const missing = run("systemd-analyze", ["condition", line]);
        expect({ status: missing.status, out: missing.stdout + missing.stderr }).toEqual({
          status: 1,
          out: expect.stringContaining(`${line} failed.`),
        });
        // control: the same assertion on a mount point holds
        expect(run("systemd-analyze", ["condition", "AssertPathIsMountPoint=/proc"]).status).toBe(0);
      }
    },
  );

  test("the admin node's on-demand store mounts (another mailbox node's roots) are required by nothing", () => {
    const p = shareNothing.provisioning.get("mail1")!;
    const onDemand = p.mounts.filter((m) => m.kind === "nfs" && m.onDemand).map((m) => m.mountPoint);
    expect(onDemand).toContain("/var/lib/gromox/user/mail2.example.com");
    for (const dir of onDemand) {
      for (const unit of ["grommunio-admin-api.service", "gromox-http.service"]) {
        const { units } = setUp(p);
        const mountUnit = mountUnitOf(dir);
        fs.writeFileSync(
          path.join(units, mountUnit),
          `[Unit]\nRequires=${PROBE_ABSENT}\n[Mount]\nWhat=mail2.example.com:${dir}\nWhere=${dir}\nType=nfs4\n`,
        );
        expect([dir, unit, verify(units, unit)]).toEqual([dir, unit, { status: 0, out: "" }]);
      }
    }
  });

  test("the NFS server: nfs-utils' nfs-server-generator requires and orders after every exported directory (the NFS node's, a mailbox node's store roots)", () => {
    const gen = generator("nfs-server-generator", "nfs-kernel-server");
    requireProgram("unshare", "util-linux");
    const exportsOf = (c: GrommunioCluster, n: string) =>
      c.provisioning.get(n)!.files.find((f) => f.path === "/etc/exports")!.content;
    const nfsNode = shared.provisioning.get("nfs1")!;
    expect(nfsNode.files.filter((f) => f.path.endsWith(MOUNT_DROP_IN))).toEqual([]);
    const withAdmin = example("share-nothing");
    for (const [exports, want] of [
      [exportsOf(shared, "nfs1"), ["/srv/gromox"]],
      [
        exportsOf(withAdmin, "mail2"),
        ["/var/lib/gromox/user/mail2.example.com", "/var/lib/gromox/domain/mail2.example.com"],
      ],
    ] as const) {
      const sb = scratchDir("nfs-generator");
      fs.writeFileSync(path.join(sb, "exports"), exports);
      fs.mkdirSync(path.join(sb, "exports.d"));
      const out = path.join(sb, "out");
      fs.mkdirSync(out);
      const r = run("unshare", [
        "-m",
        "sh",
        "-c",
        `set -e; mount --bind ${sb}/exports /etc/exports; mount --bind ${sb}/exports.d /etc/exports.d 2>/dev/null || true; ${gen} ${out} ${out} ${out}`,
      ]);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
      const conf = fs.readFileSync(path.join(out, "nfs-server.service.d", "order-with-mounts.conf"), "utf8");
      expect(
        conf
          .split("\n")
          .filter((l) => l.startsWith("RequiresMountsFor="))
          .sort(),
      ).toEqual(want.map((d) => `RequiresMountsFor=${d}`).sort());
    }
  });
});
