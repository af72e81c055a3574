/**
 * A minimal SMTP client for system tests: optional PROXY protocol v1 header first, replies parsed
 * into code + lines, STARTTLS. Enough to talk to a sandboxed postfix (postfix-sandbox.ts) directly
 * or through a load balancer on loopback.
 */
import * as net from "node:net";
import * as tls from "node:tls";

export interface SmtpReply {
  readonly code: number;
  /** Text of each reply line without the code and separator. */
  readonly lines: readonly string[];
}

export interface SmtpConnectOptions {
  /** Source address of the TCP connection (e.g. a loopback address standing for a node). */
  readonly localAddress?: string;
  /** Sent before anything else, e.g. `proxyV1Header(...)` or `proxyV2Header(...)`. */
  readonly preamble?: string | Buffer;
  /** Per-reply timeout. @default 10000 */
  readonly timeoutMs?: number;
}

/** `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (PROXY protocol v1, as HAProxy `send-proxy`). */
export function proxyV1Header(src: string, dst: string, srcPort: number, dstPort: number): string {
  return `PROXY TCP4 ${src} ${dst} ${srcPort} ${dstPort}\r\n`;
}

/** A PROXY protocol v2 header (PROXY command, TCP over IPv4), as an AWS NLB or HAProxy `send-proxy-v2` sends it. */
export function proxyV2Header(src: string, dst: string, srcPort: number, dstPort: number): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const addresses = Buffer.alloc(12);
  src.split(".").forEach((o, i) => addresses.writeUInt8(Number(o), i));
  dst.split(".").forEach((o, i) => addresses.writeUInt8(Number(o), 4 + i));
  addresses.writeUInt16BE(srcPort, 8);
  addresses.writeUInt16BE(dstPort, 10);
  // version 2 + PROXY, AF_INET + STREAM, 12 address bytes
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0x00, 0x0c]), addresses]);
}

export class SmtpClient {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = "";
  private waiter: (() => void) | undefined;
  private closed = false;
  private readonly timeoutMs: number;

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.attach(socket);
  }

  /** Connects and sends the preamble; read the greeting with `reply()`. */
  static connect(host: string, port: number, opts: SmtpConnectOptions = {}): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        const client = new SmtpClient(socket, opts.timeoutMs ?? 10_000);
        if (opts.preamble) socket.write(opts.preamble);
        resolve(client);
      });
    });
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buffer += d;
      this.waiter?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on("error", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  /** Reads one complete (possibly multi-line) reply; rejects on timeout or a closed connection. */
  async reply(): Promise<SmtpReply> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed) return parsed;
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no complete reply within ${this.timeoutMs} ms; got ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  private take(): SmtpReply | undefined {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf("\r\n", offset);
      if (end < 0) return undefined;
      const line = this.buffer.slice(offset, end);
      offset = end + 2;
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) throw new Error(`not an SMTP reply line: ${JSON.stringify(line)}`);
      lines.push(m[3]!);
      if (m[2] === " ") {
        this.buffer = this.buffer.slice(offset);
        return { code: Number(m[1]), lines };
      }
    }
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** STARTTLS, then the TLS handshake (certificate not verified). Returns the TLS socket. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const r = await this.command("STARTTLS");
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.code} ${r.lines.join(" | ")}`);
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, rejectUnauthorized: false, ...options }, () => resolve(s));
      s.once("error", reject);
    });
    this.socket = secure;
    this.buffer = "";
    this.attach(secure);
    return secure;
  }

  /** Sends QUIT (best effort) and closes. */
  async close(): Promise<void> {
    if (!this.closed) {
      try {
        await this.command("QUIT");
      } catch {
        // closing anyway
      }
    }
    this.socket.destroy();
  }
}
