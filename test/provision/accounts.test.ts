/**
 * The accounts that own gromox's data get fixed ids at first boot, before anything installs a
 * package (`accountIds`): the exact bootcmd lines, their place (bootcmd, before the NFS client's
 * packages, the mounts and the key; cloud-init installs `packages:` in its final stage), which
 * nodes get them, and the prop's validation. test/system/accounts.test.ts runs the lines with the
 * real useradd/groupadd and systemd-sysusers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { TerraformStack, Testing } from "cdktf";
import { parse } from "yaml";
import {
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  GrommunioValidationError,
  LoadBalancerTier,
  READINESS_SCRIPT,
  Platform,
  ShareNothing,
  SharedStorage,
} from "../../lib";
import {
  ACCOUNTS_CHECK,
  DEFAULT_ACCOUNT_IDS,
  TokenRegistry,
  accountsBootcmd,
  cloudConfigObject,
  pinnedAccounts,
  validateAccountIds,
} from "../../lib/provision";
import "../../lib/platforms/hcloud";
import "../../lib/platforms/docker";

function build(props: Partial<GrommunioClusterProps> = {}) {
  const stack = new TerraformStack(Testing.app(), "t");
  const platform: GrommunioClusterProps["platform"] = Platform.hcloud({ location: "fsn1" });
  const cluster = new GrommunioCluster(stack, "mail", {
    platform,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
    storage: new SharedStorage(),
    readinessReport: {},
    ...props,
  });
  new GromoxNode(cluster, "mail1", { admin: true });
  new GromoxNode(cluster, "mail2");
  new ClassicNode(cluster, "classic1");
  new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
  return { stack, cluster };
}

const bootcmdOf = (cluster: GrommunioCluster, node: string) =>
  cloudConfigObject(cluster.provisioning.get(node)!, new TokenRegistry())["bootcmd"] as unknown[];

describe("the pinned accounts", () => {
  test("defaults: gromox 470, gromoxcf 471, grommunio 472; groups first, each user in its namesake group", () => {
    expect(DEFAULT_ACCOUNT_IDS).toEqual({ gromox: 470, gromoxcf: 471, grommunio: 472 });
    expect(pinnedAccounts()).toEqual([
      { kind: "group", name: "gromox", id: 470 },
      { kind: "group", name: "gromoxcf", id: 471 },
      { kind: "group", name: "grommunio", id: 472 },
      { kind: "user", name: "gromox", id: 470 },
      { kind: "user", name: "grommunio", id: 472 },
    ]);
    expect(pinnedAccounts({ gromoxcf: 300 }).map((a) => a.id)).toEqual([470, 300, 472, 470, 472]);
  });

  test("the bootcmd lines: systemd-sysusers makes what is missing, then one check per account in order", () => {
    expect(ACCOUNTS_CHECK).toBe(
      'a(){ case $(getent $1 $3) in $2:*);;*)echo "grommunio: $1 $2 must have id $3 (accountIds), stopping">&2;exit 1;esac;}',
    );
    expect(accountsBootcmd(pinnedAccounts()).split("\n")).toEqual([
      "systemd-sysusers --inline 'g gromoxcf 471' 'u gromox 470' 'u grommunio 472'",
      ACCOUNTS_CHECK,
      "a group gromox 470;a group gromoxcf 471;a group grommunio 472;a passwd gromox 470;a passwd grommunio 472",
    ]);
    expect(() => accountsBootcmd([{ kind: "user", name: "gromox", id: 470 }])).toThrow(/namesake group/);
  });

  test("docs/operations.md shows the step as generated", () => {
    const doc = fs.readFileSync(path.join(__dirname, "../../docs/operations.md"), "utf8");
    expect(doc).toContain("```sh\n" + accountsBootcmd(pinnedAccounts()) + "\n```");
  });

  describe("in a cluster (Hetzner, SharedStorage: an NFS node)", () => {
    const { stack, cluster } = build({ accountIds: { gromox: 401, gromoxcf: 402, grommunio: 403 } });
    Testing.synth(stack);
    const custom = accountsBootcmd(pinnedAccounts({ gromox: 401, gromoxcf: 402, grommunio: 403 }));

    test("every node with gromox or grommunio packages, and the NFS node, gets them; the others do not", () => {
      const pinned = [...cluster.provisioning].filter(([, p]) => p.accounts !== undefined).map(([n]) => n);
      expect(pinned.sort()).toEqual(["classic1", "mail1", "mail2", "nfs1"]);
      expect(cluster.provisioning.get("nfs1")!.packages.some((p) => p.startsWith("gro"))).toBe(false);
      for (const n of ["db1", "lb1"]) expect(bootcmdOf(cluster, n)).not.toContain(custom);
    });

    test("bootcmd: right after the readiness report's unit, before the NFS client's packages, the mounts, the key", () => {
      for (const n of ["mail1", "mail2", "classic1", "nfs1"]) {
        const bootcmd = bootcmdOf(cluster, n);
        expect(bootcmd[0]).toBe("set -e");
        expect(bootcmd[2]).toBe(custom);
        expect(bootcmd[1]).toEqual(expect.arrayContaining(["sh", READINESS_SCRIPT]));
        // only `set -e` and the accounts' step are script lines; its `exit 1` ends cloud-init's bootcmd script
        expect(bootcmd.filter((c) => !Array.isArray(c))).toEqual(["set -e", custom]);
      }
      const mail2 = bootcmdOf(cluster, "mail2").map((c) =>
        Array.isArray(c) ? c.slice(0, 3).join(" ") : c === "set -e" ? c : "accounts",
      );
      expect(mail2).toEqual([
        "set -e",
        expect.stringMatching(/^sh -c printf %s "\$1" >\/run\/grommunio-readiness && systemd-run /),
        "accounts",
        "cloud-init-per once grommunio-nfs-client",
        expect.stringMatching(/^sh -c /),
        "cloud-init-per once grommunio-key-grommunio",
      ]);
    });

    test("cloud-init installs the packages later (final stage); nothing in write_files or runcmd makes accounts", () => {
      const rendered = cluster.cloudConfigs.get("mail1")!.text;
      const doc = parse(rendered, { version: "1.1" }) as Record<string, unknown>;
      expect(doc["packages"]).toEqual(expect.arrayContaining(["gromox", "grommunio-admin-api"]));
      expect(JSON.stringify(doc["runcmd"])).not.toMatch(/useradd|groupadd|sysusers/);
      expect(rendered.split("systemd-sysusers").length).toBe(2);
    });
  });

  test("the default ids when the prop is absent", () => {
    const { stack, cluster } = build();
    Testing.synth(stack);
    expect(cluster.provisioning.get("mail2")!.accounts).toEqual(pinnedAccounts());
  });

  test("Docker: the provisioning names them, the container delivery does not use them (images)", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const cluster = new GrommunioCluster(stack, "mail", {
      platform: Platform.docker({}),
      domain: "example.com",
      gromoxVersion: "3.10",
      network: { cidr: "10.10.10.0/24" },
      database: Database.onNode(),
      storage: new ShareNothing(),
    });
    new GromoxNode(cluster, "mail1", { admin: true });
    new LoadBalancerTier(cluster, "lb", { flavor: "haproxy", nodes: 1 });
    const json = Testing.synth(stack);
    expect(json).not.toMatch(/useradd|groupadd|sysusers/);
  });
});

describe("accountIds validation", () => {
  test("defaults and ids from 100 to 999 are fine", () => {
    expect(validateAccountIds("c", undefined)).toEqual([]);
    expect(validateAccountIds("c", { gromox: 100, gromoxcf: 999, grommunio: 555 })).toEqual([]);
  });

  test("GRX318: outside 100–999 or not an integer", () => {
    const issues = validateAccountIds("c", { gromox: 99, gromoxcf: 1000, grommunio: 470.5 });
    expect(issues.map((i) => [i.code, i.field])).toEqual([
      ["GRX318", "accountIds.gromox"],
      ["GRX318", "accountIds.gromoxcf"],
      ["GRX318", "accountIds.grommunio"],
    ]);
    expect(issues[0]!.message).toBe("99 is not an id from 100 to 999 (Debian's dynamically allocated system ids).");
    expect(validateAccountIds("c", { gromox: 0 }).map((i) => i.code)).toEqual(["GRX318"]);
    expect(validateAccountIds("c", { grommunio: 65534 }).map((i) => i.code)).toEqual(["GRX318"]);
  });

  test("GRX319: two names on one id (a given one against a default too)", () => {
    expect(validateAccountIds("c", { gromoxcf: 470 })).toEqual([
      {
        code: "GRX319",
        path: "c",
        field: "accountIds",
        message: "gromox and gromoxcf have the same id 470: each names a group, and two groups cannot share a gid.",
        fix: "Give each of gromox, gromoxcf and grommunio its own id.",
      },
    ]);
  });

  test("collected at synth with the cluster's path", () => {
    const { stack } = build({ accountIds: { gromox: 1000, grommunio: 1000 } });
    let err: unknown;
    try {
      Testing.synth(stack);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GrommunioValidationError);
    expect((err as GrommunioValidationError).codes).toEqual(expect.arrayContaining(["GRX318", "GRX319"]));
  });
});
