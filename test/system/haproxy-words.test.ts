/**
 * What the running HAProxy (not only `haproxy -c`) makes of two things the renderer controls:
 *
 * - a quoted word holding `$`: HAProxy expands `$NAME`/`${NAME}` from its environment inside
 *   double quotes and refuses `$` before anything else, so the serializer escapes it (`\$`);
 * - a `log` socket path: HAProxy runs chrooted (/var/lib/haproxy in the generated global
 *   section) and looks the socket up inside the chroot, so only /dev/log (which Debian's unit
 *   binds there) reaches syslog; another path loses every line (GRX113).
 *
 * Each run starts haproxy in the foreground on a free loopback port with a minimal config and
 * stops it (and the log receiver) before returning.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { buildTopology } from "../../lib/topology";
import { renderHaproxy, serializeHaproxyConfig, validateHaproxy } from "../../lib/render/haproxy";
import { documentedLayout } from "../fixtures";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { requireProgram, run, scratchDir } from "./support";

jest.setTimeout(60_000);

let port = 0;
let haproxy = "";
let curl = "";
let python = "";

beforeAll(async () => {
  haproxy = requireProgram("haproxy", "haproxy");
  curl = requireProgram("curl", "curl");
  python = requireProgram("python3", "python3");
  port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
});

/** Receives one datagram on a unix socket (or times out) and prints it. */
const RECEIVER = `import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); s.settimeout(float(sys.argv[2]))
try:
    print("GOT " + s.recv(4096).decode("utf8", "replace"))
except socket.timeout:
    print("NOTHING")
`;

/**
 * Starts haproxy on `config` (and, when `socket` is given, a receiver there first), sends one
 * request, stops everything; returns the response headers, what the receiver got, and haproxy's
 * own output.
 */
function once(config: string, env: Record<string, string>, socket?: string) {
  const dir = ownScratchDir("haproxy-words");
  try {
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), config);
    fs.writeFileSync(path.join(dir, "rx.py"), RECEIVER);
    const script = [
      "set -u",
      "rx=; hp=",
      'trap \'[ -n "$hp" ] && kill "$hp" 2>/dev/null; [ -n "$rx" ] && kill "$rx" 2>/dev/null; true\' EXIT',
      ...(socket
        ? [
            `"${python}" "$1/rx.py" '${socket}' 4 > "$1/rx.out" 2>&1 & rx=$!`,
            `i=0; while [ ! -S '${socket}' ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`,
          ]
        : []),
      `"${haproxy}" -db -f "$1/haproxy.cfg" > "$1/haproxy.out" 2>&1 & hp=$!`,
      `i=0; until "${curl}" -s -D "$1/headers" -o /dev/null http://127.0.0.1:${port}/ || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done`,
      ...(socket ? ['wait "$rx"; rx='] : []),
      'kill "$hp"; wait "$hp"; hp=',
    ].join("\n");
    const r = run("sh", ["-c", script, "sh", dir], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
    const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), "utf8") : "");
    return { status: r.status, headers: read("headers"), received: read("rx.out"), haproxy: read("haproxy.out") };
  } finally {
    removeScratchDir(dir);
  }
}

/** `haproxy -c` on `text` (written to a scratch file): its output. */
function check(text: string, env: Record<string, string> = {}): string {
  const file = path.join(scratchDir("haproxy-words-check"), "haproxy.cfg");
  fs.writeFileSync(file, text);
  const r = run(haproxy, ["-c", "-f", file], { env: { ...process.env, ...env } });
  return r.stdout + r.stderr;
}

const DEFAULTS = [
  "defaults",
  "    mode http",
  "    timeout client 5s",
  "    timeout server 5s",
  "    timeout connect 5s",
];

describe("a quoted word with $ reaches HAProxy literally", () => {
  test("set by the serializer: the header HAProxy answers is the word as given, not the environment's", () => {
    const values = ["price $GRX_PROBE each", "${GRX_PROBE} and $1 and $", 'quote " and \\ too'];
    const cfg = serializeHaproxyConfig({
      sections: [
        { kind: "global", directives: [] },
        {
          kind: "defaults",
          directives: DEFAULTS.slice(1).map((l) => ({
            keyword: l.trim().split(" ")[0]!,
            args: l.trim().split(" ").slice(1),
          })),
        },
        {
          kind: "frontend",
          name: "fe",
          mode: "http",
          binds: [{ address: `127.0.0.1:${port}` }],
          httpRequest: [
            {
              action: ["return", "status", "200", ...values.flatMap((v, i) => ["hdr", `x-probe-${i}`, v])],
            },
          ],
          defaultBackend: "be",
        },
        { kind: "backend", name: "be", mode: "http", servers: [{ name: "s1", address: "127.0.0.1", port: 9 }] },
      ],
    });
    expect(check(cfg)).toMatch(/Configuration file is valid/);
    const r = once(cfg, { GRX_PROBE: "EXPANDED" });
    expect(r.headers).toMatch(/^HTTP\/1\.1 200/);
    values.forEach((v, i) => expect(r.headers).toContain(`x-probe-${i}: ${v}\r\n`));
    // Unescaped, the same words would be expanded or refused:
    const raw = cfg.replace(/\\\$/g, "$");
    expect(check(raw)).toMatch(/forbidden first char in environment variable name/);
  });
});

describe("log socket paths under HAProxy's chroot (GRX113)", () => {
  test("the generated global section is chrooted; only /dev/log inside the chroot receives the lines", () => {
    const topo = buildTopology(documentedLayout());
    const cfg = renderHaproxy(topo, topo.node("lb1")).find((f) => f.path === "/etc/haproxy/haproxy.cfg")!.content;
    expect(cfg).toMatch(/\nglobal\n {4}log \/dev\/log local0\n {4}chroot \/var\/lib\/haproxy\n/);
    const chroot = ownScratchDir("haproxy-chroot");
    try {
      fs.mkdirSync(path.join(chroot, "dev"));
      const outside = path.join(chroot, "syslog.sock");
      const config = (target: string) =>
        [
          "global",
          `    log ${target} local0`,
          `    chroot ${chroot}`,
          ...DEFAULTS,
          "    log global",
          "    option httplog",
          "frontend fe",
          `    bind 127.0.0.1:${port}`,
          "    http-request return status 200",
          "",
        ].join("\n");
      // /dev/log as the node has it: the socket inside the chroot (Debian binds /dev/log there).
      const inside = once(config("/dev/log"), {}, path.join(chroot, "dev/log"));
      expect(inside.headers).toMatch(/^HTTP\/1\.1 200/);
      expect(inside.received).toMatch(/^GOT <134>.*haproxy\[\d+\]: 127\.0\.0\.1:\d+ .*fe fe\/<NOSRV>/);
      // Any other socket path: the receiver listens there, HAProxy looks inside the chroot.
      expect(validateHaproxy(topo, topo.node("lb1"), { logTarget: outside }).map((i) => i.code)).toEqual(["GRX113"]);
      const lost = once(config(outside), {}, outside);
      expect(lost.headers).toMatch(/^HTTP\/1\.1 200/);
      expect(lost.received).toBe("NOTHING\n");
      expect(lost.haproxy).toMatch(/sendmsg\(\)\/writev\(\) failed in logger #1: No such file or directory/);
    } finally {
      removeScratchDir(chroot);
    }
  });
});
