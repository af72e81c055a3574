/**
 * The drop-ins that keep services from starting without their data mounts (`mountDropIns`):
 * the mount-to-unit mapping, and the exact files each role gets on Hetzner (block volumes, the
 * NFS node) and AWS (EBS, EFS).
 */
import { TerraformStack, Testing } from "cdktf";
import {
  AdminNode,
  ClassicNode,
  Database,
  GromoxNode,
  GrommunioCluster,
  GrommunioClusterProps,
  LoadBalancerTier,
  Platform,
  ShareNothing,
  SharedStorage,
} from "../../lib";
import { DataMount, MOUNT_DROP_IN, mountDropIns } from "../../lib/provision";
import "../../lib/platforms/hcloud";
import "../../lib/platforms/aws";

const block = (mountPoint: string): DataMount => ({ kind: "block", device: "/dev/sdb", label: "x", mountPoint });
const nfs = (mountPoint: string, onDemand?: boolean): DataMount => ({
  kind: "nfs",
  source: "10.0.0.5:/srv/gromox",
  mountPoint,
  options: "nfsvers=4.1,_netdev,nofail",
  clientPackages: ["nfs-common"],
  ...(onDemand ? { onDemand } : {}),
});
const dropIn = (unit: string, dir: string, mountPoint = dir) => ({
  path: `/etc/systemd/system/${unit}.service.d/data-mount.conf`,
  content: `[Unit]\nRequiresMountsFor=${dir}\nAssertPathIsMountPoint=${mountPoint}\n`,
  mode: "0644",
  owner: "root:root",
});
const GROMOX = dropIn("gromox-", "/var/lib/gromox");
const ADMIN_API = dropIn("grommunio-admin-api", "/var/lib/gromox");
const MARIADB = dropIn("mariadb", "/var/lib/mysql");

describe("mountDropIns: which unit needs which mount", () => {
  test("the store's volume: one prefix drop-in for every gromox-* unit, one for the admin API; nothing for the web tier", () => {
    expect(MOUNT_DROP_IN).toBe("data-mount.conf");
    expect(
      mountDropIns(
        [block("/var/lib/gromox")],
        ["nftables", "gromox-event", "gromox-http", "gromox-midb", "php8.2-fpm", "grommunio-admin-api", "nginx"],
      ),
    ).toEqual([ADMIN_API, GROMOX]);
    expect(mountDropIns([block("/var/lib/gromox")], ["gromox-http", "nginx", "php8.2-fpm"])).toEqual([GROMOX]);
  });

  test("the shared store over NFS (EFS, the NFS node) is the same directory: the same drop-ins", () => {
    expect(mountDropIns([nfs("/var/lib/gromox")], ["gromox-http", "grommunio-admin-api"])).toEqual([ADMIN_API, GROMOX]);
    expect(mountDropIns([nfs("/var/lib/gromox")], ["grommunio-admin-api", "nginx"])).toEqual([ADMIN_API]);
  });

  test("the database volume: MariaDB", () => {
    expect(mountDropIns([block("/var/lib/mysql")], ["nftables", "mariadb"])).toEqual([MARIADB]);
  });

  test("a mount above the data directory counts (the drop-in names the data directory), one below or beside it does not", () => {
    expect(mountDropIns([block("/var/lib")], ["gromox-http", "mariadb"])).toEqual([
      dropIn("gromox-", "/var/lib/gromox", "/var/lib"),
      dropIn("mariadb", "/var/lib/mysql", "/var/lib"),
    ]);
    expect(mountDropIns([block("/var/lib/gromox/user")], ["gromox-http"])).toEqual([]);
    expect(mountDropIns([block("/var/lib/gromoxx"), block("/var/lib/mysql2")], ["gromox-http", "mariadb"])).toEqual([]);
  });

  test("not for the admin node's on-demand store mounts, nor for units the node does not run, nor for the NFS server (nfs-utils' generator orders it)", () => {
    expect(
      mountDropIns(
        [nfs("/var/lib/gromox/user/mail2.example.com", true), nfs("/var/lib/gromox/domain/mail2.example.com", true)],
        ["gromox-http", "grommunio-admin-api"],
      ),
    ).toEqual([]);
    expect(mountDropIns([block("/var/lib/gromox")], ["nginx", "postfix"])).toEqual([]);
    expect(mountDropIns([block("/srv/gromox")], ["nftables", "nfs-kernel-server"])).toEqual([]);
    expect(mountDropIns([block("/var/lib/gromox")], ["nfs-kernel-server", "gromox-http"])).toEqual([GROMOX]);
  });
});

