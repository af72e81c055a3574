/**
 * The pinned accounts (`accountIds`) with the real programs: the accounts step of a synthesized
 * node's bootcmd, run by cloud-init 22.4's own bootcmd module (`cc_bootcmd.handle`: the entries
 * made into one script by `util.shellify`, run by /bin/sh) with the real systemd-sysusers and
 * getent, in a private mount namespace whose /etc is a scratch copy holding a Debian 12 image's
 * accounts: nothing on the host changes. Then what the packages run: systemd-sysusers with
 * gromox's and grommunio's sysusers lines (`--root`), and system-user-grommunio's pre-install
 * `getent || groupadd/useradd`: the ids stay. The collisions (an account there with another id,
 * an id another name holds) fail the bootcmd module with the message, and the entry after it (the
 * data mounts) does not run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { BOOTCMD_STOP_ON_ERROR, GromoxNode, LoadBalancerTier, SharedStorage } from "../../lib";
import { SYSTEM_PYTHON, requireCloudInit } from "./cloud-init";
import { hcloudTestCluster } from "./small-cluster";
import { requireProgram, run, scratchDir } from "./support";

/** The accounts step of a synthesized node (SharedStorage on Hetzner: mail1, an admin node). */
function accountsStep(): string {
  const cluster = hcloudTestCluster(new SharedStorage(), (c) => {
    new GromoxNode(c, "mail1", { admin: true });
    new GromoxNode(c, "mail2");
    new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
  });
  const doc = parse(cluster.cloudConfigs.get("mail1")!.text, { version: "1.1" }) as { bootcmd: unknown[] };
  expect(doc.bootcmd[0]).toBe(BOOTCMD_STOP_ON_ERROR);
  const steps = doc.bootcmd.slice(1).filter((c): c is string => typeof c === "string");
  expect(steps).toHaveLength(1);
  return steps[0]!;
}

/** A Debian 12 cloud image's accounts (base-passwd's static ones, a few dynamic ones at both ends). */
const IMAGE_PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
  "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
  "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
  "messagebus:x:100:101::/nonexistent:/usr/sbin/nologin",
  "sshd:x:101:65534::/run/sshd:/usr/sbin/nologin",
  "systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin",
  "systemd-timesync:x:997:997:systemd Time Synchronization:/:/usr/sbin/nologin",
];
const IMAGE_GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "bin:x:2:",
  "sys:x:3:",
  "adm:x:4:",
  "www-data:x:33:",
  "users:x:100:",
  "nogroup:x:65534:",
  "messagebus:x:101:",
  "systemd-network:x:998:",
  "systemd-timesync:x:997:",
];

/** The accounts lines of the packages (grommunio's sources, see lib/provision/accounts.ts). */
const PACKAGE_SYSUSERS: Record<string, string> = {
  // grommunio/gromox system/sysusers-gromox.conf
  "gromox.conf": 'u gromox - "Gromox services"\n',
  // system-user-gromox (grommunio's OBS packaging)
  "system-user-gromox.conf": 'g gromox -\ng gromoxcf -\nu gromox - "Gromox services"\nm gromox gromoxcf\n',
  // grommunio-admin-api's sysusers file
  "grommunio.conf": 'u grommunio - "Grommunio Groupware"\nm grommunio gromox\nm grommunio gromoxcf\n',
};
/** system-user-grommunio's pre-install script where there is no sysusers (its %pre, non-SUSE). */
const PACKAGE_PREINST = [
  "getent group grommunio >/dev/null || groupadd -r grommunio",
  'getent passwd grommunio >/dev/null || useradd -g grommunio -s /sbin/nologin -r -c "user for grommunio administration" -d / grommunio',
].join("\n");

/**
 * A scratch root: a copy of the host's /etc (the programs' configuration, ld.so.cache) with the
 * image's accounts (plus `extra` lines) and NSS reading files only.
 */
