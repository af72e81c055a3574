/**
 * The cluster network of the VM tests: a learning Ethernet switch on host loopback for qemu's
 * `-netdev socket,connect=127.0.0.1:<port>` (each frame is a 4-byte big-endian length and the frame).
 * qemu's own socket netdev links exactly two guests; this joins any number, without bridges, tap
 * devices or root network changes on the host.
 */
import * as net from "node:net";

export interface Hub {
  readonly port: number;
  /** Frames forwarded so far. */
  readonly frames: () => number;
  close(): Promise<void>;
}

export async function startHub(): Promise<Hub> {
  const peers = new Set<net.Socket>();
  const macs = new Map<string, net.Socket>();
  let frames = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    peers.add(sock);
    let buf = Buffer.alloc(0);
    sock.on("data", (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        const packet = buf.subarray(0, 4 + len);
        buf = buf.subarray(4 + len);
        if (len < 14) continue;
        frames++;
        const dst = packet.subarray(4, 10).toString("hex");
        const src = packet.subarray(10, 16).toString("hex");
        macs.set(src, sock);
        const out = Buffer.from(packet);
        const known = macs.get(dst);
        if (known && known !== sock && !known.destroyed) known.write(out);
        else for (const p of peers) if (p !== sock && !p.destroyed) p.write(out);
      }
    });
    const drop = () => {
      peers.delete(sock);
      for (const [mac, s] of macs) if (s === sock) macs.delete(mac);
    };
    sock.on("close", drop);
    sock.on("error", drop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    frames: () => frames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of peers) p.destroy();
        server.close(() => resolve());
      }),
  };
}
