/**
 * TLS: self-signed certificates per node by default (tls provider), your own certificate, ACME
 * refused with what is missing (GRX453), bad input refused (GRX454); the certificate and key land
 * exactly where the renderers' configs point, with the right owner and mode; HAProxy, nginx and
 * postfix allow TLS 1.2+ with forward-secret suites only.
 */
import "cdktf/lib/testing/adapters/jest";
import { TerraformVariable, Testing } from "cdktf";
import { GrommunioValidationError, PORTS, Tls, Topology, buildTopology } from "../../lib";
import { certificateNames } from "../../lib/cluster/tls";
import { GROMMUNIO_TLS } from "../../lib/render/gromox";
import { DEFAULT_CERTIFICATE_PATH, TLS12_CIPHERS, TLS13_CIPHERSUITES, renderHaproxy } from "../../lib/render/haproxy";
import { NGINX_DEFAULTS, NGINX_TLS12_CIPHERS, renderNginx } from "../../lib/render/nginx";
import { TLS_CERT_FILE, TLS_KEY_FILE, renderPostfix } from "../../lib/render/postfix";
import { ADMIN_NGINX_SSL_CONF, GROMMUNIO_NGINX_SSL_CONF, needsTls, renderTlsFiles } from "../../lib/render/tls";
import { FAKE_TLS_CERT_PEM, FAKE_TLS_KEY_PEM, Resolver, fakeResolver } from "../platforms/terraform-eval";
import { documentedLayout } from "../fixtures";
import { EXAMPLE_SHAPE, Json, buildShape, deliveredFiles, synthJson, userDataByNode } from "./support";

/** Fake PEMs naming the resource they come from (so a node's files show whose key they hold). */
const namingResolver: Resolver = (ref) => {
  const key = /^tls_private_key\.([^.]+)\.private_key_pem$/.exec(ref);
  if (key) return `-----BEGIN EC PRIVATE KEY-----\nKEY:${key[1]}\n-----END EC PRIVATE KEY-----\n`;
  const cert = /^tls_self_signed_cert\.([^.]+)\.cert_pem$/.exec(ref);
  if (cert) return `-----BEGIN CERTIFICATE-----\nCERT:${cert[1]}\n-----END CERTIFICATE-----\n`;
  return fakeResolver(ref);
};

