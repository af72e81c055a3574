/**
 * A real BIND `named` on a loopback address serving zone files we generate: own config, own
 * working directory (outside the jest TMPDIR, which other jest runs may remove), foreground
 * (`-f -c`), no rndc, no recursion. `stop()` ends the process and removes the directory.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { requireProgram } from "./support";

export interface NamedServer {
  readonly address: string;
  readonly port: number;
  readonly dir: string;
  /** `dig @address -p port +short +norec name type`, lines of the answer. */
  dig(name: string, type: string): Promise<string[]>;
  /** The server's log (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A port free for both TCP and UDP on `address`. */
async function freePort(address: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once("error", reject);
      s.listen(0, address, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket("udp4");
      u.once("error", () => resolve(false));
      u.bind(port, address, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error(`no free port on ${address}`);
}

function exec(
  cmd: string,
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Starts named serving `zones` (zone name → zone file text) and waits until it answers SOA queries. */
export async function startNamed(address: string, zones: Record<string, string>): Promise<NamedServer> {
  const named = requireProgram("named", "bind9");
  const dig = requireProgram("dig", "bind9-dnsutils");
  const dir = fs.mkdtempSync("/tmp/grx-dns-named-");
  const port = await freePort(address);
  const zoneStanzas = Object.keys(zones)
    .sort()
    .map((z) => {
      fs.writeFileSync(path.join(dir, `${z}.zone`), zones[z]!);
      return `zone "${z}" { type primary; file "${path.join(dir, `${z}.zone`)}"; };`;
    });
  const conf = [
    "options {",
    `  directory "${dir}";`,
    `  pid-file "${dir}/named.pid";`,
    `  session-keyfile "${dir}/session.key";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port ${port} { ${address}; };`,
    "  listen-on-v6 { none; };",
    "  recursion no;",
    "  dnssec-validation no;",
    "  notify no;",
    "};",
    "controls { };",
    "logging {",
    `  channel file_log { file "${dir}/named.log"; severity info; print-time yes; };`,
    "  category default { file_log; };",
    "};",
    ...zoneStanzas,
    "",
  ].join("\n");
  const confFile = path.join(dir, "named.conf");
  fs.writeFileSync(confFile, conf);
  const child: ChildProcess = spawn(named, ["-f", "-c", confFile, "-n", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d) => (output += String(d)));
  child.stderr?.on("data", (d) => (output += String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const log = () => {
    const file = path.join(dir, "named.log");
    return output + (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "");
  };
  const digLines = async (name: string, type: string) => {
    const r = await exec(dig, [
      `@${address}`,
      "-p",
      String(port),
      "+short",
      "+norec",
      "+time=2",
      "+tries=1",
      name,
      type,
    ]);
    if (r.status !== 0) throw new Error(`dig ${name} ${type} failed (${r.status}): ${r.stdout}${r.stderr}`);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  const first = Object.keys(zones).sort()[0]!;
  for (;;) {
    if (child.exitCode !== null) {
      const l = log();
      await stop();
      throw new Error(`named exited with ${child.exitCode}:\n${l}`);
    }
    try {
      if ((await digLines(first, "SOA")).length > 0) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const l = log();
      await stop();
      throw new Error(`named did not answer within 15 s:\n${l}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { address, port, dir, dig: digLines, log, stop };
}
