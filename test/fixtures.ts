/**
 * Cluster inputs shared by tests: the documented 3-node layout (seed: mail1/mail2/mail3.gro.at at
 * 10.10.10.20/.30/.40) and a larger layout with 5 mailbox and 2 classic nodes.
 */
import { ClusterInput } from "../lib/topology";

/** The documented layout, plus the classic, LB, admin and database nodes it implies. */
export function documentedLayout(overrides: Partial<ClusterInput> = {}): ClusterInput {
  return {
    domain: "gro.at",
    gromoxVersion: "3.10",
    storage: "shared",
    network: { cidr: "10.10.10.0/24" },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: {
      flavor: "haproxy",
      publicName: "mail.gro.at",
      nodeAwareRouting: true,
      adminAllowFrom: ["203.0.113.0/24"],
    },
    nodes: [
      { name: "mail1", hostname: "mail1.gro.at", roles: ["mailbox", "admin"], ipv4: "10.10.10.20", serverId: 1 },
      { name: "mail2", hostname: "mail2.gro.at", roles: ["mailbox"], ipv4: "10.10.10.30", serverId: 2 },
      { name: "mail3", hostname: "mail3.gro.at", roles: ["mailbox"], ipv4: "10.10.10.40", serverId: 3 },
      { name: "classic1", hostname: "classic1.gro.at", roles: ["classic"], ipv4: "10.10.10.50" },
      { name: "lb1", hostname: "lb1.gro.at", roles: ["load-balancer"], ipv4: "10.10.10.10" },
      { name: "db1", hostname: "db1.gro.at", roles: ["database"], ipv4: "10.10.10.60" },
    ],
    ...overrides,
  };
}

/** Five mailbox nodes (ids with a gap), two classic nodes, two LBs, a separate admin node. */
export function largeLayout(overrides: Partial<ClusterInput> = {}): ClusterInput {
  return {
    domain: "example.com",
    gromoxVersion: "3.10",
    storage: "share-nothing",
    network: { cidr: "10.20.0.0/24" },
    database: { node: "db1", password: "db-secret" },
    loadBalancer: { flavor: "haproxy", publicName: "mail.example.com", adminAllowFrom: ["198.51.100.0/24"] },
    nodes: [
      ...[1, 2, 3, 4, 6].map((i) => ({
        name: `mail${i}`,
        hostname: `mail${i}.int.example.com`,
        roles: ["mailbox" as const],
        ipv4: `10.20.0.${10 + i}`,
        serverId: i,
      })),
      { name: "classic1", hostname: "classic1.int.example.com", roles: ["classic"], ipv4: "10.20.0.31" },
      { name: "classic2", hostname: "classic2.int.example.com", roles: ["classic"], ipv4: "10.20.0.32" },
      { name: "admin1", hostname: "admin1.int.example.com", roles: ["admin"], ipv4: "10.20.0.41" },
      { name: "lb1", hostname: "lb1.int.example.com", roles: ["load-balancer"], ipv4: "10.20.0.5" },
      { name: "lb2", hostname: "lb2.int.example.com", roles: ["load-balancer"], ipv4: "10.20.0.6" },
      { name: "db1", hostname: "db1.int.example.com", roles: ["database"], ipv4: "10.20.0.50" },
    ],
    ...overrides,
  };
}

/** An account a rendered database bootstrap creates (password as SQL gives it, unescaped). */
export interface BootstrapAccount {
  readonly user: string;
  readonly host: string;
  readonly password: string;
}

const SQL_UNESCAPES: Readonly<Record<string, string>> = { "0": "\0", n: "\n", r: "\r", Z: "\x1a" };

/**
 * The accounts of `renderDatabaseBootstrap`'s SQL, in order: each account name's addresses (the
 * JSON list `SET @grx_…_hosts = '[…]'`), its password (`SET @grx_password = QUOTE('…')`) and
 * the statement that builds the accounts (`… QUOTE('<user>') …`).
 */
