/**
 * ShareNothing store exports with real programs (scripts/install-system-deps.sh): on a mailbox
 * node, the generated store-root step and /etc/exports under `exportfs -ra` (nfs-utils' own
 * parser; the kernel server is not needed to parse and record the exports); on the admin node, the
 * generated fstab step with the real `systemd-escape` and `findmnt --verify` (util-linux's fstab
 * check), `systemctl` recorded. Each in a private mount namespace (`unshare -m`) with scratch
 * directories bound over /var/lib, /etc/exports and /etc/fstab: nothing on the host changes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ClassicNode, GromoxNode, GrommunioCluster, LoadBalancerTier, ShareNothing } from "../../lib";
import { STORE_MOUNTS_COMMAND, STORE_SERVERS_EACH, STORE_SERVERS_PATH, storeServersText } from "../../lib/provision";
import { hcloudTestCluster } from "./small-cluster";
import { requireProgram, run, scratchDir } from "./support";

function example(): GrommunioCluster {
  return hcloudTestCluster(new ShareNothing(), (c) => {
    new GromoxNode(c, "mail1", { admin: true });
    new GromoxNode(c, "mail2");
    new GromoxNode(c, "mail3");
    new ClassicNode(c, "classic1");
    new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
  });
}

/**
 * `sh -c script` in a private mount namespace with `binds` (target → source) mounted first; under
 * `set -e`, as runcmd runs the steps (RUNCMD_STOP_ON_ERROR).
 */
function inNamespace(binds: Record<string, string>, script: string, env: NodeJS.ProcessEnv = process.env) {
  requireProgram("unshare", "util-linux");
  const lines = ["set -e", ...Object.entries(binds).map(([t, s]) => `mount --bind '${s}' '${t}'`), script];
  return run("unshare", ["-m", "sh", "-c", lines.join("\n")], { env });
}

