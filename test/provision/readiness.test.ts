/**
 * The readiness report's script (READINESS_SCRIPT) run with dash against stand-ins on PATH:
 * `cloud-init` (status from a file), `systemctl` (is-system-running and the failed units from
 * files), `journalctl`, `hostname`, and `sleep`, which returns at once, counts its calls and runs
 * the case's step for that call (cloud-init's final stage finishing, the boot ending), so the
 * waits take no time. cloud-init's files (result.json, cloud-init.log, cloud-init-output.log) are
 * scratch files: their paths in the script are replaced, nothing else is. The log cases run
 * with mawk (what Debian and Ubuntu images have) and gawk where installed.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  READINESS_BEGIN,
  READINESS_BOOT_OVER,
  READINESS_PATH,
  READINESS_END,
  READINESS_GAVE_UP,
  READINESS_POLL_S,
  READINESS_SCRIPT,
  READINESS_UNIT,
  READINESS_WAIT_S,
  readinessBootcmd,
} from "../../lib";

const HOST = "mail2.example.com";
const RESULT = "/run/cloud-init/result.json";
const LOG = "/var/log/cloud-init.log";
const OUTPUT_LOG = "/var/log/cloud-init-output.log";

/** A cloud-init 22.4 log line (05_logging.cfg's format; welcome lines as cmd/main.py's WELCOME_MSG_TPL). */
const line = (level: string, text: string, file = "util.py") => `2026-11-30 09:00:00,000 - ${file}[${level}]: ${text}`;
const welcome = (stage: string) =>
  line(
    "DEBUG",
    `Cloud-init v. 22.4.2 running '${stage}' at Mon, 30 Nov 2026 09:00:00 +0000. Up 3.52 seconds.`,
    "main.py",
  );
const warning = (text: string) => line("WARNING", text);

const STAND_INS: Record<string, string> = {
  hostname: `echo ${HOST}`,
  "cloud-init": `echo "cloud-init $*" >> "$FAKE/calls"
s=$(cat "$FAKE/status")
case "$*" in
  status) echo "status: $s";;
  "status --long") echo "status: $s"; echo "detail:"; echo "stand-in detail";;
  *) echo "stand-in cloud-init: unexpected $*" >&2; exit 2;;
esac`,
  systemctl: `case "$1" in
  is-system-running) read -r s < "$FAKE/state"; echo "$s";;
  list-units) cat "$FAKE/failed";;
  *) exit 1;;
esac`,
  journalctl: 'echo "journal of $3"',
  sleep: `echo "sleep $*" >> "$FAKE/calls"
read -r n < "$FAKE/sleeps"; n=$((n + 1)); echo $n > "$FAKE/sleeps"
if [ -f "$FAKE/at-$n" ]; then . "$FAKE/at-$n"; fi`,
};

interface Case {
  /** cloud-init's status (`cloud-init status`) when the report starts. */
  status: string;
  /** cloud-init.log's lines when the report starts. */
  log?: string[];
  /** Whether result.json is there when the report starts. */
  finished?: boolean;
  /** What `systemctl is-system-running` says. @default "starting" */
  state?: string;
  /** `systemctl list-units --failed` output lines. */
  failed?: string[];
  /** Steps (sh, in the scratch directory $FAKE) run at the Nth sleep. */
  at?: Record<number, string>;
  awk?: string;
}

interface Run {
  report: string;
  end: string;
  sleeps: number;
  calls: string[];
}

function readinessScript(dir: string): string {
  let script = READINESS_SCRIPT;
  for (const [p, file] of [
    [RESULT, "result.json"],
    [LOG, "cloud-init.log"],
    [OUTPUT_LOG, "cloud-init-output.log"],
  ] as const) {
    // each of cloud-init's files is named once; only those names change
    expect(script.split(p)).toHaveLength(2);
    script = script.replace(p, path.join(dir, file));
  }
  return script;
}

