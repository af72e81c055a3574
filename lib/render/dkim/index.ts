/**
 * DKIM signing on the classic nodes: OpenDKIM (Debian `opendkim`) as a second postfix milter,
 * after rspamd, signing with the key whose public half `MailDns` publishes at
 * `<selector>._domainkey.<domain>`.
 *
 * Why OpenDKIM and not rspamd's `dkim_signing` module, although rspamd already is the first milter:
 * the library renders no rspamd configuration (rspamd runs on Debian's defaults), and OpenDKIM's
 * signing is one small file that `opendkim -n` checks, with a key file of its own; rspamd's
 * module signs only with a key under its own directory and settings spread over its include tree.
 *
 * What is signed (opendkim.conf(5)): mail whose postfix service sets
 * `milter_macro_daemon_name = ORIGINATING` (`MTA ORIGINATING`: submission and the relay port the
 * mailbox nodes submit to) and mail from the node itself (`InternalHosts` loopback: sendmail,
 * bounces). Mail arriving on port 25 is neither, and `Mode s` never verifies (rspamd does).
 *
 * Socket: `inet:<PORTS.dkimMilter>@127.0.0.1`, loopback only. postfix's smtpd runs chrooted on 25
 * and the relay port but not on submission (SASL), and cleanup is chrooted: a TCP socket is
 * reached the same way from all of them, a unix socket path would not be.
 *
 * Pure and deterministic; the key is whatever text `privateKeyPem` holds (a Terraform token in a
 * cluster: the secret delivery replaces it, see lib/cluster/security.ts).
 */
import { ClusterNode, PORTS, Topology } from "../../topology";
import { ConfigFile, sortFiles } from "../types";

/** OpenDKIM's configuration file (Debian's path; its systemd unit reads it). */
export const OPENDKIM_CONF = "/etc/opendkim.conf";
/** Debian's directory for DKIM keys (opendkim:opendkim 0700, created by the package). */
export const OPENDKIM_KEY_DIR = "/etc/dkimkeys";
/** The loopback address the milter listens on and postfix dials. */
export const OPENDKIM_ADDRESS = "127.0.0.1";
/** The postfix milter value of the signing milter (`smtpd_milters`). */
export const OPENDKIM_POSTFIX_MILTER = `inet:${OPENDKIM_ADDRESS}:${PORTS.dkimMilter.port}`;
/** The postfix service name (`milter_macro_daemon_name`) of mail to sign. */
export const ORIGINATING = "ORIGINATING";

/** What the classic nodes sign with. */
export interface DkimSigning {
  /** `d=`: the signing domain (the cluster's mail domain). */
  readonly domain: string;
  /** `s=`: the selector whose TXT record carries the public key. */
  readonly selector: string;
  /** The RSA private key, PEM (a Terraform token in a cluster: `tls_private_key.private_key_pem`). */
  readonly privateKeyPem: string;
}

/** One `Name value` line of opendkim.conf. */
export type OpenDkimSetting = readonly [string, string];

const SETTING_NAME = /^[A-Z][A-Za-z]+$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The key file of a selector. */
export function opendkimKeyFile(selector: string): string {
  return `${OPENDKIM_KEY_DIR}/${selector}.private`;
}

/**
 * True when `domain` and `selector` can be written into opendkim.conf: lower-case DNS labels
 * (`MailDns` has validated both already: the mail domain, GRX432 for the selector).
 */
export function isWritableSigning(signing: Pick<DkimSigning, "domain" | "selector">): boolean {
  const labels = (s: string) => s.split(".").every((l) => LABEL.test(l));
  return labels(signing.domain) && signing.domain.includes(".") && labels(signing.selector);
}

/** The settings of opendkim.conf, in file order. */
export function opendkimSettings(signing: DkimSigning): OpenDkimSetting[] {
  return [
    ["Syslog", "yes"],
    ["SyslogSuccess", "yes"],
    ["UserID", "opendkim"],
    ["UMask", "007"],
    ["PidFile", "/run/opendkim/opendkim.pid"],
    ["Socket", `inet:${PORTS.dkimMilter.port}@${OPENDKIM_ADDRESS}`],
    ["Mode", "s"],
    ["Domain", signing.domain],
    ["Selector", signing.selector],
    ["KeyFile", opendkimKeyFile(signing.selector)],
    ["RequireSafeKeys", "yes"],
    ["SubDomains", "no"],
    ["MTA", ORIGINATING],
    ["InternalHosts", "127.0.0.1,::1"],
    ["Canonicalization", "relaxed/simple"],
    ["SignatureAlgorithm", "rsa-sha256"],
    ["OversignHeaders", "From"],
  ];
}

/** Serializes opendkim.conf: header comments, then one `Name value` line per setting. */
export function serializeOpendkimConf(header: readonly string[], settings: readonly OpenDkimSetting[]): string {
  const seen = new Set<string>();
  const lines = header.map((l) => (l === "" ? "#" : `# ${l}`));
  for (const [name, value] of settings) {
    if (!SETTING_NAME.test(name)) throw new Error(`opendkim.conf: bad setting name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new Error(`opendkim.conf: ${name} is set twice`);
    if (value === "" || /[\s#]/.test(value)) throw new Error(`opendkim.conf: value of ${name} is empty or has blanks`);
    seen.add(name);
    lines.push(`${name} ${value}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The signing milter's files on a classic node (none elsewhere, none without `signing`): the
 * configuration and the key file (opendkim:opendkim 0600; OpenDKIM refuses keys others can read).
 * Throws a plain error on a domain or selector that is not DNS labels (validated before: a bug).
 */
export function renderOpenDkim(topology: Topology, node: ClusterNode, signing?: DkimSigning): ConfigFile[] {
  if (!signing || !node.runs("postfix")) return [];
  if (!isWritableSigning(signing)) {
    throw new Error(`DKIM signing domain/selector not writable: ${signing.domain} / ${signing.selector}`);
  }
  const key = signing.privateKeyPem.endsWith("\n") ? signing.privateKeyPem : `${signing.privateKeyPem}\n`;
  return sortFiles([
    {
      path: OPENDKIM_CONF,
      content: serializeOpendkimConf(
        [
          `${topology.path}: ${node.hostname}, rendered by cdktf-grommunio. Do not edit.`,
          `Signs mail of ${signing.domain} (selector ${signing.selector}) for postfix (${OPENDKIM_POSTFIX_MILTER}).`,
        ],
        opendkimSettings(signing),
      ),
      mode: "0644",
      owner: "root:root",
    },
    { path: opendkimKeyFile(signing.selector), content: key, mode: "0600", owner: "opendkim:opendkim" },
  ]);
}