describe("store exports with real programs", () => {
  const cluster = example();
  const p = (n: string) => cluster.provisioning.get(n)!;

  test("mail2: the store-root step makes both roots with their parents' owner and mode, and exportfs accepts /etc/exports (both roots, mail1 only)", () => {
    const exportfs = requireProgram("exportfs", "nfs-kernel-server");
    const sb = scratchDir("store-export");
    const lib = path.join(sb, "lib");
    for (const d of ["nfs", "gromox/user", "gromox/domain"]) fs.mkdirSync(path.join(lib, d), { recursive: true });
    for (const d of ["user", "domain"]) {
      fs.chownSync(path.join(lib, "gromox", d), 65534, 65534);
      fs.chmodSync(path.join(lib, "gromox", d), 0o2770);
    }
    const exportsFile = path.join(sb, "exports");
    fs.writeFileSync(exportsFile, p("mail2").files.find((f) => f.path === "/etc/exports")!.content);
    const step = p("mail2").commands[0]!.shell;
    expect(step).toContain("mkdir");
    const r = inNamespace(
      { "/var/lib": lib, "/etc/exports": exportsFile },
      `${step}\n${exportfs} -ra || exit 10\n${exportfs} -v`,
    );
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    for (const d of ["user", "domain"]) {
      const st = fs.statSync(path.join(lib, "gromox", d, "mail2.example.com"));
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([65534, 65534, 0o2770]);
    }
    const listed = r.stdout.replace(/\s+/g, " ").trim();
    expect(listed).toBe(
      ["user", "domain"]
        .map(
          (d) =>
            `/var/lib/gromox/${d}/mail2.example.com 10.10.10.21(sync,wdelay,hide,no_subtree_check,sec=sys,rw,no_root_squash,no_all_squash)`,
        )
        .join(" "),
    );
  });

  test("exportfs refuses a broken exports line (the check can fail)", () => {
    const exportfs = requireProgram("exportfs", "nfs-kernel-server");
    const sb = scratchDir("store-export-bad");
    const lib = path.join(sb, "lib");
    fs.mkdirSync(path.join(lib, "nfs"), { recursive: true });
    fs.mkdirSync(path.join(lib, "gromox/user/x"), { recursive: true });
    const bad = path.join(sb, "exports");
    fs.writeFileSync(bad, "/var/lib/gromox/user/x 10.10.10.21(rw,sync,no_subtree_chek)\n");
    const r = inNamespace({ "/var/lib": lib, "/etc/exports": bad }, `${exportfs} -ra`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('unknown keyword "no_subtree_chek"');
  });

  test("the store-servers loop (dash) reads back exactly the hosts storeServersText wrote, in order", () => {
    requireProgram("seq", "coreutils");
    const hosts = [
      "mail2.example.com",
      "mail3.example.com",
      "mail4.example.com",
      "db.example.com",
      "mail08.example.com",
      "node9",
      "node10",
      "node11",
      "x3.dc1.example",
      "x4.dc1.example",
      "mail0.example.com",
      "mail1.example.com",
    ];
    const sb = scratchDir("store-servers-loop");
    const list = path.join(sb, "store-servers");
    fs.writeFileSync(list, storeServersText(hosts));
    expect(fs.readFileSync(list, "utf8").split("\n").length).toBeLessThan(hosts.length);
    const r = run("dash", ["-c", `${STORE_SERVERS_EACH} echo "$h"; done; done < ${list}`]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(r.stdout).toBe(hosts.map((h) => `${h}\n`).join(""));
  });

  test("mail1: the mounts step adds one fstab line per root (once), findmnt --verify accepts the table, and the automount units are the ones systemd-escape names", () => {
    const findmnt = requireProgram("findmnt", "util-linux");
    requireProgram("systemd-escape", "systemd");
    const sb = scratchDir("store-mounts");
    const lib = path.join(sb, "lib");
    fs.mkdirSync(path.join(lib, "gromox/user"), { recursive: true });
    fs.mkdirSync(path.join(lib, "gromox/domain"), { recursive: true });
    const fstab = path.join(sb, "fstab");
    const before = "# the image's table\n";
    fs.writeFileSync(fstab, before);
    const servers = path.join(sb, "store-servers");
    fs.writeFileSync(servers, p("mail1").files.find((f) => f.path === STORE_SERVERS_PATH)!.content);
    // systemctl recorded, not run
    const bin = path.join(sb, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${sb}/systemctl.log\n`, { mode: 0o755 });
    // The step reads its list from the provisioning directory; here from the scratch copy.
    const step = STORE_MOUNTS_COMMAND.shell.replace(STORE_SERVERS_PATH, servers);
    expect(p("mail1").commands).toContainEqual(STORE_MOUNTS_COMMAND);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
    const twice = `${step}\n${step}\n${findmnt} --verify --verbose --tab-file /etc/fstab`;
    const r = inNamespace({ "/var/lib": lib, "/etc/fstab": fstab }, twice, env);
    expect(r.status).toBe(0);
    // findmnt's summary: on stdout after the checks when there is nothing to report, else on
    // stderr; its one possible warning here is about the host's own systemd, which sees the bound
    // table as newer than what it last loaded (/run/systemd/systemd-units-load: the sandbox, not
    // the lines; whether it is newer depends on when the host's systemd last loaded units).
    const summary = r.stderr.trim() || r.stdout.trim().split("\n").pop();
    expect(summary).toMatch(/^(Success, no errors or warnings detected|0 parse errors, 0 errors, 1 warning)$/);
    expect(r.stdout).not.toContain("[E]");
    expect(r.stdout.match(/\[W\].*/g) ?? []).toEqual(
      r.stderr.includes("1 warning")
        ? ["[W] your fstab has been modified, but systemd still uses the old version;"]
        : [],
    );
    const opts =
      "nfsvers=4.1,hard,timeo=600,retrans=2,_netdev,nofail,x-systemd.automount,x-systemd.idle-timeout=60,x-systemd.mount-timeout=30";
    const roots = ["mail2", "mail3"].flatMap((n) =>
      ["user", "domain"].map((d) => [n, `/var/lib/gromox/${d}/${n}.example.com`] as const),
    );
    expect(fs.readFileSync(fstab, "utf8")).toBe(
      before + roots.map(([n, dir]) => `${n}.example.com:${dir} ${dir} nfs4 ${opts} 0 0\n`).join(""),
    );
    for (const [, dir] of roots)
      expect(fs.statSync(path.join(lib, dir.slice("/var/lib/".length))).isDirectory()).toBe(true);
    const start = `start ${roots.map(([, dir]) => `${dir.slice(1).split("/").join("-")}.automount`).join(" ")}`;
    expect(start).toBe(
      "start var-lib-gromox-user-mail2.example.com.automount var-lib-gromox-domain-mail2.example.com.automount var-lib-gromox-user-mail3.example.com.automount var-lib-gromox-domain-mail3.example.com.automount",
    );
    expect(fs.readFileSync(path.join(sb, "systemctl.log"), "utf8").split("\n")).toEqual([
      "daemon-reload",
      start,
      "daemon-reload",
      start,
      "",
    ]);
  });

  test("mail1: systemd's fstab generator makes of each line an automount released after a minute idle and a hard mount whose mount and unmount get 30 s (TimeoutSec)", () => {
    const generator = "/lib/systemd/system-generators/systemd-fstab-generator";
    if (!fs.existsSync(generator)) throw new Error(`${generator} is missing. Install it with: apt-get install systemd`);
    const sb = scratchDir("store-units");
    const fstab = path.join(sb, "fstab");
    const mount = p("mail1").mounts.filter((m) => m.kind === "nfs");
    // The lines the mounts step writes (the previous test runs it: `source dir nfs4 options 0 0`).
    fs.writeFileSync(fstab, mount.map((m) => `${m.source} ${m.mountPoint} nfs4 ${m.options} 0 0\n`).join(""));
    const out = ["normal", "early", "late"].map((d) => path.join(sb, d));
    for (const d of out) fs.mkdirSync(d);
    const r = run(generator, out, { env: { ...process.env, SYSTEMD_FSTAB: fstab } });
    expect(r.status).toBe(0);
    expect(mount).toHaveLength(4);
    for (const m of mount) {
      const unit = m.mountPoint.slice(1).split("/").join("-");
      const keys = (file: string) =>
        fs
          .readFileSync(path.join(out[0]!, file), "utf8")
          .split("\n")
          .filter((l) => /^(What|Where|Type|TimeoutSec|TimeoutIdleSec)=/.test(l));
      expect(keys(`${unit}.automount`)).toEqual([`Where=${m.mountPoint}`, "TimeoutIdleSec=1min"]);
      expect(keys(`${unit}.mount`)).toEqual([
        `What=${m.source}`,
        `Where=${m.mountPoint}`,
        "Type=nfs4",
        "TimeoutSec=30s",
      ]);
      expect(fs.readFileSync(path.join(out[0]!, `${unit}.mount`), "utf8")).toMatch(/^Options=nfsvers=4\.1,hard,/m);
      // on demand: the automount is wanted by remote-fs.target, the mount itself by nothing
      expect(fs.existsSync(path.join(out[0]!, "remote-fs.target.wants", `${unit}.automount`))).toBe(true);
      expect(fs.existsSync(path.join(out[0]!, "remote-fs.target.wants", `${unit}.mount`))).toBe(false);
    }
    fs.rmSync(sb, { recursive: true, force: true });
  });
});
