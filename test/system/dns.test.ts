/**
 * The generated zone against real BIND and a real DKIM verifier: `named-checkzone -i full`
 * accepts the zone files, a `named` we start on 127.0.0.1 (own port) serves them and `dig` returns every
 * record set exactly as rendered, and a message signed with an openssl RSA key (standing in for
 * tls_private_key, whose public half the records carry) verifies with python3-dkim against the
 * key fetched from that server.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildTopology } from "../../lib/topology";
import {
  DnsRecord,
  mailDnsRecords,
  pemBody,
  recordRdata,
  recordsInZone,
  renderZoneFile,
  ZoneFileOptions,
} from "../../lib/render/dns";
import { largeLayout } from "../fixtures";
import { DOCUMENTED_ENTRY, documentedDnsOptions, documentedTopology } from "../dns/fixtures";
import { NamedServer, startNamed } from "./dns-server";
import { requireProgram, run } from "./support";

// named binds only addresses configured on an interface; lo carries 127.0.0.1 (not all of 127/8).
const ADDRESS = "127.0.0.1";
const PYTHON = "/usr/bin/python3";
const NAME_SERVERS: ZoneFileOptions = { nameServers: [{ name: "ns1.gro.at", ipv4: [ADDRESS] }] };

/** The Debian python3 with python3-dkim and python3-dnspython (not a pyenv python earlier in PATH). */
function requireDkimPython(): void {
  const r = fs.existsSync(PYTHON) ? run(PYTHON, ["-c", "import dkim, dns.message, dns.query"]) : undefined;
  if (!r || r.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import dkim and dns (${r?.stderr.trim() ?? "not installed"}). Install them with: ` +
        "apt-get install python3-dkim python3-dnspython (or run scripts/install-system-deps.sh).",
    );
  }
}

function checkzone(zone: string, text: string): { status: number; output: string } {
  const prog = requireProgram("named-checkzone", "bind9-utils");
  const file = path.join(fs.mkdtempSync("/tmp/grx-dns-checkzone-"), `${zone}.zone`);
  try {
    fs.writeFileSync(file, text);
    const r = run(prog, [
      "-i",
      "full",
      "-k",
      "fail",
      "-m",
      "fail",
      "-M",
      "fail",
      "-n",
      "fail",
      "-S",
      "fail",
      zone,
      file,
    ]);
    return { status: r.status, output: (r.stdout + r.stderr).trim() };
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

describe("named-checkzone accepts the generated zone files", () => {
  test("documented layout", () => {
    const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
    const r = checkzone("gro.at", renderZoneFile("gro.at", records, NAME_SERVERS));
    expect(r.output).toBe("zone gro.at/IN: loaded serial 1\nOK");
    expect(r.status).toBe(0);
  });

  test("large layout (two classic nodes, IPv4-only entry, out-of-zone name servers)", () => {
    const topo = buildTopology(largeLayout());
    const records = mailDnsRecords(
      topo,
      { ipv4: ["203.0.113.20", "203.0.113.21"] },
      {
        egress: [
          { node: "classic1", ipv4: "198.51.100.31" },
          { node: "classic2", ipv4: "198.51.100.32" },
        ],
        caa: { issuers: ["letsencrypt.org", "sectigo.com"] },
        mtaSts: { mode: "enforce" },
      },
    );
    const r = checkzone(
      "example.com",
      renderZoneFile("example.com", records, {
        nameServers: ["ns1.example.net", "ns2.example.org"],
        serial: 2025061401,
      }),
    );
    expect(r.output).toBe("zone example.com/IN: loaded serial 2025061401\nOK");
    expect(r.status).toBe(0);
  });

  test("the check is real: a CNAME beside other data is refused", () => {
    const records = mailDnsRecords(documentedTopology(), DOCUMENTED_ENTRY, documentedDnsOptions());
    const text = renderZoneFile("gro.at", records, NAME_SERVERS) + 'autodiscover 3600 IN TXT "x"\n';
    const r = checkzone("gro.at", text);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/CNAME and other data/);
  });
});

describe("a real named serves the zone; DKIM verifies against it", () => {
  let server: NamedServer | undefined;
  let dir: string;
  let records: DnsRecord[];
  let zoneText: string;

  beforeAll(async () => {
    requireProgram("openssl", "openssl");
    requireDkimPython();
    dir = fs.mkdtempSync("/tmp/grx-dns-dkim-");
    // A 2048-bit RSA key in the PKCS#1 form tls_private_key's private_key_pem has, and its
    // SubjectPublicKeyInfo PEM (tls_private_key's public_key_pem).
    const key = path.join(dir, "dkim.pem");
    const pub = path.join(dir, "dkim.pub.pem");
    const gen = run("openssl", ["genrsa", "-traditional", "-out", key, "2048"]);
    if (gen.status !== 0) throw new Error(`openssl genrsa failed: ${gen.stderr}`);
    const out = run("openssl", ["rsa", "-in", key, "-pubout", "-out", pub]);
    if (out.status !== 0) throw new Error(`openssl rsa -pubout failed: ${out.stderr}`);
    // pemBody is the JavaScript twin of the replace() MailDns runs in Terraform on public_key_pem.
    records = mailDnsRecords(
      documentedTopology(),
      DOCUMENTED_ENTRY,
      documentedDnsOptions({ dkim: { selector: "grommunio", publicKey: pemBody(fs.readFileSync(pub, "utf8")) } }),
    );
    zoneText = renderZoneFile("gro.at", recordsInZone(records, "gro.at"), NAME_SERVERS);
    expect(checkzone("gro.at", zoneText).status).toBe(0);
    server = await startNamed(ADDRESS, { "gro.at": zoneText });
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 15_000);

  test("dig returns every record set exactly as rendered", async () => {
    expect(records.length).toBeGreaterThan(20);
    for (const r of records) {
      const answer = await server!.dig(r.name, r.type);
      expect([`${r.name} ${r.type}`, ...answer.sort()]).toEqual([`${r.name} ${r.type}`, ...recordRdata(r).sort()]);
    }
  }, 30_000);

  test("SOA, NS and glue", async () => {
    expect(await server!.dig("gro.at", "SOA")).toEqual(["ns1.gro.at. hostmaster.gro.at. 1 7200 3600 1209600 3600"]);
    expect(await server!.dig("gro.at", "NS")).toEqual(["ns1.gro.at."]);
    expect(await server!.dig("ns1.gro.at", "A")).toEqual([ADDRESS]);
  });

  test("the DKIM key arrives as two character-strings of 255 and 155 bytes", async () => {
    const [txt] = await server!.dig("grommunio._domainkey.gro.at", "TXT");
    const strings = [...txt!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    expect(strings.map((s) => s.length)).toEqual([255, 155]);
    expect(strings.join("")).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA/);
  });

  test("a message signed with the private key verifies with python3-dkim; a tampered one does not", () => {
    const script = path.join(__dirname, "dns-dkim-verify.py");
    const r = run(
      PYTHON,
      [script, server!.address, String(server!.port), path.join(dir, "dkim.pem"), "grommunio", "gro.at"],
      {
        timeoutMs: 30_000,
      },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as {
      verified: boolean;
      tamperedVerified: boolean;
      fetched: { name: string; strings: number[]; text: string }[];
      signature: string;
    };
    expect(result.signature).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]* d=gro\.at;[\s\S]* s=grommunio;/);
    expect(result.verified).toBe(true);
    expect(result.tamperedVerified).toBe(false);
    expect(result.fetched[0]).toMatchObject({ name: "grommunio._domainkey.gro.at.", strings: [255, 155] });
    const record = records.find((x) => x.name === "grommunio._domainkey.gro.at")!;
    expect(record.type === "TXT" && record.values[0]!.text).toBe(result.fetched[0]!.text);
  });
});
