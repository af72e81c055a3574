/**
 * The accounts that own gromox's data, created with fixed ids at first boot before any package is
 * installed (`NodeProvisioning.accounts`). Files on NFS (the NFS node's export, EFS, the
 * share-nothing store exports) travel with numeric ids (NFSv4 with AUTH_SYS); the packages would
 * create these accounts with ids chosen at install time (gromox: systemd-sysusers
 * `u gromox - "Gromox services"`; system-user-gromox/-grommunio: `g gromoxcf -`,
 * `u grommunio - …`, or `useradd -r` in their pre-install scripts), which differ between nodes
 * that install other packages (an admin node, a mailbox node). With the accounts already there,
 * the packages' `getent … || useradd`/`groupadd` and systemd-sysusers keep them as they are.
 */
import { IssueCollector, ValidationIssue } from "../topology";
import type { PinnedAccount } from "./model";

/** The ids of the accounts that own gromox's data (`GrommunioClusterProps.accountIds`). */
export interface AccountIds {
  /**
   * uid of the user `gromox` (the gromox daemons) and gid of its group `gromox` (the mail store's
   * group).
   * @default 470
   */
  readonly gromox?: number;
  /**
   * gid of the group `gromoxcf` (may read /etc/gromox).
   * @default 471
   */
  readonly gromoxcf?: number;
  /**
   * uid of the user `grommunio` (the admin API, which creates the stores) and gid of its group
   * `grommunio`.
   * @default 472
   */
  readonly grommunio?: number;
}

/**
 * The defaults: the middle of Debian's dynamically allocated system range (100–999, Debian
 * Policy 9.2.2), away from both ends where ids are handed out (adduser --system upward from 100,
 * useradd -r and systemd-sysusers downward from 999; an image and a node's packages take a few
 * dozen at either end). Below 100 and from 60000 the ids are Debian's static ones; from 1000 they
 * are people's (cloud-init's default user is 1000), and systemd treats such ids as users', not
 * services'.
 */
export const DEFAULT_ACCOUNT_IDS: Required<AccountIds> = { gromox: 470, gromoxcf: 471, grommunio: 472 };
/** The range `accountIds` may use (Debian's dynamically allocated system ids). */
export const ACCOUNT_ID_RANGE = { min: 100, max: 999 } as const;

/** The ids with the defaults filled in. */
export function resolveAccountIds(ids: AccountIds = {}): Required<AccountIds> {
  return { ...DEFAULT_ACCOUNT_IDS, ...Object.fromEntries(Object.entries(ids).filter(([, v]) => v !== undefined)) };
}

/** GRX318 (an id outside 100–999, not an integer), GRX319 (two names on one id). */
export function validateAccountIds(path: string, ids: AccountIds | undefined): ValidationIssue[] {
  const c = new IssueCollector();
  const all = resolveAccountIds(ids);
  for (const [name, id] of Object.entries(all)) {
    if (!Number.isInteger(id) || id < ACCOUNT_ID_RANGE.min || id > ACCOUNT_ID_RANGE.max) {
      c.add(
        "GRX318",
        path,
        `accountIds.${name}`,
        `${id} is not an id from ${ACCOUNT_ID_RANGE.min} to ${ACCOUNT_ID_RANGE.max} (Debian's dynamically allocated system ids).`,
        `Give an integer from ${ACCOUNT_ID_RANGE.min} to ${ACCOUNT_ID_RANGE.max}, e.g. the default ${DEFAULT_ACCOUNT_IDS[name as keyof AccountIds]}.`,
      );
    }
  }
  const byId = new Map<number, string[]>();
  for (const [name, id] of Object.entries(all)) byId.set(id, [...(byId.get(id) ?? []), name]);
  for (const [id, names] of byId) {
    if (names.length > 1) {
      c.add(
        "GRX319",
        path,
        "accountIds",
        `${names.join(" and ")} have the same id ${id}: each names a group, and two groups cannot share a gid.`,
        "Give each of gromox, gromoxcf and grommunio its own id.",
      );
    }
  }
  return [...c.issues];
}

/** The accounts to create, groups first (a user's primary group must exist), each user in its own group. */
export function pinnedAccounts(ids: AccountIds = {}): PinnedAccount[] {
  const all = resolveAccountIds(ids);
  return [
    { kind: "group", name: "gromox", id: all.gromox },
    { kind: "group", name: "gromoxcf", id: all.gromoxcf },
    { kind: "group", name: "grommunio", id: all.grommunio },
    { kind: "user", name: "gromox", id: all.gromox },
    { kind: "user", name: "grommunio", id: all.grommunio },
  ];
}

/**
 * The check of the first-boot step (POSIX sh): `a DB NAME ID` requires that the id names that
 * account (`getent DB ID` starts with `NAME:`; names are unique, so NAME then has that id), else
 * it prints what is wrong and exits 1: in cloud-init's bootcmd script (the step stands there as
 * lines, not in a child shell) that ends bootcmd before the NFS client's packages and the data
 * mounts, and cloud-init reports the module as failed (the readiness report's status `error`).
 */
export const ACCOUNTS_CHECK =
  'a(){ case $(getent $1 $3) in $2:*);;*)echo "grommunio: $1 $2 must have id $3 (accountIds), stopping">&2;exit 1;esac;}';

/**
 * The first-boot step (on every boot, idempotent), as `bootcmd` script lines (not argv: its
 * `exit 1` must end cloud-init's bootcmd script):
 * 1. `systemd-sysusers --inline` creates what is missing as the packages' sysusers files would
 *    (system accounts, home `/`, `nologin`, locked; groups before users; `u NAME ID` makes the
 *    namesake group with the same id) and leaves existing accounts alone;
 * 2. `ACCOUNTS_CHECK` for every account: an account that already existed with another id, or an
 *    id another name holds (sysusers then picks another id, silently), fails here.
 */
export function accountsBootcmd(accounts: readonly PinnedAccount[]): string {
  const users = accounts.filter((a) => a.kind === "user");
  for (const u of users) {
    if (!accounts.some((g) => g.kind === "group" && g.name === u.name && g.id === u.id)) {
      throw new Error(`pinned user ${u.name} needs its namesake group with the same id (${u.id})`);
    }
  }
  const sysusers = [
    ...accounts
      .filter((g) => g.kind === "group" && !users.some((u) => u.name === g.name))
      .map((g) => `g ${g.name} ${g.id}`),
    ...users.map((u) => `u ${u.name} ${u.id}`),
  ];
  const calls = accounts.map((a) => `a ${a.kind === "group" ? "group" : "passwd"} ${a.name} ${a.id}`);
  return [`systemd-sysusers --inline '${sysusers.join("' '")}'`, ACCOUNTS_CHECK, calls.join(";")].join("\n");
}
