/**
 * postfix on classic nodes: main.cf, master.cf, the mysql maps, Cyrus SASL via saslauthd.
 *
 * Mail path (reference/gromox.md §10, §13.10): load balancer → postscreen/smtpd on
 * `PORTS.smtp` → `virtual_transport` = gromox-delivery-queue on `[::1]:PORTS.deliveryQueue` →
 * gromox-delivery → exmdb on the home server.
 *
 * PROXY protocol: both ends come from `topology.loadBalancer.proxyProtocol` (the one declaration
 * the load-balancer renderers read too):
 * - `smtp`: `PORTS.smtp` runs postscreen with `postscreen_upstream_proxy_protocol=haproxy`,
 *   handing over to `smtpd pass` (+ `dnsblog`, `tlsproxy`); otherwise a plain smtpd;
 * - `submission`: `PORTS.submission` gets `smtpd_upstream_proxy_protocol=haproxy`.
 * `PORTS.relay` (mail that gromox on mailbox nodes submits, `outgoing_smtp_url`) never expects
 * PROXY and relays only for those nodes' addresses.
 *
 * inet services are named by port number from the port table (`25`, `587`, `10025`), not by
 * /etc/services names, so the port table stays the one place a port is spelt.
 *
 * SASL (submission only): postfix's Cyrus SASL client (`smtpd_sasl_type = cyrus`,
 * `/etc/postfix/sasl/smtpd.conf`: `pwcheck_method: saslauthd`, PLAIN and LOGIN) asks saslauthd,
 * which authenticates through PAM service `smtp` (`/etc/pam.d/smtp`: `pam_gromox.so`, gromox's
 * own user database; gromox's `pam_gromox(8gx)` incantation). The submission smtpd runs
 * unchrooted so it reaches saslauthd's socket at /run/saslauthd/mux; provisioning installs
 * sasl2-bin, enables saslauthd (MECHANISMS="pam", Debian's default) and adds the `postfix`
 * user to group `sasl`. AUTH is offered only after STARTTLS (`smtpd_tls_auth_only`).
 */
import { ClusterNode, PORTS, Topology, ipv4CidrCover } from "../../topology";
import { ConfigFile, sortFiles } from "../types";
import { MainCfSection, serializeMainCf } from "./main-cf";
import { DEBIAN_DEFAULT_SERVICES, MasterService, serializeMasterCf, svc } from "./master-cf";
import { POSTFIX_MYSQL_MAPS, renderMysqlMap } from "./maps";

export { POSTFIX_MYSQL_MAPS } from "./maps";
export type { MainCfSection, MainCfValue } from "./main-cf";
export type { MasterService, MasterFlag } from "./master-cf";
export { serializeMainCf } from "./main-cf";
export { serializeMasterCf, DEBIAN_DEFAULT_SERVICES } from "./master-cf";

/** The certificate chain and key every grommunio service uses (gromox.md §12). */
export const TLS_CERT_FILE = "/etc/grommunio-common/ssl/server-bundle.pem";
export const TLS_KEY_FILE = "/etc/grommunio-common/ssl/server.key";

/** Where Debian's postfix (and this main.cf, explicitly) looks for `smtpd.conf`. */
export const SASL_CONFIG_DIR = "/etc/postfix/sasl";

/** postfix's compatibility level: 3.6 is the newest (3.7 changed no defaults); valid on 3.6+. */
export const POSTFIX_COMPATIBILITY_LEVEL = "3.6";

/** Loopback only: the relay and local sendmail are allowed through the per-service overrides. */
const MYNETWORKS = ["127.0.0.0/8", "[::1]/128"];

/** True when the load balancer sends PROXY headers to this port (the one declaration). */
function proxied(topology: Topology, port: "smtp" | "submission"): boolean {
  return topology.loadBalancer?.proxyProtocol[port] ?? false;
}

/** What postfix depends on beyond the topology. */
export interface PostfixOptions {
  /**
   * Extra milters after rspamd, in order (e.g. the DKIM signer `OPENDKIM_POSTFIX_MILTER` from
   * lib/render/dkim): signers go last, so they sign what the earlier milters left.
   * @default [] (rspamd only)
   */
  readonly milters?: readonly string[];
}

