/**
 * What every renderer returns: one file for one node. Renderers are pure functions of the
 * topology (no I/O, no clock, no randomness) and return files sorted by path.
 */
export interface ConfigFile {
  /** Absolute path on the node, e.g. `/etc/gromox/midb.cfg`. */
  readonly path: string;
  /** The file's text; ends with a newline. May hold Terraform tokens (secrets). */
  readonly content: string;
  /** Octal mode as a string, e.g. `"0640"` (cloud-init wants it quoted). */
  readonly mode: string;
  /** `user:group`, e.g. `"grommunio:gromoxcf"`. */
  readonly owner: string;
}

/**
 * The MTA-STS policy site the load-balancer tier serves (RFC 8461): `https://<host>` +
 * `/.well-known/mta-sts.txt` answers `policy` as text/plain. Built by `mtaStsSite` (lib/render/dns)
 * from the same options as the `_mta-sts` TXT record, so the announced id matches the served policy.
 */
export interface MtaStsSite {
  /** `mta-sts.<mail domain>`. */
  readonly host: string;
  /** The policy text (CRLF lines), from `renderMtaStsPolicy`. */
  readonly policy: string;
}

/** Sorts files by path (renderers return them in this order). */
export function sortFiles(files: readonly ConfigFile[]): ConfigFile[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
