/**
 * The readiness report: on every boot, once cloud-init has finished, the node prints to a console
 * what an operator (or a test harness reading the serial log) needs to know whether it came up:
 * `cloud-init status --long`, the failed systemd units (with their last journal lines), this
 * boot's WARNING/ERROR/CRITICAL lines of /var/log/cloud-init.log, the end of cloud-init-output.log
 * when something failed, and an end marker with the counts. Started from `bootcmd` as a transient
 * systemd unit (`systemd-run --no-block`), so it never delays or masks a stage.
 *
 * What it waits for: `/run/cloud-init/result.json`, which cloud-init writes when its last stage
 * (modules-final: runcmd, scripts-user) has finished, ok or not (/run is new at every boot); or
 * the end of the boot (`systemctl is-system-running` no longer `initializing`/`starting`: the
 * final stage is part of the boot, so it ended without writing the file); at most
 * READINESS_WAIT_S, checking every READINESS_POLL_S; the report says which of the last two ended
 * the wait. Not `cloud-init status --wait`: cloud-init 22.4 (Debian 12) stops waiting as soon as
 * any stage recorded an error, while the later stages still run (a report at 258 s of a boot
 * that ran until 583 s missed the final stage's failures). Not `systemctl is-system-running
 * --wait` alone (it would return: this Type=simple unit's start job ends at once; but it waits
 * for every other unit of the boot too, without a bound), nor `systemd-run
 * --property=After=cloud-final.service` (no ordering cycle, but cloud-final has TimeoutSec=0: no
 * bound, and nothing would say that it never ended). Works alike on systemd 252 (Debian 12) and
 * 255 (Ubuntu 24.04), whose cloud-init writes result.json the same way.
 *
 * This boot's lines of cloud-init.log (which keeps every boot's): from the last
 * `Cloud-init v. <version> running 'init-local' at …` line (cloud-init's first stage), or from
 * the last `running 'init' at` line not preceded by its boot's init-local (images without
 * cloud-init-local); the whole log when it has neither.
 *
 * The script is not on the unit's command line (READINESS_PATH, `readinessBootcmd`), so systemd's
 * expansion of `${NAME}`, `$$` and escaped `$` there never touches it.
 */

/** Options of the readiness report (`GrommunioClusterProps.readinessReport`). */
export interface ReadinessReportOptions {
  /**
   * Where the report is written.
   * @default "/dev/ttyS0": the first serial port (libvirt's console, a cloud's serial console log)
   */
  readonly device?: string;
}

export const READINESS_DEFAULT_DEVICE = "/dev/ttyS0";
/** The transient unit that prints the report. */
export const READINESS_UNIT = "grommunio-readiness-report";
/** First line: `=== grommunio-readiness begin <hostname> ===`. */
export const READINESS_BEGIN = "=== grommunio-readiness begin";
/** Last line: `=== grommunio-readiness end <hostname> status=<s> failed-units=<n> warnings=<n> ===`. */
export const READINESS_END = "=== grommunio-readiness end";
/** How long the report waits at most for cloud-init's final stage (seconds; beyond runcmd's 1800 s schema wait). */
export const READINESS_WAIT_S = 3600;
/** How often it checks (seconds). */
export const READINESS_POLL_S = 5;
/** The report's line when READINESS_WAIT_S ran out. */
export const READINESS_GAVE_UP = `--- cloud-init not finished: gave up after ${READINESS_WAIT_S} s`;
/** The report's line when the boot ended without cloud-init's final stage finishing. */
export const READINESS_BOOT_OVER = "--- cloud-init not finished: boot over";

const polls = READINESS_WAIT_S / READINESS_POLL_S;
/**
 * cloud-init.log's WARNING/ERROR/CRITICAL lines of this boot (see the module comment): a welcome
 * line of init-local, or of init when not after its boot's init-local (l), starts them afresh.
 */
const bootWarnings =
  'awk \'/Cloud-init v\\. .* running .init(-local)?. at /{if(!l||/-local/)w="";l=/-local/}' +
  ' /\\[(WARNING|ERROR|CRITICAL)\\]/{w=w $0 "\\n"} END{printf "%s",w}\' /var/log/cloud-init.log';

/** The report script (POSIX sh). Argument: the device. */
export const READINESS_SCRIPT = [
  'dev="$1"',
  "r=/run/cloud-init/result.json",
  "n=0 m=",
  "while [ ! -e $r ]; do",
  `  [ $n -lt ${polls} ] || { m="${READINESS_GAVE_UP}"; break; }`,
  "  case $(systemctl is-system-running 2>/dev/null) in",
  `    initializing|starting) sleep ${READINESS_POLL_S}; n=$((n+1));;`,
  `    *) m="${READINESS_BOOT_OVER}"; break;;`,
  "  esac",
  "done",
  "host=$(hostname)",
  "status=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')",
  "failed=$(systemctl list-units --failed --no-legend --plain --no-pager 2>/dev/null | awk '{print $1}')",
  `warnings=$(${bootWarnings} 2>/dev/null)`,
  "nf=$(printf '%s' \"$failed\" | grep -c .)",
  "nw=$(printf '%s' \"$warnings\" | grep -c .)",
  "{",
  `  echo "${READINESS_BEGIN} $host ==="`,
  "  cloud-init status --long 2>&1",
  '  [ -z "$m" ] || echo "$m"',
  '  echo "--- failed units ($nf)"',
  '  for u in $failed; do echo "$u"; journalctl -b -u "$u" -n 15 --no-pager 2>&1 | sed "s/^/    /"; done',
  '  echo "--- cloud-init.log warnings and errors of this boot ($nw)"',
  '  [ -z "$warnings" ] || printf "%s\\n" "$warnings"',
  '  if [ "$status" != "done" ] || [ "$nf" -gt 0 ]; then',
  '    echo "--- cloud-init-output.log (last 40 lines)"',
  "    tail -n 40 /var/log/cloud-init-output.log 2>&1",
  "  fi",
  `  echo "${READINESS_END} $host status=$status failed-units=$nf warnings=$nw ==="`,
  '} >"$dev" 2>&1',
].join("\n");

/** Where `bootcmd` writes the report script at every boot (a tmpfs, new at each boot). */
export const READINESS_PATH = "/run/grommunio-readiness";

/**
 * The `bootcmd` entry that writes the script to READINESS_PATH and starts the report on `device`
 * (argv: cloud-init quotes every word). The transient unit runs `sh READINESS_PATH device`, not
 * `sh -c <script>`: its start waits for basic.target, and systemd 252 re-reads a transient unit
 * from /run/systemd/transient/ at every daemon-reload with its `$` signs left escaped (`\$`), so
 * a script on its command line reached sh mangled when a reload came first (an NFS client
 * installed in bootcmd reloads systemd five times): `Syntax error: "(" unexpected`, no report.
 * Neither the path nor the device (`/^\/[A-Za-z0-9._/-]+$/`, GRX checks) holds a `$`.
 */
export function readinessBootcmd(device: string): string[] {
  return [
    "sh",
    "-c",
    `printf %s "$1" >${READINESS_PATH} && systemd-run --no-block --unit=${READINESS_UNIT} "--description=grommunio readiness report" sh ${READINESS_PATH} "$2"`,
    "grommunio-readiness",
    READINESS_SCRIPT,
    device,
  ];
}
