/**
 * THE port table. Every listen address, allow list, load-balancer frontend/backend and firewall
 * rule in this library takes its port number from here; no other file spells a port.
 * Sources: reference/gromox.md §4, §6.
 */

/** Programs that run on nodes. Which node runs which follows from its roles (`daemonsOfRoles`). */
export type Daemon =
  | "gromox-http" // exmdb server, emsmdb, nsp, ews, oxdisco; an exmdb and timer client
  | "gromox-midb" // midb server; an exmdb and event client
  | "gromox-zcore" // PHP-MAPI backend; an exmdb and timer client
  | "gromox-imap" // an exmdb, midb and event client
  | "gromox-pop3" // an exmdb, midb and event client
  | "gromox-delivery" // an exmdb client
  | "gromox-delivery-queue"
  | "gromox-event" // the cluster's one event bus (hub)
  | "gromox-timer" // the cluster's one timer (hub)
  | "grommunio-admin-api" // an exmdb client
  | "grommunio-web" // nginx + php-fpm on mailbox nodes: grommunio-web, -sync, -dav; proxies to the local gromox-http
  | "postfix"
  | "rspamd"
  | "opendkim" // the DKIM signing milter on classic nodes, only with DKIM signing (OPTIONAL_DAEMONS)
  | "load-balancer" // haproxy or nginx on the load-balancer tier
  | "mariadb"
  | "nfs-server"
  | "store-export" // nfs-kernel-server on a share-nothing mailbox node: its maildir roots, for the admin nodes
  | "sshd";

/**
 * Who may reach a port:
 * - `cluster`: only the nodes running one of `clients` (private network; allow lists and
 *   firewall rules are computed from the graph);
 * - `local`: only the node itself (loopback); never opened in a firewall;
 * - `public`: anyone (load-balancer frontends only);
 * - `admin`: only the admin allow list (load-balancer frontend);
 * - `operator`: only the operator's SSH allow list.
 */
export type Exposure = "cluster" | "local" | "public" | "admin" | "operator";

export interface PortSpec {
  readonly port: number;
  readonly protocol: "tcp";
  /** The program that listens. */
  readonly server: Daemon;
  /** The programs that connect (for `cluster` exposure). */
  readonly clients: readonly Daemon[];
  readonly exposure: Exposure;
  readonly description: string;
}

const EXMDB_CLIENTS: readonly Daemon[] = [
  "gromox-http",
  "gromox-midb",
  "gromox-zcore",
  "gromox-imap",
  "gromox-pop3",
  "gromox-delivery",
  "grommunio-admin-api",
];