/** The main.cf sections for a classic node (see `renderPostfix`). */
export function postfixMainSections(
  topology: Topology,
  node: ClusterNode,
  options: PostfixOptions = {},
): MainCfSection[] {
  const milters = [`inet:localhost:${PORTS.milter.port}`, ...(options.milters ?? [])];
  const postscreen = proxied(topology, "smtp");
  const sections: MainCfSection[] = [
    {
      comment: "Debian defaults",
      parameters: [
        ["smtpd_banner", "$myhostname ESMTP $mail_name (Debian/GNU)"],
        ["biff", "no"],
        ["append_dot_mydomain", "no"],
        ["readme_directory", "no"],
        ["compatibility_level", POSTFIX_COMPATIBILITY_LEVEL],
        ["alias_maps", "hash:/etc/aliases"],
        ["alias_database", "hash:/etc/aliases"],
      ],
    },
    {
      comment: "this node; the load balancer's address is never in mynetworks (open relay)",
      parameters: [
        ["myhostname", node.hostname],
        ["mydestination", ["$myhostname", "localhost.$mydomain", "localhost"]],
        ["mynetworks", MYNETWORKS.join(" ")],
        ["inet_interfaces", "all"],
        // IPv6 stays on: virtual_transport dials [::1].
        ["inet_protocols", "all"],
        ["relayhost", ""],
      ],
    },
    {
      comment: "grommunio: recipients from MariaDB (via proxymap), delivery to gromox-delivery-queue",
      parameters: [
        ...POSTFIX_MYSQL_MAPS.map((m): [string, string] => [m.parameter, `proxy:mysql:${m.path}`]),
        ["virtual_transport", `smtp:[::1]:${PORTS.deliveryQueue.port}`],
        ["unverified_recipient_reject_code", 550],
      ],
    },
    {
      comment: "smtpd restrictions",
      parameters: [
        ["smtpd_helo_required", "yes"],
        [
          "smtpd_helo_restrictions",
          [
            "permit_mynetworks",
            "permit_sasl_authenticated",
            "reject_invalid_helo_hostname",
            "reject_non_fqdn_helo_hostname",
          ],
        ],
        ["smtpd_sender_restrictions", ["permit_mynetworks", "permit_sasl_authenticated", "reject_non_fqdn_sender"]],
        ["smtpd_relay_restrictions", ["permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination"]],
        [
          "smtpd_recipient_restrictions",
          [
            "permit_mynetworks",
            "permit_sasl_authenticated",
            "reject_non_fqdn_recipient",
            "reject_unknown_recipient_domain",
            "reject_unauth_destination",
          ],
        ],
        ["smtpd_data_restrictions", "reject_unauth_pipelining"],
        ["smtpd_discard_ehlo_keywords", "chunking"],
        ["disable_vrfy_command", "yes"],
      ],
    },
    {
      comment:
        "TLS: grommunio's certificate; TLS 1.2 or newer; forward-secret key exchange only (no static RSA, PSK or SRP)",
      parameters: [
        ["smtpd_tls_cert_file", TLS_CERT_FILE],
        ["smtpd_tls_key_file", TLS_KEY_FILE],
        ["smtpd_tls_security_level", "may"],
        ["smtpd_tls_auth_only", "yes"],
        ["smtpd_tls_protocols", ">=TLSv1.2"],
        ["smtpd_tls_mandatory_protocols", ">=TLSv1.2"],
        ["smtpd_tls_ciphers", "high"],
        ["smtpd_tls_mandatory_ciphers", "high"],
        ["smtpd_tls_exclude_ciphers", ["aNULL", "eNULL", "kRSA", "PSK", "SRP"]],
        ["smtpd_tls_received_header", "yes"],
        ["smtpd_tls_session_cache_database", "btree:${data_directory}/smtpd_scache"],
        ["smtp_tls_security_level", "may"],
        ["smtp_tls_mandatory_protocols", ">=TLSv1.2"],
        ["smtp_tls_CApath", "/etc/ssl/certs"],
        ["smtp_tls_session_cache_database", "btree:${data_directory}/smtp_scache"],
      ],
    },
    {
      comment: "SASL: Cyrus SASL -> saslauthd -> PAM smtp -> pam_gromox; enabled on submission only",
      parameters: [
        ["smtpd_sasl_type", "cyrus"],
        ["smtpd_sasl_path", "smtpd"],
        ["cyrus_sasl_config_path", SASL_CONFIG_DIR],
        ["smtpd_sasl_auth_enable", "no"],
        ["smtpd_sasl_security_options", ["noanonymous", "noplaintext"]],
        ["smtpd_sasl_tls_security_options", "noanonymous"],
        ["smtpd_sasl_local_domain", ""],
      ],
    },
    {
      comment:
        milters.length > 1
          ? "milters: rspamd, then the DKIM signer; mail is accepted when one is down"
          : "rspamd milter; mail is accepted when rspamd is down",
      parameters: [
        ["smtpd_milters", milters],
        ["non_smtpd_milters", "$smtpd_milters"],
        ["milter_protocol", 6],
        ["milter_default_action", "accept"],
      ],
    },
  ];
  if (postscreen) {
    sections.push({
      comment: "postscreen (the PROXY header is expected in master.cf); no DNSBLs: rspamd checks those",
      parameters: [
        ["postscreen_access_list", "permit_mynetworks"],
        ["postscreen_denylist_action", "drop"],
        ["postscreen_greet_action", "enforce"],
      ],
    });
  }
  return sections;
}