export function bootstrapAccounts(sql: string): BootstrapAccount[] {
  const out: BootstrapAccount[] = [];
  let hosts: string[] = [];
  let password = "";
  for (const line of sql.split("\n")) {
    const h = /^SET @grx_\w+_hosts = '(\[[^']*\])';$/.exec(line);
    if (h) {
      hosts = JSON.parse(h[1]!) as string[];
      continue;
    }
    const p = /^SET @grx_password = QUOTE\('((?:[^'\\]|''|\\.)*)'\);$/.exec(line);
    if (p) {
      password = p[1]!.replace(/''|\\(.)/g, (all, c?: string) => (all === "''" ? "'" : (SQL_UNESCAPES[c!] ?? c!)));
      continue;
    }
    const u = /^SELECT GROUP_CONCAT\(CONCAT\(QUOTE\('([^']+)'\)/.exec(line);
    if (u) for (const host of hosts) out.push({ user: u[1]!, host, password });
  }
  return out;
}

/**
 * The addresses of an nftables `ip saddr` match (`{ a, b-c }` or one element): IPv4 ranges
 * `a-b` (the serializer writes runs of consecutive addresses so) expanded, other elements as they are.
 */
export function nftAddresses(match: string): string[] {
  const num = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  return match
    .replace(/[{}]/g, "")
    .split(",")
    .map((a) => a.trim())
    .flatMap((a) => {
      const r = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)$/.exec(a);
      if (!r) return [a];
      const out: string[] = [];
      for (let n = num(r[1]!); n <= num(r[2]!); n++) out.push(ip(n));
      return out;
    });
}

/**
 * Valid database and user names (letters, digits, _) that a YAML 1.1 reader (PyYAML) takes for
 * booleans or numbers when they are written plain: on/off/yes/no in any of its cases, 1_000
 * (digit separators), 0b1 (binary), 0x1F, 0755, 1e3. The last pair is the plain default.
 */
export const YAML11_AMBIGUOUS_NAMES: ReadonlyArray<readonly [name: string, user: string]> = [
  ["on", "yes"],
  ["no", "off"],
  ["1_000", "0b1"],
  ["0x1F", "0755"],
  ["1e3", "123"],
  ["Off", "TRUE"],
  ["grommunio", "grommunio"],
];

/** Every printable ASCII character, `!` (0x21) to `~` (0x7e), in order: no blank at either end. */
export const PRINTABLE_ASCII = Array.from({ length: 0x7e - 0x20 }, (_, i) => String.fromCharCode(0x21 + i)).join("");

/**
 * A real ASCII-armored OpenPGP public key (ed25519, no expiry; its private half was discarded), as
 * `gpg --armor --export` writes it: for the repository options, whose keys are checked (GRX315).
 */
export const TEST_PUBLIC_KEY =
  [
    "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    "",
    "mDMEawyOeBYJKwYBBAHaRw8BAQdAZ1yLgTXelAaNWeDRAbEaCjB2eHuCav3j84Qy",
    "Axbo3na0M2Nka3RmLWdyb21tdW5pbyB0ZXN0IGtleSA8dGVzdC1rZXlAZXhhbXBs",
    "ZS5pbnZhbGlkPoiQBBMWCAA4FiEExS5XAbergECpRp09xRGWyMiQu98FAmsMjngC",
    "GwMFCwkIBwIGFQoJCAsCBBYCAwECHgECF4AACgkQxRGWyMiQu99R3AD/ZSa/AgbC",
    "xUEIZEoM1VPkzeeqC4BR/qUx269YJX49TcIBAL5dSvl5Iy6VIY0scs8MtmXmNbhj",
    "KTe1hNILD7zFCT4D",
    "=nrDx",
    "-----END PGP PUBLIC KEY BLOCK-----",
  ].join("\n") + "\n";