function imageRoot(extra: { passwd?: string[]; group?: string[] } = {}): string {
  const root = scratchDir("accounts");
  const etc = path.join(root, "etc");
  expect(run("cp", ["-a", "/etc", etc]).status).toBe(0);
  const passwd = [...IMAGE_PASSWD, ...(extra.passwd ?? [])];
  const group = [...IMAGE_GROUP, ...(extra.group ?? [])];
  const write = (name: string, lines: string[], mode: number) => {
    fs.writeFileSync(path.join(etc, name), lines.join("\n") + "\n", { mode });
    fs.chmodSync(path.join(etc, name), mode);
  };
  write("passwd", passwd, 0o644);
  write("group", group, 0o644);
  write(
    "shadow",
    passwd.map((l) => `${l.split(":")[0]}:*:19700:0:99999:7:::`),
    0o640,
  );
  write(
    "gshadow",
    group.map((l) => `${l.split(":")[0]}:*::`),
    0o640,
  );
  write("nsswitch.conf", ["passwd: files", "group: files", "shadow: files", "gshadow: files"], 0o644);
  fs.rmSync(path.join(etc, "sysusers.d"), { recursive: true, force: true });
  fs.mkdirSync(path.join(root, "tmp"));
  return root;
}

const HARNESS = `
import json, logging, sys
from cloudinit import temp_utils
from cloudinit.config import cc_bootcmd
temp_utils._TMPDIR = sys.argv[1]
class Cloud:
    def get_instance_id(self):
        return "i-accounts-test"
cfg = json.load(open(sys.argv[2]))
try:
    cc_bootcmd.handle("bootcmd", cfg, Cloud(), logging.getLogger("bootcmd"), [])
except Exception as e:
    print("bootcmd module failed: %s" % type(e).__name__, file=sys.stderr)
    sys.exit(3)
`;

/**
 * cloud-init's bootcmd module on [`set -e` as the node's document starts, the accounts step (or
 * `steps`), a stand-in for the data mounts that leaves a marker], in a mount namespace where /etc
 * is the root's. Status 0, or 3 when the module failed.
 */
function bootcmd(
  root: string,
  step: string | unknown[],
  first: unknown[] = [BOOTCMD_STOP_ON_ERROR],
): { status: number; stderr: string; mounted: boolean } {
  const marker = path.join(root, "mounted");
  fs.rmSync(marker, { force: true });
  const cfg = path.join(root, "cloud-config.json");
  fs.writeFileSync(cfg, JSON.stringify({ bootcmd: [...first, step, ["sh", "-c", `echo mounted > ${marker}`]] }));
  const harness = path.join(root, "harness.py");
  fs.writeFileSync(harness, HARNESS);
  const r = run("unshare", [
    "-m",
    "sh",
    "-c",
    `mount --bind '${root}/etc' /etc && exec ${SYSTEM_PYTHON} '${harness}' '${root}/tmp' '${cfg}'`,
  ]);
  return { status: r.status, stderr: r.stderr, mounted: fs.existsSync(marker) };
}

/** The packages' account creation: systemd-sysusers on their lines, then the pre-install script. */
function installPackages(root: string): void {
  const dir = path.join(root, "usr/lib/sysusers.d");
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(PACKAGE_SYSUSERS)) fs.writeFileSync(path.join(dir, name), text);
  const s = run("systemd-sysusers", ["--root", root]);
  expect(s).toMatchObject({ status: 0 });
  const pre = run("unshare", ["-m", "sh", "-ec", `mount --bind '${root}/etc' /etc\n${PACKAGE_PREINST}`]);
  expect(pre).toMatchObject({ status: 0, stderr: "" });
}

const entries = (root: string, file: "passwd" | "group") =>
  fs
    .readFileSync(path.join(root, "etc", file), "utf8")
    .split("\n")
    .filter(Boolean);
const entry = (root: string, file: "passwd" | "group", name: string) =>
  entries(root, file).find((l) => l.startsWith(`${name}:`));

beforeAll(() => {
  requireCloudInit();
  requireProgram("systemd-sysusers", "systemd");
  requireProgram("getent", "libc-bin");
  requireProgram("useradd", "passwd");
  requireProgram("unshare", "util-linux");
});

