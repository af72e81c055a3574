/**
 * gromox version gates, in one place (reference/gromox.md §2).
 */

/** Oldest gromox this library generates for: PROXY v2 switches (`*_accept_haproxy`) need 2.30. */
export const OLDEST_GROMOX = "2.30";
/** Newest gromox whose configuration this library was checked against (tag gromox-3.10). */
export const NEWEST_GROMOX = "3.10";

export interface GromoxVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** As given, e.g. `3.10` or `3.5.1`. */
  readonly text: string;
}

/** Parses `M.m` or `M.m.p`; undefined when the text is not such a version. */
export function parseGromoxVersion(text: string): GromoxVersion | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?$/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text };
}

export function compareVersions(a: GromoxVersion, b: GromoxVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function atLeast(v: GromoxVersion, text: string): boolean {
  return compareVersions(v, parseGromoxVersion(text)!) >= 0;
}

/** True when the version is within [OLDEST_GROMOX, NEWEST_GROMOX] (patch levels of NEWEST included). */
export function isKnownGromoxVersion(v: GromoxVersion): boolean {
  const newest = parseGromoxVersion(NEWEST_GROMOX)!;
  return atLeast(v, OLDEST_GROMOX) && (v.major < newest.major || (v.major === newest.major && v.minor <= newest.minor));
}

/** What a gromox version means for the files we generate. */
export interface GromoxFeatures {
  /**
   * 3.5+: `exmdb_listen`, `midb_listen`, `http_listen(_tls)`, `imap_listen(_tls)`,
   * `pop3_listen(_tls)`, `lda_listen` in gromox.cfg. Below: `listen_ip`/`*_listen_port` keys in
   * each program's own file.
   */
  readonly listenInGromoxCfg: boolean;
  /** Below 3.6 the multi-server map comes from `exmdb_list.txt`; from 3.6 only from SQL. */
  readonly exmdbListTxt: boolean;
}

export function gromoxFeatures(v: GromoxVersion): GromoxFeatures {
  return {
    listenInGromoxCfg: atLeast(v, "3.5"),
    exmdbListTxt: !atLeast(v, "3.6"),
  };
}