/** Every port, keyed by a stable name. */
export const PORTS = {
  /** exmdb inside gromox-http; clients always dial 5000 (hard-coded in exmdb_client). */
  exmdb: {
    port: 5000,
    protocol: "tcp",
    server: "gromox-http",
    clients: EXMDB_CLIENTS,
    exposure: "cluster",
    description: "exmdb RPC (mailbox stores)",
  },
  midb: {
    port: 5555,
    protocol: "tcp",
    server: "gromox-midb",
    clients: ["gromox-imap", "gromox-pop3"],
    exposure: "cluster",
    description: "midb (IMAP/POP3 message index)",
  },
  timer: {
    port: 6666,
    protocol: "tcp",
    server: "gromox-timer",
    clients: ["gromox-http", "gromox-zcore"],
    exposure: "cluster",
    description: "timer (delayed send)",
  },
  event: {
    port: 33333,
    protocol: "tcp",
    server: "gromox-event",
    clients: ["gromox-midb", "gromox-imap", "gromox-pop3"],
    exposure: "cluster",
    description: "event bus (IMAP IDLE notifications)",
  },
  /**
   * The mailbox node's web server (nginx): grommunio-web, -sync (ActiveSync) and -dav run there
   * under php-fpm, and it proxies EWS, MAPI/HTTP, RPC/HTTP, OAB and Autodiscover to the node's own
   * gromox-http. The load balancer sends all HTTP here (gromox-http serves no PHP app).
   */
  mailboxWeb: {
    port: 443,
    protocol: "tcp",
    server: "grommunio-web",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "nginx on mailbox nodes (grommunio-web, -sync, -dav; Exchange protocols to gromox-http)",
  },
  /**
   * gromox-http's own ports: only the node's web server (nginx on 443) talks to them, over
   * loopback. No other node needs them (the installer's documentation: "Normally, 10443 need not
   * be exposed to any other hosts"); exmdb, gromox-http's cluster-facing service, has its own port.
   */
  gromoxHttp: {
    port: 10080,
    protocol: "tcp",
    server: "gromox-http",
    clients: ["grommunio-web"],
    exposure: "local",
    description: "gromox-http plain HTTP (loopback, behind the node's nginx)",
  },
  gromoxHttps: {
    port: 10443,
    protocol: "tcp",
    server: "gromox-http",
    clients: ["grommunio-web"],
    exposure: "local",
    description: "gromox-http HTTPS (loopback, behind the node's nginx)",
  },
  deliveryQueue: {
    port: 24,
    protocol: "tcp",
    server: "gromox-delivery-queue",
    clients: ["postfix"],
    exposure: "local",
    description: "gromox-delivery-queue LMTP/SMTP (postfix virtual_transport)",
  },
  smtp: {
    port: 25,
    protocol: "tcp",
    server: "postfix",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "SMTP (postscreen) on classic nodes",
  },
  submission: {
    port: 587,
    protocol: "tcp",
    server: "postfix",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "SMTP submission on classic nodes",
  },
  /**
   * Internal relay on classic nodes: where gromox-http (emsmdb, exmdb rules/OOF) and gromox-zcore
   * on mailbox nodes hand over outgoing mail (`gromox.cfg:outgoing_smtp_url`). A separate smtpd
   * because 25 and 587 expect a PROXY header from the load balancer when PROXY is on, and a
   * direct connection there would hang for 5 s and get `421` (validators.md §9). No PROXY, relay
   * only for the cluster's nodes.
   */
  relay: {
    port: 10025,
    protocol: "tcp",
    server: "postfix",
    clients: ["gromox-http", "gromox-zcore"],
    exposure: "cluster",
    description: "postfix relay for mail submitted by gromox on mailbox nodes (outgoing_smtp_url)",
  },
  imaps: {
    port: 993,
    protocol: "tcp",
    server: "gromox-imap",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "IMAP over TLS on classic nodes",
  },
  pop3s: {
    port: 995,
    protocol: "tcp",
    server: "gromox-pop3",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "POP3 over TLS on classic nodes",
  },
  adminWeb: {
    port: 8443,
    protocol: "tcp",
    server: "grommunio-admin-api",
    clients: ["load-balancer"],
    exposure: "cluster",
    description: "grommunio admin web/API (nginx) on admin nodes",
  },
  mysql: {
    port: 3306,
    protocol: "tcp",
    server: "mariadb",
    clients: [
      "gromox-http",
      "gromox-midb",
      "gromox-zcore",
      "gromox-imap",
      "gromox-pop3",
      "gromox-delivery",
      "gromox-delivery-queue",
      "grommunio-admin-api",
      "postfix",
      "load-balancer",
    ],
    exposure: "cluster",
    description: "MariaDB",
  },
  nfs: {
    port: 2049,
    protocol: "tcp",
    server: "nfs-server",
    clients: ["gromox-http", "gromox-midb", "grommunio-admin-api"],
    exposure: "cluster",
    description: "NFSv4 (shared mailbox storage)",
  },
  storeExport: {
    port: 2049,
    protocol: "tcp",
    server: "store-export",
    clients: ["grommunio-admin-api"],
    exposure: "cluster",
    description: "NFSv4 (a share-nothing mailbox node's store, for the admin API)",
  },
  milter: {
    port: 11332,
    protocol: "tcp",
    server: "rspamd",
    clients: ["postfix"],
    exposure: "local",
    description: "rspamd milter",
  },
  dkimMilter: {
    port: 8891,
    protocol: "tcp",
    server: "opendkim",
    clients: ["postfix"],
    exposure: "local",
    description: "OpenDKIM signing milter (only with DKIM signing)",
  },
  // Load-balancer frontends.
  publicSmtp: {
    port: 25,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "SMTP frontend",
  },
  publicSubmission: {
    port: 587,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "submission frontend",
  },
  publicImaps: {
    port: 993,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "IMAPS frontend",
  },
  publicPop3s: {
    port: 995,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "POP3S frontend",
  },
  publicHttp: {
    port: 80,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "HTTP frontend (redirects to HTTPS)",
  },
  publicHttps: {
    port: 443,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "public",
    description: "HTTPS frontend",
  },
  publicAdmin: {
    port: 8443,
    protocol: "tcp",
    server: "load-balancer",
    clients: [],
    exposure: "admin",
    description: "admin frontend (admin allow list only)",
  },
  ssh: {
    port: 22,
    protocol: "tcp",
    server: "sshd",
    clients: [],
    exposure: "operator",
    description: "SSH (operator allow list only)",
  },
} as const satisfies Record<string, PortSpec>;

export type PortKey = keyof typeof PORTS;

/** Unix sockets (not ports) that configs refer to, also in one place. */
export const SOCKETS = {
  zcore: "/run/gromox/zcore.sock",
  phpFpm: "/run/gromox/php-fpm.sock",
  adminApi: "/run/grommunio/admin-api.socket",
  haproxyStats: "/run/haproxy/admin.sock",
} as const;