describe("the accounts step of a node's bootcmd, with the real programs", () => {
  const step = accountsStep();

  test("on a fresh image: the accounts with the pinned ids, then the next entry (the mounts) runs", () => {
    const root = imageRoot();
    const r = bootcmd(root, step);
    // systemd-sysusers' log: the groups before the users
    expect(r).toEqual({
      status: 0,
      stderr: [
        "Creating group 'gromoxcf' with GID 471.",
        "Creating group 'gromox' with GID 470.",
        "Creating user 'gromox' (n/a) with UID 470 and GID 470.",
        "Creating group 'grommunio' with GID 472.",
        "Creating user 'grommunio' (n/a) with UID 472 and GID 472.",
        "",
      ].join("\n"),
      mounted: true,
    });
    expect(entry(root, "group", "gromox")).toBe("gromox:x:470:");
    expect(entry(root, "group", "gromoxcf")).toBe("gromoxcf:x:471:");
    expect(entry(root, "group", "grommunio")).toBe("grommunio:x:472:");
    expect(entry(root, "passwd", "gromox")).toBe("gromox:x:470:470::/:/usr/sbin/nologin");
    expect(entry(root, "passwd", "grommunio")).toBe("grommunio:x:472:472::/:/usr/sbin/nologin");
    // the image's accounts are untouched
    expect(entries(root, "passwd").slice(0, IMAGE_PASSWD.length)).toEqual(IMAGE_PASSWD);
  });

  test("the packages' systemd-sysusers and useradd keep them; the next boot changes nothing", () => {
    const root = imageRoot();
    expect(bootcmd(root, step).status).toBe(0);
    installPackages(root);
    expect(entry(root, "passwd", "gromox")).toBe("gromox:x:470:470::/:/usr/sbin/nologin");
    expect(entry(root, "passwd", "grommunio")).toBe("grommunio:x:472:472::/:/usr/sbin/nologin");
    expect(entry(root, "group", "gromox")).toBe("gromox:x:470:grommunio");
    expect(entry(root, "group", "gromoxcf")).toBe("gromoxcf:x:471:grommunio,gromox");
    expect(entry(root, "group", "grommunio")).toBe("grommunio:x:472:");
    const before = { passwd: entries(root, "passwd"), group: entries(root, "group") };
    expect(bootcmd(root, step)).toEqual({ status: 0, stderr: "", mounted: true });
    expect({ passwd: entries(root, "passwd"), group: entries(root, "group") }).toEqual(before);
  });

  test("without the step the same packages pick other ids (what the step prevents)", () => {
    const root = imageRoot();
    installPackages(root);
    const uid = Number(entry(root, "passwd", "gromox")!.split(":")[2]);
    expect(uid).toBeGreaterThanOrEqual(900);
    expect(uid).not.toBe(470);
  });

  test("an account already there with another id: the module fails with the message, nothing is mounted", () => {
    const root = imageRoot({
      passwd: ["gromox:x:996:996:Gromox services:/:/usr/sbin/nologin"],
      group: ["gromox:x:996:"],
    });
    const r = bootcmd(root, step);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("grommunio: group gromox must have id 470 (accountIds), stopping\n");
    expect(r.stderr).toContain("bootcmd module failed: ProcessExecutionError");
    expect(r.mounted).toBe(false);
    expect(entry(root, "passwd", "gromox")).toBe("gromox:x:996:996:Gromox services:/:/usr/sbin/nologin");
  });

  test("an id another name holds (a group, a user): the module fails naming the account it cannot pin", () => {
    const group = imageRoot({ group: ["other:x:471:"] });
    const g = bootcmd(group, step);
    expect(g.status).toBe(3);
    expect(g.stderr).toContain("grommunio: group gromoxcf must have id 471 (accountIds), stopping\n");
    expect(g.mounted).toBe(false);
    expect(entry(group, "group", "other")).toBe("other:x:471:");

    const user = imageRoot({ passwd: ["other:x:472:100::/home/other:/bin/sh"] });
    const u = bootcmd(user, step);
    expect(u.status).toBe(3);
    // (sysusers gives user and group one id: with uid 472 taken, the group gets another gid too)
    expect(u.stderr).toContain("Suggested user ID 472 for grommunio already used.\n");
    expect(u.stderr).toContain("grommunio: group grommunio must have id 472 (accountIds), stopping\n");
    expect(u.mounted).toBe(false);
    expect(entry(user, "passwd", "other")).toBe("other:x:472:100::/home/other:/bin/sh");
  });
});

describe("bootcmd stops at the first failing entry (cloud-init runs the entries as one script without -e)", () => {
  // A failing entry (a mount that did not happen, as `sh -c` scripts exit) before the last one.
  const failing = ["sh", "-c", "echo 'grommunio: cannot mount nfs1:/srv' >&2; exit 1"];

  test("with the node's first entry, `set -e`: the module fails and nothing after the failure runs", () => {
    const root = imageRoot();
    expect(bootcmd(root, failing)).toEqual({
      status: 3,
      stderr: expect.stringContaining("grommunio: cannot mount nfs1:/srv"),
      mounted: false,
    });
  });

  test("without it, cloud-init reports success and runs the rest (what the first entry is for)", () => {
    const root = imageRoot();
    expect(bootcmd(root, failing, [])).toMatchObject({ status: 0, mounted: true });
  });
});
