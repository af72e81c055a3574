/**
 * The readiness report: on every boot, once cloud-init has finished, the node prints to a console
 * what an operator (or a test harness reading the serial log) needs to know whether it came up:
 * `cloud-init status --long`, the failed systemd units (with their last journal lines), the
 * WARNING/ERROR lines of /var/log/cloud-init.log, the end of cloud-init-output.log when something
 * failed, and an end marker with the counts. Started from `bootcmd` as a transient systemd unit
 * that waits for cloud-init (`cloud-init status --wait`), so it never delays or masks a stage.
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

/** The report script (POSIX sh). Argument: the device. */
export const READINESS_SCRIPT = [
  'dev="$1"',
  "cloud-init status --wait >/dev/null 2>&1",
  "host=$(hostname)",
  "status=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p')",
  "failed=$(systemctl list-units --failed --no-legend --plain --no-pager 2>/dev/null | awk '{print $1}')",
  "warnings=$(grep -E '\\[(WARNING|ERROR|CRITICAL)\\]' /var/log/cloud-init.log 2>/dev/null)",
  "nf=$(printf '%s' \"$failed\" | grep -c .)",
  "nw=$(printf '%s' \"$warnings\" | grep -c .)",
  "{",
  `  echo "${READINESS_BEGIN} $host ==="`,
  "  cloud-init status --long 2>&1",
  '  echo "--- failed units ($nf)"',
  '  for u in $failed; do echo "$u"; journalctl -b -u "$u" -n 15 --no-pager 2>&1 | sed "s/^/    /"; done',
  '  echo "--- cloud-init.log warnings and errors ($nw)"',
  '  [ -z "$warnings" ] || printf "%s\\n" "$warnings"',
  '  if [ "$status" != done ] || [ "$nf" -gt 0 ]; then',
  '    echo "--- cloud-init-output.log (last 40 lines)"',
  "    tail -n 40 /var/log/cloud-init-output.log 2>&1",
  "  fi",
  `  echo "${READINESS_END} $host status=$status failed-units=$nf warnings=$nw ==="`,
  '} >"$dev" 2>&1',
].join("\n");

/** The `bootcmd` entry that starts the report (argv, no shell in between). */
export function readinessBootcmd(device: string): string[] {
  return [
    "systemd-run",
    "--no-block",
    `--unit=${READINESS_UNIT}`,
    "--description=grommunio readiness report",
    "sh",
    "-c",
    READINESS_SCRIPT,
    "grommunio-readiness",
    device,
  ];
}
