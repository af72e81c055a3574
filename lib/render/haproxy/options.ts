/**
 * Options of the HAProxy renderer, their production defaults, and the derived limits.
 */

import type { MtaStsSite } from "../types";

/** Options of `renderHaproxy`. Every default is what a production load-balancer node needs. */
export interface HaproxyOptions {
  /**
   * Serve the MTA-STS policy: `https://<host>/.well-known/mta-sts.txt` answers the policy
   * (`http-request return … file /etc/haproxy/mta-sts.txt`). Build it with `mtaStsSite` from the
   * options the DNS records use (`GrommunioCluster.dns` does), so the served policy is the one the
   * `_mta-sts` TXT record announces. The certificate must name `host`.
   * @default undefined: no MTA-STS policy is served
   */
  readonly mtaSts?: MtaStsSite;
  /**
   * The address every frontend binds to.
   * @default undefined: all IPv4 addresses (`bind :443`), plus all IPv6 addresses
   * (`bind :::443 v6only`) when the node has an IPv6 address. Tests give a loopback address
   * (e.g. `127.0.0.10`) so several load balancers and backends share one machine.
   */
  readonly bindAddress?: string;
  /**
   * PEM file with the public certificate chain and its private key for the HTTPS and admin
   * frontends. It is not rendered here (it comes from ACME or the operator's secret store) but
   * must exist before HAProxy starts (`haproxy -c` opens it).
   * @default "/etc/haproxy/proxy.pem" (the upstream documentation's path)
   */
  readonly certificatePath?: string;
  /**
   * Global `maxconn`. `ulimit-n` and the systemd `LimitNOFILE` are derived from it
   * (`fdLimitFor`): each proxied connection holds two descriptors (client and server).
   * @default 40000 (the documentation's 80000 needs `ulimit-n` 165000; 40000 keeps the limit near
   * 82k, which fits the kernel default `fs.nr_open` of 1048576 many times over)
   */
  readonly maxConnections?: number;
  /**
   * Silently drop every HTTP/1.0 request (`http-request silent-drop if HTTP_1.0`), as the
   * upstream documentation does.
   * @default false: HTTP/1.0 clients (health checkers, old scripts) get answers; dropping them
   * gives those clients an empty reply and no hint why
   */
  readonly dropHttp10?: boolean;
  /**
   * CA bundle to verify the backends' TLS certificates with (`ssl verify required ca-file …
   * verifyhost <server name>`; mailbox, admin and TLS pool members are checked against their
   * server name, so their certificates must name it).
   * @default undefined: `ssl verify none`. The backends are reached on the private network by
   * address, and grommunio's installer gives the nodes a self-signed certificate; traffic
   * stays encrypted, the peer is not authenticated. Give a CA once the nodes carry certificates
   * for their internal host names.
   */
  readonly backendCaFile?: string;
  /**
   * syslog target of the `log` line: `/dev/log`, `stdout`, `stderr`, an IPv4 address with an
   * optional port (`192.0.2.10:514`, optionally `udp@`), or `udp6@<IPv6>:<port>`. HAProxy runs
   * chrooted in /var/lib/haproxy, so any other socket path would be looked up there (GRX113).
   * @default "/dev/log" (Debian's unit binds it into the chroot at /var/lib/haproxy/dev/log)
   */
  readonly logTarget?: string;
}

export const DEFAULT_CERTIFICATE_PATH = "/etc/haproxy/proxy.pem";
export const DEFAULT_MAX_CONNECTIONS = 40000;
export const DEFAULT_LOG_TARGET = "/dev/log";
/** Kernel default `fs.nr_open`: systemd cannot set `LimitNOFILE` above it. */
export const NR_OPEN_DEFAULT = 1048576;
/** Descriptors beyond two per connection: listeners, health checks, stats socket, logs, resolvers. */
export const FD_HEADROOM = 1000;

/** `ulimit-n` (= systemd `LimitNOFILE`) for a `maxconn`: two descriptors per connection plus headroom. */
export function fdLimitFor(maxConnections: number): number {
  return 2 * maxConnections + FD_HEADROOM;
}

/** The largest `maxConnections` whose descriptor limit stays within `fs.nr_open`'s default. */
export const MAX_MAX_CONNECTIONS = Math.floor((NR_OPEN_DEFAULT - FD_HEADROOM) / 2);

export interface ResolvedHaproxyOptions {
  readonly mtaSts?: MtaStsSite;
  readonly bindAddress?: string;
  readonly certificatePath: string;
  readonly maxConnections: number;
  readonly fdLimit: number;
  readonly dropHttp10: boolean;
  readonly backendCaFile?: string;
  readonly logTarget: string;
}

export function resolveHaproxyOptions(o: HaproxyOptions = {}): ResolvedHaproxyOptions {
  const maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  return {
    ...(o.mtaSts !== undefined ? { mtaSts: o.mtaSts } : {}),
    ...(o.bindAddress !== undefined ? { bindAddress: o.bindAddress } : {}),
    certificatePath: o.certificatePath ?? DEFAULT_CERTIFICATE_PATH,
    maxConnections,
    fdLimit: fdLimitFor(maxConnections),
    dropHttp10: o.dropHttp10 ?? false,
    ...(o.backendCaFile !== undefined ? { backendCaFile: o.backendCaFile } : {}),
    logTarget: o.logTarget ?? DEFAULT_LOG_TARGET,
  };
}