describe("Tls.selfSigned (the default): one key and certificate per node that serves TLS", () => {
  const { stack, cluster } = buildShape("hcloud", { ...EXAMPLE_SHAPE, admin: "node" });
  const json = synthJson(stack);
  const keys = json.resource.tls_private_key as Record<string, Json>;
  const certs = json.resource.tls_self_signed_cert as Record<string, Json>;
  const topo = cluster.topology;

  test("ECDSA P-256 keys and certificates for every node except the database; the tls provider is declared", () => {
    const serving = topo.nodes.filter((n) => needsTls(n)).map((n) => n.name);
    expect(serving).not.toContain("db1");
    expect(Object.keys(keys)).toHaveLength(serving.length);
    expect(Object.keys(certs)).toHaveLength(serving.length);
    for (const k of Object.values(keys)) expect(k).toEqual({ algorithm: "ECDSA", ecdsa_curve: "P256" });
    expect(json.terraform.required_providers.tls.source).toMatch(/hashicorp\/tls$/);
  });

  test("each certificate covers the public name, autodiscover, autoconfig, mta-sts and its node's host name", () => {
    for (const node of topo.nodes.filter(needsTls)) {
      const [id, cert] = Object.entries(certs).find(([i]) =>
        i.startsWith(`mail_${node.has("load-balancer") ? "lb_" : ""}${node.name}_`),
      )!;
      expect(cert.dns_names).toEqual([
        "mail.example.com",
        node.hostname,
        "autodiscover.example.com",
        "autoconfig.example.com",
        "mta-sts.example.com",
      ]);
      expect(cert.dns_names).toEqual(certificateNames(topo, node));
      expect(cert.subject).toEqual([{ common_name: "mail.example.com", organization: "example.com" }]);
      expect(cert.validity_period_hours).toBe(365 * 24);
      expect(cert.allowed_uses).toEqual(["digital_signature", "server_auth"]);
      // Signed with the same node's key.
      void id;
      expect(String(cert.private_key_pem)).toMatch(
        new RegExp(`^\\$\\{tls_private_key\\.mail_(lb_)?${node.name}_tls-key_[0-9A-F]{8}\\.private_key_pem\\}$`),
      );
    }
  });

  test("certificates set exactly the fields their size bound assumes (selfSignedCertMaxDer): no key ids, not a CA", () => {
    // The user-data bound counts each certificate at selfSignedCertMaxDer, derived from these fields
    // only; set_subject_key_id, set_authority_key_id, is_ca_certificate or more subject fields
    // would make real certificates longer than the bound.
    for (const cert of Object.values(certs)) {
      expect(Object.keys(cert).sort()).toEqual([
        "allowed_uses",
        "dns_names",
        "private_key_pem",
        "subject",
        "validity_period_hours",
      ]);
      expect((cert.subject as Json[]).map((s) => Object.keys(s as object).sort())).toEqual([
        ["common_name", "organization"],
      ]);
    }
  });

  test("installed where the configs point: gromox and postfix share grommunio's pair, the load balancers theirs", () => {
    const uds = userDataByNode(json, namingResolver);
    for (const node of topo.nodes) {
      const { files } = deliveredFiles(uds.get(node.name)!);
      const file = (p: string) => files.find((f) => f.path === p);
      const mine = new RegExp(`^-----BEGIN EC PRIVATE KEY-----\\nKEY:mail_(lb_)?${node.name}_tls-key_`);
      if (node.runs("gromox-http") || node.runs("postfix") || node.runs("grommunio-admin-api")) {
        expect(file(GROMMUNIO_TLS.privateKey)).toMatchObject({ owner: "gromox:gromox", permissions: "0640" });
        expect(file(GROMMUNIO_TLS.privateKey)!.content).toMatch(mine);
        expect(file(GROMMUNIO_TLS.certificate)).toMatchObject({ owner: "root:root", permissions: "0644" });
        expect(file(GROMMUNIO_TLS.certificate)!.content).toMatch(/^-----BEGIN CERTIFICATE-----\nCERT:/);
      }
      if (node.runs("gromox-http")) {
        const http = file("/etc/gromox/http.cfg")!.content;
        expect(http).toContain(`http_certificate_path=${GROMMUNIO_TLS.certificate}`);
        expect(http).toContain(`http_private_key_path=${GROMMUNIO_TLS.privateKey}`);
        expect(file(GROMMUNIO_NGINX_SSL_CONF)!.content).toContain(`ssl_certificate_key ${GROMMUNIO_TLS.privateKey};`);
      }
      if (node.runs("postfix")) {
        const main = file("/etc/postfix/main.cf")!.content;
        expect(main).toMatch(new RegExp(`^smtpd_tls_cert_file = ${TLS_CERT_FILE}$`, "m"));
        expect(main).toMatch(new RegExp(`^smtpd_tls_key_file = ${TLS_KEY_FILE}$`, "m"));
        for (const proto of ["imap", "pop3"]) {
          expect(file(`/etc/gromox/${proto}.cfg`)!.content).toContain(
            `${proto}_private_key_path=${GROMMUNIO_TLS.privateKey}`,
          );
        }
      }
      if (node.runs("grommunio-admin-api")) expect(file(ADMIN_NGINX_SSL_CONF)).toBeDefined();
      if (node.has("load-balancer")) {
        expect(file("/etc/haproxy/haproxy.cfg")!.content).toContain(`crt ${DEFAULT_CERTIFICATE_PATH}`);
        const pem = file(DEFAULT_CERTIFICATE_PATH)!;
        expect(pem).toMatchObject({ owner: "root:root", permissions: "0600" });
        expect(pem.content).toMatch(
          /^-----BEGIN CERTIFICATE-----\nCERT:[^\n]+\n-----END CERTIFICATE-----\n\n?-----BEGIN EC PRIVATE KEY-----\nKEY:/,
        );
        expect(pem.content).toContain(`KEY:mail_lb_${node.name}_tls-key_`);
      }
      if (node.has("database")) expect(files.some((f) => /ssl|proxy\.pem|\.key$/.test(f.path))).toBe(false);
    }
  });

  test("adding a node never changes another node's key or certificate", () => {
    const more = synthJson(buildShape("hcloud", { ...EXAMPLE_SHAPE, admin: "node", mailbox: 4 }).stack);
    for (const type of ["tls_private_key", "tls_self_signed_cert"]) {
      for (const [id, r] of Object.entries<Json>(json.resource[type])) expect(more.resource[type][id]).toEqual(r);
      expect(Object.keys(more.resource[type]).length).toBe(Object.keys(json.resource[type]).length + 1);
    }
  });

  test("extra names and validity are taken; bad ones are GRX454, collected with other construct errors", () => {
    const ok = synthJson(
      buildShape("hcloud", EXAMPLE_SHAPE, {
        tls: Tls.selfSigned({ validityDays: 30, extraNames: ["webmail.example.com"] }),
      }).stack,
    );
    for (const cert of Object.values<Json>(ok.resource.tls_self_signed_cert)) {
      expect(cert.validity_period_hours).toBe(720);
      expect(cert.dns_names).toContain("webmail.example.com");
    }
    const bad = buildShape("hcloud", EXAMPLE_SHAPE, {
      tls: Tls.selfSigned({ validityDays: 0, extraNames: ["Not A Name"] }),
      sshAllowFrom: ["bogus"],
    });
    let error: unknown;
    try {
      Testing.synth(bad.stack);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    const issues = (error as GrommunioValidationError).issues;
    expect(issues.filter((i) => i.code === "GRX454").map((i) => i.field)).toEqual([
      "tls.validityDays",
      "tls.extraNames",
    ]);
    expect(issues.some((i) => i.code === "GRX218")).toBe(true);
  });
});

describe("Tls.certificate: your chain and key on every node", () => {
  test("PEM literals: installed as given, no tls_* resources, and synth warns about the literal key", () => {
    const { stack, cluster } = buildShape("hcloud", EXAMPLE_SHAPE, {
      tls: Tls.certificate({ certificatePem: FAKE_TLS_CERT_PEM, privateKeyPem: FAKE_TLS_KEY_PEM }),
    });
    const json = synthJson(stack);
    expect(json.resource.tls_private_key).toBeUndefined();
    expect(json.resource.tls_self_signed_cert).toBeUndefined();
    const mail1 = cluster.provisioning.get("mail1")!.files;
    expect(mail1.find((f) => f.path === GROMMUNIO_TLS.privateKey)!.content).toBe(FAKE_TLS_KEY_PEM);
    const lb1 = cluster.provisioning.get("lb1")!.files;
    expect(lb1.find((f) => f.path === DEFAULT_CERTIFICATE_PATH)!.content).toBe(FAKE_TLS_CERT_PEM + FAKE_TLS_KEY_PEM);
    const warnings = cluster.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.some((w) => w.includes("the TLS private key is a literal"))).toBe(true);
  });

  test("Terraform references: declared, base64-encoded by Terraform in the user-data (never as plain text)", () => {
    const { stack, cluster } = buildShape(
      "hcloud",
      { ...EXAMPLE_SHAPE, flavor: "nginx", nodeAwareRouting: false },
      (st) => ({
        tls: Tls.certificate({
          certificatePem: new TerraformVariable(st, "tls_certificate", { type: "string" }).stringValue,
          privateKeyPem: new TerraformVariable(st, "tls_private_key", { type: "string", sensitive: true }).stringValue,
          certificateMaxLength: 4096,
          privateKeyMaxLength: 2048,
        }),
      }),
    );
    const json = synthJson(stack);
    const resolve: Resolver = (ref) =>
      ref === "var.tls_certificate"
        ? FAKE_TLS_CERT_PEM
        : ref === "var.tls_private_key"
          ? FAKE_TLS_KEY_PEM
          : fakeResolver(ref);
    for (const [node, text] of userDataByNode(json, resolve)) {
      expect(text).not.toContain("BEGIN EC PRIVATE KEY"); // only inside base64
      const { files } = deliveredFiles(text);
      if (node.startsWith("lb")) {
        expect(files.find((f) => f.path === NGINX_DEFAULTS.certificatePath)).toMatchObject({
          content: FAKE_TLS_CERT_PEM,
          permissions: "0644",
        });
        expect(files.find((f) => f.path === NGINX_DEFAULTS.certificateKeyPath)).toMatchObject({
          content: FAKE_TLS_KEY_PEM,
          owner: "root:root",
          permissions: "0600",
        });
      }
    }
    expect(cluster.secretValues.map((s) => s.id)).toEqual(
      expect.arrayContaining(["tls/certificate", "tls/private-key"]),
    );
  });

  test("on AWS the key goes to SSM (SecureString) and the certificate too (String, for size)", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, (st) => ({
      tls: Tls.certificate({
        certificatePem: new TerraformVariable(st, "tls_certificate", { type: "string" }).stringValue,
        privateKeyPem: new TerraformVariable(st, "tls_private_key", { type: "string", sensitive: true }).stringValue,
      }),
    }));
    const params = Object.values<Json>(synthJson(stack).resource.aws_ssm_parameter);
    expect(params.find((p) => p.name.endsWith("/tls/private-key"))).toMatchObject({
      type: "SecureString",
      value: "${var.tls_private_key}",
    });
    expect(params.find((p) => p.name.endsWith("/tls/certificate"))).toMatchObject({ type: "String" });
  });

  test("not PEM, or an encrypted key: GRX454 for each", () => {
    const { stack } = buildShape("hcloud", EXAMPLE_SHAPE, {
      tls: Tls.certificate({
        certificatePem: "not a certificate",
        privateKeyPem: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n-----END ENCRYPTED PRIVATE KEY-----\n",
        certificateMaxLength: 10,
      }),
    });
    expect(() => Testing.synth(stack)).toThrow(GrommunioValidationError);
    try {
      Testing.synth(stack);
    } catch (e) {
      const issues = (e as GrommunioValidationError).issues.filter((i) => i.code === "GRX454");
      expect(issues.map((i) => i.field)).toEqual([
        "tls.certificatePem",
        "tls.privateKeyPem",
        "tls.certificateMaxLength",
      ]);
      expect(issues[1]!.message).toMatch(/encrypted/);
    }
  });
});

