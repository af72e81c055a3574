/**
 * The one port table (lib/topology/ports.ts) against the facts of reference/gromox.md §4 and §6.
 */
import {
  Daemon,
  HUB_DAEMONS,
  NODE_ROLES,
  OPTIONAL_DAEMONS,
  PORTS,
  PortKey,
  PortSpec,
  ROLE_DAEMONS,
  SOCKETS,
  STORE_EXPORT_DAEMONS,
} from "../../lib/topology";

const entries = Object.entries(PORTS) as [PortKey, PortSpec][];
/** Every daemon some node runs: the role daemons, the hub's, the store export's, sshd on every node, the optional ones. */
const runnable = new Set<Daemon>([
  "sshd",
  ...HUB_DAEMONS,
  ...STORE_EXPORT_DAEMONS,
  ...NODE_ROLES.flatMap((r) => ROLE_DAEMONS[r]),
  ...NODE_ROLES.flatMap((r) => OPTIONAL_DAEMONS[r] ?? []),
]);

describe("PORTS", () => {
  it.each(entries)("%s has a server daemon that some role runs", (_, spec) => {
    expect(runnable.has(spec.server)).toBe(true);
  });

  it.each(entries)("%s: every client daemon is run by some role", (_, spec) => {
    for (const d of spec.clients) expect(runnable.has(d)).toBe(true);
  });

  it.each(entries)("%s is a TCP port number with a description", (_, spec) => {
    expect(Number.isInteger(spec.port)).toBe(true);
    expect(spec.port).toBeGreaterThanOrEqual(1);
    expect(spec.port).toBeLessThanOrEqual(65535);
    expect(spec.protocol).toBe("tcp");
    expect(spec.description.length).toBeGreaterThan(0);
  });

  it.each(entries)("%s: clients exactly when cluster-exposed, no duplicates", (_, spec) => {
    if (spec.exposure === "cluster") expect(spec.clients.length).toBeGreaterThan(0);
    else if (spec.exposure !== "local") expect(spec.clients).toEqual([]);
    expect(new Set(spec.clients).size).toBe(spec.clients.length);
  });

  it.each([5000, 5555, 6666, 33333, 24, 3306])("%i is never public", (port) => {
    const specs = entries.filter(([, s]) => s.port === port);
    expect(specs.length).toBeGreaterThan(0);
    for (const [, s] of specs) expect(s.exposure === "public" || s.exposure === "admin").toBe(false);
  });

  it("only the load balancer faces the public and the admins", () => {
    for (const [, s] of entries) {
      if (s.exposure === "public" || s.exposure === "admin") expect(s.server).toBe("load-balancer");
    }
  });

  it("only sshd faces the operator", () => {
    for (const [, s] of entries) if (s.exposure === "operator") expect(s.server).toBe("sshd");
  });

  it("no two cluster-exposed entries share a port and a server daemon", () => {
    const seen = new Map<string, PortKey>();
    for (const [key, s] of entries.filter(([, s]) => s.exposure === "cluster")) {
      const id = `${s.port}/${s.server}`;
      expect(seen.get(id)).toBeUndefined();
      seen.set(id, key);
    }
  });

  it("no two entries share a port and a server daemon at all", () => {
    const ids = entries.map(([, s]) => `${s.port}/${s.server}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("a daemon's own ports do not collide", () => {
    const byServer = new Map<Daemon, number[]>();
    for (const [, s] of entries) byServer.set(s.server, [...(byServer.get(s.server) ?? []), s.port]);
    for (const ports of byServer.values()) expect(new Set(ports).size).toBe(ports.length);
  });

  it("the load balancer's public and admin frontends cover 25, 587, 993, 995, 80, 443 and 8443", () => {
    const frontends = entries.filter(([, s]) => s.server === "load-balancer").map(([, s]) => s.port);
    expect(frontends.sort((a, b) => a - b)).toEqual([25, 80, 443, 587, 993, 995, 8443]);
  });

  it("every public mail frontend has a cluster backend with the same port", () => {
    for (const [front, back] of [
      ["publicSmtp", "smtp"],
      ["publicSubmission", "submission"],
      ["publicImaps", "imaps"],
      ["publicPop3s", "pop3s"],
      ["publicAdmin", "adminWeb"],
    ] as const) {
      expect(PORTS[back].port).toBe(PORTS[front].port);
      expect(PORTS[back].exposure).toBe("cluster");
      expect(PORTS[back].clients).toContain("load-balancer");
    }
  });
});

describe("PORTS matches reference/gromox.md §4", () => {
  it.each([
    ["exmdb", 5000, "gromox-http"],
    ["midb", 5555, "gromox-midb"],
    ["timer", 6666, "gromox-timer"],
    ["event", 33333, "gromox-event"],
    ["deliveryQueue", 24, "gromox-delivery-queue"],
    ["gromoxHttp", 10080, "gromox-http"],
    ["gromoxHttps", 10443, "gromox-http"],
    ["mailboxWeb", 443, "grommunio-web"],
    ["smtp", 25, "postfix"],
    ["submission", 587, "postfix"],
    ["imaps", 993, "gromox-imap"],
    ["pop3s", 995, "gromox-pop3"],
    ["adminWeb", 8443, "grommunio-admin-api"],
    ["mysql", 3306, "mariadb"],
    ["milter", 11332, "rspamd"],
    ["dkimMilter", 8891, "opendkim"],
    ["ssh", 22, "sshd"],
  ] as const)("%s is %i on %s", (key, port, server) => {
    expect(PORTS[key].port).toBe(port);
    expect(PORTS[key].server).toBe(server);
  });

  it("the between-node gromox ports (5000, 5555, 6666, 33333) are cluster-only", () => {
    for (const key of ["exmdb", "midb", "timer", "event"] as const) expect(PORTS[key].exposure).toBe("cluster");
  });

  it("delivery-queue on 24 and the rspamd milter are local to the node (postfix hands over there)", () => {
    expect(PORTS.deliveryQueue).toMatchObject({ exposure: "local", clients: ["postfix"] });
    expect(PORTS.milter).toMatchObject({ exposure: "local", clients: ["postfix"] });
    expect(PORTS.dkimMilter).toMatchObject({ exposure: "local", clients: ["postfix"] });
  });

  it("gromox-http's 10080/10443 are local: only the node's own web server (nginx) reaches them", () => {
    expect(PORTS.gromoxHttp).toMatchObject({ exposure: "local", clients: ["grommunio-web"] });
    expect(PORTS.gromoxHttps).toMatchObject({ exposure: "local", clients: ["grommunio-web"] });
  });

  it("the load balancer sends all HTTP to the mailbox nodes' web server on 443 (nginx + php-fpm, §5)", () => {
    expect(PORTS.mailboxWeb).toMatchObject({ port: 443, exposure: "cluster", clients: ["load-balancer"] });
    expect(ROLE_DAEMONS.mailbox).toContain(PORTS.mailboxWeb.server);
  });

  it("sockets are the documented paths", () => {
    expect(SOCKETS).toMatchObject({
      zcore: "/run/gromox/zcore.sock",
      phpFpm: "/run/gromox/php-fpm.sock",
      adminApi: "/run/grommunio/admin-api.socket",
    });
  });
});

describe("PORTS clients match reference/gromox.md §6 (who needs which allow list)", () => {
  it("exmdb: mailbox (http, midb, zcore), classic (imap, pop3, delivery) and admin (admin-api)", () => {
    expect([...PORTS.exmdb.clients].sort()).toEqual(
      [
        "gromox-http",
        "gromox-midb",
        "gromox-zcore",
        "gromox-imap",
        "gromox-pop3",
        "gromox-delivery",
        "grommunio-admin-api",
      ].sort(),
    );
  });
  it("midb: imap and pop3 (classic nodes)", () => {
    expect([...PORTS.midb.clients].sort()).toEqual(["gromox-imap", "gromox-pop3"]);
  });
  it("event: midb, imap and pop3", () => {
    expect([...PORTS.event.clients].sort()).toEqual(["gromox-imap", "gromox-midb", "gromox-pop3"]);
  });
  it("timer: http and zcore", () => {
    expect([...PORTS.timer.clients].sort()).toEqual(["gromox-http", "gromox-zcore"]);
  });
  it("the hub runs the event and timer servers", () => {
    expect([...HUB_DAEMONS].sort()).toEqual([PORTS.event.server, PORTS.timer.server].sort());
  });
});
