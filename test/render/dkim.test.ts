/**
 * The DKIM signing milter (lib/render/dkim): opendkim.conf line by line, the key file, the postfix
 * milter lines, only on classic nodes and only when signing is configured; provisioning adds the
 * package and the unit (before postfix) with the files.
 */
import { buildTopology } from "../../lib/topology";
import {
  DkimSigning,
  OPENDKIM_CONF,
  OPENDKIM_POSTFIX_MILTER,
  opendkimKeyFile,
  renderOpenDkim,
  serializeOpendkimConf,
} from "../../lib/render/dkim";
import { renderNodeFiles } from "../../lib/render/node";
import { renderPostfix } from "../../lib/render/postfix";
import { provisionNode } from "../../lib/provision";
import { documentedLayout, largeLayout } from "../fixtures";

const KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n";
const SIGNING: DkimSigning = { domain: "gro.at", selector: "grommunio", privateKeyPem: KEY };

/** The documented layout with the load balancers' map reader account (its ops files need it). */
const topology = () =>
  buildTopology(
    documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret" } }),
  );

function mainCfValue(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name} = (.*)$`, "m").exec(text);
  return m?.[1];
}

describe("renderOpenDkim", () => {
  test("opendkim.conf: exact lines (sign only, the cluster's domain and selector, loopback socket)", () => {
    const t = topology();
    const conf = renderOpenDkim(t, t.node("classic1"), SIGNING).find((f) => f.path === OPENDKIM_CONF)!;
    expect(conf).toMatchObject({ mode: "0644", owner: "root:root" });
    expect(conf.content.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual([
      "Syslog yes",
      "SyslogSuccess yes",
      "UserID opendkim",
      "UMask 007",
      "PidFile /run/opendkim/opendkim.pid",
      "Socket inet:8891@127.0.0.1",
      "Mode s",
      "Domain gro.at",
      "Selector grommunio",
      "KeyFile /etc/dkimkeys/grommunio.private",
      "RequireSafeKeys yes",
      "SubDomains no",
      "MTA ORIGINATING",
      "InternalHosts 127.0.0.1,::1",
      "Canonicalization relaxed/simple",
      "SignatureAlgorithm rsa-sha256",
      "OversignHeaders From",
    ]);
  });

  test("the key file: opendkim:opendkim 0600 under /etc/dkimkeys, the key as given, newline-terminated", () => {
    const t = topology();
    const key = renderOpenDkim(t, t.node("classic1"), { ...SIGNING, privateKeyPem: KEY.trimEnd() }).find(
      (f) => f.path === opendkimKeyFile("grommunio"),
    )!;
    expect(key).toEqual({
      path: "/etc/dkimkeys/grommunio.private",
      content: KEY,
      mode: "0600",
      owner: "opendkim:opendkim",
    });
  });

  test("nothing without signing, nothing on nodes without postfix", () => {
    const t = topology();
    expect(renderOpenDkim(t, t.node("classic1"))).toEqual([]);
    for (const n of ["mail1", "mail2", "mail3", "lb1", "db1"])
      expect(renderOpenDkim(t, t.node(n), SIGNING)).toEqual([]);
  });

  test("every classic node gets the files (large layout)", () => {
    const t = buildTopology(largeLayout());
    const classic = t.classicNodes.map((n) => n.name);
    expect(classic.length).toBeGreaterThan(1);
    for (const n of t.nodes) {
      const paths = renderNodeFiles(t, n, { dkimSigning: SIGNING }).map((f) => f.path);
      expect(paths.includes(OPENDKIM_CONF)).toBe(classic.includes(n.name));
      expect(paths.includes("/etc/dkimkeys/grommunio.private")).toBe(classic.includes(n.name));
    }
  });

  test("the serializer refuses a value with blanks, a bad name, a setting twice", () => {
    expect(() => serializeOpendkimConf([], [["Domain", "gro at"]])).toThrow(/blanks/);
    expect(() => serializeOpendkimConf([], [["domain", "gro.at"]])).toThrow(/bad setting name/);
    expect(() =>
      serializeOpendkimConf(
        [],
        [
          ["Mode", "s"],
          ["Mode", "sv"],
        ],
      ),
    ).toThrow(/twice/);
    const t = topology();
    expect(() => renderOpenDkim(t, t.node("classic1"), { ...SIGNING, selector: "Bad Selector" })).toThrow();
  });
});

describe("postfix milters", () => {
  test("with signing: rspamd, then OpenDKIM on loopback; accept when a milter is down", () => {
    const t = topology();
    const main = renderNodeFiles(t, t.node("classic1"), { dkimSigning: SIGNING }).find(
      (f) => f.path === "/etc/postfix/main.cf",
    )!.content;
    expect(OPENDKIM_POSTFIX_MILTER).toBe("inet:127.0.0.1:8891");
    expect(mainCfValue(main, "smtpd_milters")).toBe("inet:localhost:11332, inet:127.0.0.1:8891");
    expect(mainCfValue(main, "non_smtpd_milters")).toBe("$smtpd_milters");
    expect(mainCfValue(main, "milter_default_action")).toBe("accept");
    expect(main).toContain("# milters: rspamd, then the DKIM signer; mail is accepted when one is down\n");
  });

  test("without signing: rspamd only (main.cf unchanged)", () => {
    const t = topology();
    const plain = renderPostfix(t, t.node("classic1")).find((f) => f.path === "/etc/postfix/main.cf")!.content;
    expect(mainCfValue(plain, "smtpd_milters")).toBe("inet:localhost:11332");
    expect(renderNodeFiles(t, t.node("classic1")).find((f) => f.path === "/etc/postfix/main.cf")!.content).toBe(plain);
  });

  test("the submission and relay services mark their mail ORIGINATING (what OpenDKIM signs)", () => {
    const t = topology();
    const master = renderPostfix(t, t.node("classic1")).find((f) => f.path === "/etc/postfix/master.cf")!.content;
    const originating = master.split("\n").filter((l) => /milter_macro_daemon_name=ORIGINATING/.test(l));
    expect(originating).toHaveLength(2);
  });
});

describe("provisioning", () => {
  const provisioned = (name: string, signing?: DkimSigning) => {
    const t = topology();
    const node = t.node(name);
    return provisionNode({
      topology: t,
      node,
      files: renderNodeFiles(t, node, signing ? { dkimSigning: signing } : {}),
      os: "debian-12",
      mounts: [],
    }).provisioning;
  };

  test("opendkim package and unit on a signing classic node, started before postfix", () => {
    const p = provisioned("classic1", SIGNING);
    expect(p.packages).toContain("opendkim");
    expect(p.services.indexOf("opendkim")).toBeGreaterThan(p.services.indexOf("rspamd"));
    expect(p.services.indexOf("opendkim")).toBeLessThan(p.services.indexOf("postfix"));
    const key = p.files.find((f) => f.path === "/etc/dkimkeys/grommunio.private")!;
    expect(key).toMatchObject({ stage: "late", mode: "0600", owner: "opendkim:opendkim" });
  });

  test("no opendkim without signing, nor on other nodes", () => {
    for (const [name, signing] of [
      ["classic1", undefined],
      ["mail1", SIGNING],
      ["lb1", SIGNING],
    ] as const) {
      const p = provisioned(name, signing);
      expect(p.packages).not.toContain("opendkim");
      expect(p.services).not.toContain("opendkim");
    }
  });
});