describe("Tls.acme", () => {
  test("is refused with GRX453, saying what is missing and what to do instead", () => {
    const { stack } = buildShape("aws", EXAMPLE_SHAPE, { tls: Tls.acme({ email: "hostmaster@example.com" }) });
    let error: unknown;
    try {
      Testing.synth(stack);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GrommunioValidationError);
    const [issue] = (error as GrommunioValidationError).issues;
    expect(issue).toMatchObject({ code: "GRX453", field: "tls.acme", path: "security-aws/mail" });
    expect(issue!.message).toMatch(/acme-challenge/);
    expect(issue!.message).toMatch(/distribution of the issued certificate/);
    expect(issue!.fix).toMatch(/Tls\.certificate/);
    expect(issue!.fix).toMatch(/DNS-01/);
  });
});

describe("renderTlsFiles (pure)", () => {
  const topo: Topology = buildTopology(documentedLayout());
  const pair = { certificatePem: "CERT", privateKeyPem: "KEY" };
  test("literal PEM texts get a final newline; the database node gets nothing", () => {
    const files = renderTlsFiles(topo, topo.node("classic1"), pair);
    expect(files.map((f) => [f.path, f.content])).toEqual([
      [GROMMUNIO_TLS.certificate, "CERT\n"],
      [GROMMUNIO_TLS.privateKey, "KEY\n"],
    ]);
    expect(renderTlsFiles(topo, topo.node("db1"), pair)).toEqual([]);
    expect(renderTlsFiles(topo, topo.node("lb1"), pair)).toEqual([
      { path: DEFAULT_CERTIFICATE_PATH, content: "CERT\nKEY\n", mode: "0600", owner: "root:root" },
    ]);
  });
});