function report(c: Case): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "readiness-"));
  try {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    for (const [name, body] of Object.entries(STAND_INS))
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    if (c.awk) fs.symlinkSync(c.awk, path.join(bin, "awk"));
    const write = (f: string, text: string) => fs.writeFileSync(path.join(dir, f), text);
    write("status", c.status + "\n");
    write("state", (c.state ?? "starting") + "\n");
    write("failed", (c.failed ?? []).map((l) => l + "\n").join(""));
    write("sleeps", "0\n");
    write("calls", "");
    if (c.log) write("cloud-init.log", c.log.map((l) => l + "\n").join(""));
    write("cloud-init-output.log", "output line 1\noutput line 2\n");
    if (c.finished) write("result.json", '{"v1": {"errors": []}}\n');
    for (const [n, step] of Object.entries(c.at ?? {})) write(`at-${n}`, step + "\n");
    const console = path.join(dir, "console");
    execFileSync("dash", ["-c", readinessScript(dir), "grommunio-readiness", console], {
      env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, FAKE: dir },
      cwd: dir,
      timeout: 60_000,
    });
    const text = fs.readFileSync(console, "utf8");
    return {
      report: text,
      end: text.trimEnd().split("\n").pop() ?? "",
      sleeps: Number(fs.readFileSync(path.join(dir, "sleeps"), "utf8")),
      calls: fs.readFileSync(path.join(dir, "calls"), "utf8").split("\n").filter(Boolean),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const end = (status: string, failed: number, warnings: number) =>
  `${READINESS_END} ${HOST} status=${status} failed-units=${failed} warnings=${warnings} ===`;

const previousBoot = [
  welcome("init-local"),
  welcome("init"),
  warning("previous boot: Running module bootcmd failed"),
  welcome("modules:final"),
  line("ERROR", "previous boot: final stage error"),
];

describe("the report waits for cloud-init's final stage", () => {
  // cloud-init 22.4 says error as soon as one stage recorded one (`status --wait` returned then)
  const thisBoot = [welcome("init-local"), welcome("init"), warning("this boot: init stage warning")];
  const finalStage = [
    warning("Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)"),
    line("CRITICAL", "this boot: final stage critical"),
  ];
  const finishAt3 = {
    3: `printf '%s\\n' ${finalStage.map((l) => `'${l}'`).join(" ")} >> cloud-init.log; echo '{}' > result.json`,
  };

  test("cloud-init says error early: the report comes after result.json, with the final stage's lines, this boot's only", () => {
    const r = report({ status: "error", log: [...previousBoot, ...thisBoot], at: finishAt3 });
    expect(r.sleeps).toBe(3);
    expect(r.calls.filter((c) => c.startsWith("sleep"))).toEqual(Array(3).fill(`sleep ${READINESS_POLL_S}`));
    expect(r.end).toBe(end("error", 0, 3));
    expect(r.report.startsWith(`${READINESS_BEGIN} ${HOST} ===\nstatus: error\n`)).toBe(true);
    expect(r.report).toContain(
      ["--- cloud-init.log warnings and errors of this boot (3)", thisBoot[2], ...finalStage].join("\n"),
    );
    expect(r.report).not.toContain("previous boot");
    expect(r.report).not.toContain("cloud-init not finished");
    // the status was read once the final stage had finished (no `cloud-init status --wait`)
    expect(r.calls.slice(3)).toEqual(["cloud-init status", "cloud-init status --long"]);
    expect(r.report).toContain("--- cloud-init-output.log (last 40 lines)\noutput line 1\noutput line 2\n");
  });

  test("result.json already there: no wait; a clean boot reports done, 0, 0 and no output log", () => {
    const r = report({
      status: "done",
      log: [...previousBoot, welcome("init-local"), welcome("init")],
      finished: true,
    });
    expect(r.sleeps).toBe(0);
    expect(r.end).toBe(end("done", 0, 0));
    expect(r.report).not.toContain("cloud-init-output.log");
    expect(r.report).not.toContain("cloud-init not finished");
  });

  test("the final stage never finishes: the report gives up after READINESS_WAIT_S and says so", () => {
    const r = report({ status: "running", log: [welcome("init-local")] });
    expect(r.sleeps).toBe(READINESS_WAIT_S / READINESS_POLL_S);
    expect(READINESS_GAVE_UP).toContain(`gave up after ${READINESS_WAIT_S} s`);
    expect(r.report).toContain(`\n${READINESS_GAVE_UP}\n`);
    expect(r.end).toBe(end("running", 0, 0));
  });

  test("the boot ends without the final stage finishing (cloud-final died): the report comes then and says so", () => {
    const r = report({
      status: "running",
      log: [welcome("init-local")],
      failed: ["cloud-final.service loaded failed failed Execute cloud user/final scripts"],
      at: { 2: "echo degraded > state" },
    });
    expect(r.sleeps).toBe(2);
    expect(r.report).toContain(`\n${READINESS_BOOT_OVER}\n`);
    expect(r.report).toContain("--- failed units (1)\ncloud-final.service\n    journal of cloud-final.service\n");
    expect(r.end).toBe(end("running", 1, 0));
  });

  test.each(["running", "degraded", "offline"])("is-system-running says %s: no wait", (state) => {
    const r = report({ status: "running", state });
    expect(r.sleeps).toBe(0);
    expect(r.report).toContain(`\n${READINESS_BOOT_OVER}\n`);
  });
});

const found = ["/usr/bin/mawk", "/usr/bin/gawk"].filter((p) => fs.existsSync(p));
/** Each awk there is (the one on PATH when neither). */
const awks: (string | undefined)[] = found.length ? found : [undefined];

describe.each(awks)("cloud-init.log: only this boot's WARNING/ERROR/CRITICAL lines count (awk: %s)", (awk) => {
  const counted = (log: string[] | undefined) => {
    const r = report({ status: "done", finished: true, log, awk });
    expect(r.end).toMatch(new RegExp(` warnings=(\\d+) ===$`));
    return { n: Number(/ warnings=(\d+) ===$/.exec(r.end)![1]), report: r.report };
  };

  test("two boots with init-local: from the last init-local line (warnings before init count)", () => {
    const { n, report: text } = counted([
      ...previousBoot,
      welcome("init-local"),
      warning("this boot 1"),
      welcome("init"),
      line("ERROR", "this boot 2"),
      line("CRITICAL", "this boot 3"),
      line("DEBUG", "this boot, not counted"),
    ]);
    expect(n).toBe(3);
    expect(text).toContain(warning("this boot 1"));
    expect(text).not.toContain("previous boot");
  });

  test("an image without init-local: from the last init line", () => {
    const { n } = counted([welcome("init"), warning("previous"), welcome("init"), warning("this boot")]);
    expect(n).toBe(1);
  });

  test("earlier boots with init-local, this one without: from this boot's init line", () => {
    const { n } = counted([...previousBoot, welcome("init"), warning("this boot")]);
    expect(n).toBe(1);
  });

  test("no welcome line at all (a truncated or rotated log): every line counts", () => {
    expect(counted([warning("a"), line("ERROR", "b"), line("INFO", "c")]).n).toBe(2);
  });

  test("no cloud-init.log: 0", () => {
    expect(counted(undefined).n).toBe(0);
  });
});

describe("the script as systemd runs it", () => {
  test("passes dash -n", () => {
    execFileSync("dash", ["-n", "-c", READINESS_SCRIPT]);
  });

  test("bootcmd writes the script to a file and starts `sh <file> <device>`: no `$` reaches the unit's command line", () => {
    // systemd 252 re-reads a transient unit at every daemon-reload with its `$` left escaped; a
    // script on the command line then reached sh as `\$(...`: Syntax error: "(" unexpected.
    const entry = readinessBootcmd("/dev/ttyS1");
    expect(entry.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(entry.slice(3)).toEqual(["grommunio-readiness", READINESS_SCRIPT, "/dev/ttyS1"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "readiness-start-"));
    try {
      const file = path.join(dir, "script");
      fs.mkdirSync(path.join(dir, "bin"));
      fs.writeFileSync(
        path.join(dir, "bin/systemd-run"),
        `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${dir}/argv"\n`,
        { mode: 0o755 },
      );
      // (the path replaced by a scratch file, nothing else)
      const wrapper = entry[2]!.split(READINESS_PATH).join(file);
      execFileSync("dash", ["-c", wrapper, ...entry.slice(3)], {
        env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH ?? "/usr/bin:/bin"}` },
      });
      expect(fs.readFileSync(file, "utf8")).toBe(READINESS_SCRIPT);
      const argv = fs.readFileSync(path.join(dir, "argv"), "utf8").split("\n").slice(0, -1);
      expect(argv).toEqual([
        "--no-block",
        `--unit=${READINESS_UNIT}`,
        "--description=grommunio readiness report",
        "sh",
        file,
        "/dev/ttyS1",
      ]);
      expect(argv.join(" ").replace(file, READINESS_PATH)).not.toMatch(/[$\\%]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