/** The master.cf services for a classic node, Debian's defaults with the inet services replaced. */
export function postfixMasterServices(topology: Topology): MasterService[] {
  const smtp = String(PORTS.smtp.port);
  const inet: MasterService[] = proxied(topology, "smtp")
    ? [
        svc(smtp, "inet", "n", "-", "y", "-", "1", "postscreen", [["postscreen_upstream_proxy_protocol", "haproxy"]]),
        svc("smtpd", "pass", "-", "-", "y", "-", "-", "smtpd"),
        svc("dnsblog", "unix", "-", "-", "y", "-", "0", "dnsblog"),
        svc("tlsproxy", "unix", "-", "-", "y", "-", "0", "tlsproxy"),
      ]
    : [svc(smtp, "inet", "n", "-", "y", "-", "-", "smtpd")];
  const submission: Array<[string, string]> = [
    ["syslog_name", "postfix/submission"],
    ...(proxied(topology, "submission") ? [["smtpd_upstream_proxy_protocol", "haproxy"] as [string, string]] : []),
    ["smtpd_tls_security_level", "encrypt"],
    ["smtpd_sasl_auth_enable", "yes"],
    ["smtpd_tls_auth_only", "yes"],
    ["smtpd_reject_unlisted_recipient", "no"],
    ["smtpd_relay_restrictions", "permit_sasl_authenticated,reject"],
    ["milter_macro_daemon_name", "ORIGINATING"],
  ];
  // Unchrooted: Cyrus SASL dials saslauthd's socket outside the chroot.
  inet.push(svc(String(PORTS.submission.port), "inet", "n", "-", "n", "-", "-", "smtpd", submission));
  // Exactly the relay clients' addresses, consecutive ones as CIDR blocks (user-data bytes).
  const relayClients = ipv4CidrCover(topology.clientsOf("relay").map((n) => n.ipv4));
  if (relayClients.length > 0) {
    inet.push(
      svc(String(PORTS.relay.port), "inet", "n", "-", "y", "-", "-", "smtpd", [
        ["syslog_name", "postfix/relay"],
        ["mynetworks", relayClients.join(",")],
        ["smtpd_client_restrictions", "permit_mynetworks,reject"],
        ["smtpd_relay_restrictions", "permit_mynetworks,reject"],
        ["smtpd_recipient_restrictions", "permit_mynetworks,reject"],
        ["milter_macro_daemon_name", "ORIGINATING"],
      ]),
    );
  }
  return [...inet, ...DEBIAN_DEFAULT_SERVICES];
}

/**
 * Every postfix file of a classic node (empty unless `node.runs("postfix")`), sorted by path:
 * - `/etc/postfix/main.cf`: the complete file (`postfixMainSections`);
 * - `/etc/postfix/master.cf`: Debian 12's default services with the smtp line replaced, never
 *   duplicated, plus submission and the relay (`postfixMasterServices`);
 * - the four mysql maps (`POSTFIX_MYSQL_MAPS`), root:postfix 0640: they hold the DB password;
 * - `/etc/postfix/sasl/smtpd.conf` and `/etc/pam.d/smtp` (see the module comment).
 */
export function renderPostfix(topology: Topology, node: ClusterNode, options: PostfixOptions = {}): ConfigFile[] {
  if (!node.runs("postfix")) return [];
  const banner = `${topology.path}: ${node.hostname}, rendered by cdktf-grommunio. Do not edit.`;
  const pp = topology.loadBalancer?.proxyProtocol;
  const files: ConfigFile[] = [
    {
      path: "/etc/postfix/main.cf",
      content: serializeMainCf([banner], postfixMainSections(topology, node, options)),
      mode: "0644",
      owner: "root:root",
    },
    {
      path: "/etc/postfix/master.cf",
      content: serializeMasterCf(
        [
          banner,
          "Debian 12's default master.cf with its smtp line replaced (never a second one);",
          `PROXY from the load balancer: smtp ${pp?.smtp ? "yes" : "no"}, submission ${pp?.submission ? "yes" : "no"}.`,
        ],
        postfixMasterServices(topology),
      ),
      mode: "0644",
      owner: "root:root",
    },
    ...POSTFIX_MYSQL_MAPS.map((m) => ({
      path: m.path,
      content: renderMysqlMap(topology.database, m.query, `${m.parameter} for ${node.hostname}; holds the DB password`),
      mode: "0640",
      owner: "root:postfix",
    })),
    {
      path: `${SASL_CONFIG_DIR}/smtpd.conf`,
      content: "pwcheck_method: saslauthd\nmech_list: PLAIN LOGIN\n",
      mode: "0644",
      owner: "root:root",
    },
    {
      path: "/etc/pam.d/smtp",
      content: "#%PAM-1.0\nauth required pam_gromox.so service=smtp\naccount required pam_permit.so\n",
      mode: "0644",
      owner: "root:root",
    },
  ];
  return sortFiles(files);
}