type Storage = "share-nothing" | "shared";

function cluster(platform: "hcloud" | "aws", storage: Storage) {
  const stack = new TerraformStack(Testing.app(), "t");
  const chosen: GrommunioClusterProps["platform"] =
    platform === "hcloud" ? Platform.hcloud({ location: "fsn1" }) : Platform.aws({ region: "eu-central-1" });
  const c = new GrommunioCluster(stack, "mail", {
    platform: chosen,
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    database: Database.onNode(),
    storage: storage === "shared" ? new SharedStorage() : new ShareNothing(),
  });
  new GromoxNode(c, "mail1", { admin: true });
  new GromoxNode(c, "mail2");
  new ClassicNode(c, "classic1");
  if (storage === "shared") new AdminNode(c, "admin1");
  new LoadBalancerTier(c, "lb", { flavor: "haproxy", nodes: 1 });
  Testing.synth(stack);
  return c;
}

/** Each node's drop-ins (path → content), and the services they apply to. */
function dropInsOf(c: GrommunioCluster): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, p] of c.provisioning) {
    out[name] = Object.fromEntries(
      p.files.filter((f) => f.path.endsWith(`/${MOUNT_DROP_IN}`)).map((f) => [f.path, f.content]),
    );
  }
  return out;
}

describe.each(["hcloud", "aws"] as const)("per role on %s", (platform) => {
  const gromox = { [GROMOX.path]: GROMOX.content };
  const admin = { [ADMIN_API.path]: ADMIN_API.content };
  const mariadb = { [MARIADB.path]: MARIADB.content };

  test("ShareNothing: the mailbox nodes (the admin node's admin API too) and the database node; nothing elsewhere", () => {
    const c = cluster(platform, "share-nothing");
    const lbs = [...c.provisioning.keys()].filter((n) => n.startsWith("lb"));
    expect(dropInsOf(c)).toEqual({
      mail1: { ...admin, ...gromox },
      mail2: gromox,
      classic1: {},
      db1: mariadb,
      ...Object.fromEntries(lbs.map((n) => [n, {}])),
    });
    // Written late (after the packages, with the other rendered files), never at boot.
    const f = c.provisioning.get("mail1")!.files.find((x) => x.path === GROMOX.path)!;
    expect(f).toEqual({ ...GROMOX, stage: "late" });
    // The mount they refer to is one the node makes at boot.
    expect(c.provisioning.get("mail2")!.mounts).toContainEqual(
      expect.objectContaining({ kind: "block", mountPoint: "/var/lib/gromox" }),
    );
  });

  test("SharedStorage: every node mounting the shared store (mailbox nodes, the admin node), the database node; the NFS node none", () => {
    const c = cluster(platform, "shared");
    const lbs = [...c.provisioning.keys()].filter((n) => n.startsWith("lb"));
    expect(dropInsOf(c)).toEqual({
      mail1: { ...admin, ...gromox },
      mail2: gromox,
      admin1: admin,
      classic1: {},
      db1: mariadb,
      ...(platform === "hcloud" ? { nfs1: {} } : {}),
      ...Object.fromEntries(lbs.map((n) => [n, {}])),
    });
    for (const n of ["mail1", "mail2", "admin1"]) {
      expect(c.provisioning.get(n)!.mounts).toContainEqual(
        expect.objectContaining({ kind: "nfs", mountPoint: "/var/lib/gromox" }),
      );
    }
    if (platform === "hcloud") {
      // The NFS node's export: nfs-utils' nfs-server-generator orders nfs-server after it.
      expect(c.provisioning.get("nfs1")!.mounts).toEqual([expect.objectContaining({ mountPoint: "/srv/gromox" })]);
      expect(c.provisioning.get("nfs1")!.services).toContain("nfs-kernel-server");
    }
  });
});