describe("modern TLS defaults: TLS 1.2 or newer, forward-secret suites only", () => {
  const topo = buildTopology(documentedLayout());
  /** A TLS 1.2 suite name that is forward-secret (ephemeral ECDH) with an AEAD or SHA-2 MAC. */
  const modern12 = /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305|AES(128-SHA256|256-SHA384))$/;

  test("HAProxy: ssl-min-ver TLSv1.2 on binds and servers, ECDHE suites, TLS 1.3 AEAD suites", () => {
    const cfg = renderHaproxy(topo, topo.node("lb1")).find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    expect(cfg).toMatch(/^\s*ssl-default-bind-options ssl-min-ver TLSv1\.2 no-tls-tickets$/m);
    expect(cfg).toMatch(/^\s*ssl-default-server-options ssl-min-ver TLSv1\.2$/m);
    const ciphers = /^\s*ssl-default-bind-ciphers (\S+)$/m.exec(cfg)![1]!.split(":");
    expect(ciphers).toEqual([...TLS12_CIPHERS]);
    for (const c of ciphers) expect(c).toMatch(modern12);
    const suites = /^\s*ssl-default-bind-ciphersuites (\S+)$/m.exec(cfg)![1]!.split(":");
    expect(suites).toEqual([...TLS13_CIPHERSUITES]);
    for (const s of suites) expect(s).toMatch(/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    // Every TLS bind uses the defaults (no per-bind downgrade).
    expect(cfg).not.toMatch(/ssl-min-ver (SSLv3|TLSv1\.[01])\b/);
    expect(cfg).not.toMatch(/force-(sslv3|tlsv10|tlsv11)/);
  });

  test("nginx: ssl_protocols TLSv1.2 TLSv1.3 only, ECDHE AEAD suites", () => {
    const t = buildTopology(
      documentedLayout({
        loadBalancer: { flavor: "nginx", publicName: "mail.gro.at", adminAllowFrom: ["203.0.113.0/24"] },
      }),
    );
    const params = renderNginx(t, t.node("lb1")).find((f) => f.path === "/etc/nginx/ssl_params")!.content;
    expect(params).toMatch(/^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    const ciphers = /^\s*ssl_ciphers (\S+);$/m.exec(params)![1]!.split(":");
    expect(ciphers).toEqual([...NGINX_TLS12_CIPHERS]);
    for (const c of ciphers) expect(c).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    const all = renderNginx(t, t.node("lb1"))
      .map((f) => f.content)
      .join("\n");
    expect(all).not.toMatch(/ssl_protocols[^;]*(SSLv|TLSv1(\.[01])?[ ;])/);
  });

  test("postfix: smtpd TLS 1.2+, no static RSA, PSK, SRP or anonymous suites; submission needs TLS", () => {
    const files = renderPostfix(topo, topo.node("classic1"));
    const main = files.find((f) => f.path === "/etc/postfix/main.cf")!.content;
    const param = (name: string) => new RegExp(`^${name} = (.*)$`, "m").exec(main)?.[1];
    expect(param("smtpd_tls_protocols")).toBe(">=TLSv1.2");
    expect(param("smtpd_tls_mandatory_protocols")).toBe(">=TLSv1.2");
    expect(param("smtp_tls_mandatory_protocols")).toBe(">=TLSv1.2");
    expect(param("smtpd_tls_ciphers")).toBe("high");
    expect(param("smtpd_tls_mandatory_ciphers")).toBe("high");
    expect(param("smtpd_tls_exclude_ciphers")!.split(/,\s*/)).toEqual(["aNULL", "eNULL", "kRSA", "PSK", "SRP"]);
    expect(param("smtpd_tls_auth_only")).toBe("yes");
    const master = files.find((f) => f.path === "/etc/postfix/master.cf")!.content;
    const submission = master.slice(master.indexOf(`\n${PORTS.submission.port} `));
    expect(submission).toMatch(/-o smtpd_tls_security_level=encrypt/);
  });
});
