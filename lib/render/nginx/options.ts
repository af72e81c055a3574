/**
 * Options of the nginx renderer and their production defaults (Debian 12's nginx package).
 */

import type { MtaStsSite } from "../types";

/** Options of `renderNginx`. Every default is what a production load-balancer node needs. */
export interface NginxOptions {
  /**
   * Serve the MTA-STS policy: a 443 server for `host` answers `/.well-known/mta-sts.txt` with the
   * policy (`/etc/nginx/mta-sts.txt`, text/plain). Build it with `mtaStsSite` from the options the
   * DNS records use (`GrommunioCluster.dns` does). The certificate must name `host`.
   * @default undefined: no MTA-STS policy is served
   */
  readonly mtaSts?: MtaStsSite;
  /**
   * The address every `listen` binds to.
   * @default undefined: all IPv4 addresses (`listen 443`), plus all IPv6 addresses
   * (`listen [::]:443`, IPv6-only) when the node has an IPv6 address. Tests give a loopback
   * address (e.g. `127.0.0.10`) so load balancer, backends and clients share one machine.
   */
  readonly bindAddress?: string;
  /**
   * PEM certificate chain of the public name for the HTTPS (443) and admin (8443) servers. Not
   * rendered here (it comes from ACME or the operator's secret store) but it must exist before
   * nginx starts: `nginx -t` opens it.
   * @default "/etc/nginx/proxy.pem" (the upstream documentation's path)
   */
  readonly certificatePath?: string;
  /**
   * PEM private key of `certificatePath`.
   * @default "/etc/nginx/proxy.key" (the upstream documentation's path)
   */
  readonly certificateKeyPath?: string;
  /**
   * nginx's pid file.
   * @default "/run/nginx.pid": Debian's nginx.service reads exactly this path (`PIDFile=`), so
   * production must keep it; tests that run a private nginx give a scratch path
   */
  readonly pidFile?: string;
  /**
   * Error log (main level; also the stream servers' log).
   * @default "/var/log/nginx/error.log" (Debian's logrotate rotates /var/log/nginx/*.log)
   */
  readonly errorLog?: string;
  /**
   * HTTP access log.
   * @default "/var/log/nginx/access.log" (Debian's logrotate rotates /var/log/nginx/*.log)
   */
  readonly accessLog?: string;
  /**
   * `worker_connections` per worker. Each proxied request holds two connections (client and
   * backend), so this is twice the concurrent clients a worker serves. `worker_rlimit_nofile` is
   * derived from it (`nginxFdLimitFor`), so nginx never warns that the connections exceed the
   * descriptor limit.
   * @default 8192 (Debian's 768 is far too few for long-polling Outlook, EAS and IMAP IDLE clients)
   */
  readonly workerConnections?: number;
  /**
   * The unprivileged user of the worker processes.
   * @default "www-data" (Debian's nginx user; owner of /var/lib/nginx)
   */
  readonly user?: string;
}

export const NGINX_DEFAULTS = {
  certificatePath: "/etc/nginx/proxy.pem",
  certificateKeyPath: "/etc/nginx/proxy.key",
  pidFile: "/run/nginx.pid",
  errorLog: "/var/log/nginx/error.log",
  accessLog: "/var/log/nginx/access.log",
  workerConnections: 8192,
  user: "www-data",
} as const;

/** Upper bound of `workerConnections`: its descriptor limit must stay below the kernel's default `fs.nr_open`. */
export const MAX_WORKER_CONNECTIONS = 500_000;

/** Descriptors beyond one per connection: listeners, log files, the pid file, resolver sockets. */
export const NGINX_FD_HEADROOM = 1024;

/** `worker_rlimit_nofile` for a `worker_connections` value. */
export function nginxFdLimitFor(workerConnections: number): number {
  return workerConnections + NGINX_FD_HEADROOM;
}

export interface ResolvedNginxOptions {
  readonly mtaSts?: MtaStsSite;
  readonly bindAddress?: string;
  readonly certificatePath: string;
  readonly certificateKeyPath: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly accessLog: string;
  readonly workerConnections: number;
  readonly fdLimit: number;
  readonly user: string;
}

/** Fills in the defaults. */
export function resolveNginxOptions(o: NginxOptions = {}): ResolvedNginxOptions {
  const workerConnections = o.workerConnections ?? NGINX_DEFAULTS.workerConnections;
  return {
    ...(o.mtaSts !== undefined ? { mtaSts: o.mtaSts } : {}),
    ...(o.bindAddress !== undefined ? { bindAddress: o.bindAddress } : {}),
    certificatePath: o.certificatePath ?? NGINX_DEFAULTS.certificatePath,
    certificateKeyPath: o.certificateKeyPath ?? NGINX_DEFAULTS.certificateKeyPath,
    pidFile: o.pidFile ?? NGINX_DEFAULTS.pidFile,
    errorLog: o.errorLog ?? NGINX_DEFAULTS.errorLog,
    accessLog: o.accessLog ?? NGINX_DEFAULTS.accessLog,
    workerConnections,
    fdLimit: nginxFdLimitFor(workerConnections),
    user: o.user ?? NGINX_DEFAULTS.user,
  };
}
