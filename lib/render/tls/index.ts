/**
 * The TLS certificate and key files of a node, at the paths the other renderers name (one place
 * each: gromox `GROMMUNIO_TLS`, postfix `TLS_CERT_FILE`/`TLS_KEY_FILE`, HAProxy
 * `DEFAULT_CERTIFICATE_PATH`, nginx `NGINX_DEFAULTS`). Pure: the PEM texts come in (Terraform
 * tokens or literals), files go out.
 *
 * - Nodes running gromox-http, -imap, -pop3, postfix or the admin API: grommunio's pair
 *   (reference/gromox.md §12): `/etc/grommunio-common/ssl/server-bundle.pem` (full chain, 0644)
 *   and `server.key` (`gromox:gromox` 0640: gromox reads it as user gromox; postfix and nginx read
 *   it as root before dropping privileges; nobody else). Where grommunio's nginx runs (mailbox
 *   and admin nodes), `/etc/grommunio-common/nginx/ssl_certificate.conf` points nginx at the pair,
 *   and admin nodes get the same text as `/etc/grommunio-admin-common/nginx-ssl.conf` (the
 *   installer's symlink).
 * - HAProxy load balancers: the one PEM `crt` file (chain, then key), `root:root` 0600: HAProxy
 *   loads it as root before it drops privileges and enters its chroot.
 * - nginx load balancers: the chain (0644) and the key (`root:root` 0600; nginx's master reads it
 *   as root).
 * - Database and NFS nodes: none.
 */
import { ClusterNode, Topology } from "../../topology";
import { GROMMUNIO_TLS } from "../gromox";
import { DEFAULT_CERTIFICATE_PATH } from "../haproxy/options";
import { NGINX_DEFAULTS } from "../nginx/options";
import { ConfigFile, sortFiles } from "../types";

/** A certificate chain (leaf first) and its unencrypted private key, both PEM. */
export interface TlsPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export const GROMMUNIO_NGINX_SSL_CONF = "/etc/grommunio-common/nginx/ssl_certificate.conf";
export const ADMIN_NGINX_SSL_CONF = "/etc/grommunio-admin-common/nginx-ssl.conf";

/** Owner of grommunio's private key (gromox.md §12). */
export const GROMMUNIO_KEY_OWNER = "gromox:gromox";

/** Daemons that use grommunio's certificate pair. */
const GROMMUNIO_TLS_USERS = ["gromox-http", "gromox-imap", "gromox-pop3", "postfix", "grommunio-admin-api"] as const;

/** True when `node` serves TLS and so needs a certificate. */
export function needsTls(node: ClusterNode): boolean {
  return node.runs("load-balancer") || GROMMUNIO_TLS_USERS.some((d) => node.runs(d));
}

/**
 * A literal PEM text ends with a newline; a Terraform token (whose value is unknown here) is taken
 * as it is.
 */
function pemText(pem: string): string {
  return pem.endsWith("\n") || pem.endsWith("}") ? pem : `${pem}\n`;
}

/**
 * Every TLS file of `node`, sorted by path (empty for nodes that serve no TLS). Certificate files
 * hold no secret; key files (and HAProxy's combined PEM) do.
 */
export function renderTlsFiles(topology: Topology, node: ClusterNode, pair: TlsPair): ConfigFile[] {
  const files: ConfigFile[] = [];
  const cert = pemText(pair.certificatePem);
  const key = pemText(pair.privateKeyPem);
  if (GROMMUNIO_TLS_USERS.some((d) => node.runs(d))) {
    files.push(
      { path: GROMMUNIO_TLS.certificate, content: cert, mode: "0644", owner: "root:root" },
      { path: GROMMUNIO_TLS.privateKey, content: key, mode: "0640", owner: GROMMUNIO_KEY_OWNER },
    );
    const nginxConf =
      `# ${node.hostname}: grommunio's certificate for nginx, rendered by cdktf-grommunio.\n` +
      `ssl_certificate ${GROMMUNIO_TLS.certificate};\n` +
      `ssl_certificate_key ${GROMMUNIO_TLS.privateKey};\n`;
    if (node.runs("gromox-http") || node.runs("grommunio-admin-api")) {
      files.push({ path: GROMMUNIO_NGINX_SSL_CONF, content: nginxConf, mode: "0644", owner: "root:root" });
    }
    if (node.runs("grommunio-admin-api")) {
      files.push({ path: ADMIN_NGINX_SSL_CONF, content: nginxConf, mode: "0644", owner: "root:root" });
    }
  }
  const lb = topology.loadBalancer;
  if (lb && node.has("load-balancer")) {
    if (lb.flavor === "haproxy") {
      // Chain, then key, in one file (HAProxy's `crt`). After a token a newline keeps the blocks
      // apart whatever the value ends with (a blank line between PEM blocks is fine).
      const sep = cert.endsWith("\n") ? "" : "\n";
      files.push({ path: DEFAULT_CERTIFICATE_PATH, content: `${cert}${sep}${key}`, mode: "0600", owner: "root:root" });
    } else {
      files.push(
        { path: NGINX_DEFAULTS.certificatePath, content: cert, mode: "0644", owner: "root:root" },
        { path: NGINX_DEFAULTS.certificateKeyPath, content: key, mode: "0600", owner: "root:root" },
      );
    }
  }
  return sortFiles(files);
}
