/**
 * The cloud-init sandbox's own safety (cloud-init-sandbox.ts): a failed bind mount stops it before
 * any of the caller's lines (they would run on the host's /etc) and the helper throws; the binds
 * show the scratch /etc; a run that times out leaves no process behind; the scratch root is gone.
 *
 *   npx jest test/system/cloud-init-sandbox.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type CloudInitSandboxSpec, requireCloudInitSandbox, withCloudInitSandbox } from "./cloud-init-sandbox";
import { scratchDir } from "./support";

const spec = (script: string[]): CloudInitSandboxSpec => ({
  name: "sandbox-check",
  userData: { runcmd: ["true"] },
  modules: { init: [], config: [], final: [] },
  standIns: { probe: '#!/bin/sh\necho "probe $*" >> "$STANDIN_LOG"\n' },
  script,
});

/** Host processes whose command line contains `token`. */
function processesWith(token: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(token) && Number(pid) !== process.pid) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

beforeAll(requireCloudInitSandbox);

describe("the cloud-init sandbox", () => {
  test("inside: the scratch cloud.cfg at /etc, the stand-ins on $STANDINS log their calls; the root is removed", () => {
    let root = "";
    const seen = withCloudInitSandbox(
      spec(["cat /etc/cloud/cloud.cfg", 'PATH="$STANDINS:$PATH" probe one two', 'test "$HOST_PATH" = "$PATH"']),
      (r) => {
        root = r.root;
        return r;
      },
    );
    expect(seen.status).toBe(0);
    expect(JSON.parse(seen.stdout)).toMatchObject({ datasource_list: ["None"], cloud_final_modules: [] });
    expect(seen.calls).toEqual(["probe one two"]);
    expect(root).not.toBe("");
    expect(fs.existsSync(root)).toBe(false);
  });

  test("a failed bind mount: nothing of the caller's runs, the helper throws, the root is removed", () => {
    const witness = path.join(scratchDir("sandbox-witness"), "ran");
    let root = "";
    const failing = {
      ...spec([`touch '${witness}'`]),
      // the last bind's source is missing: /etc, /run and /var/lib are bound already, /var/log fails
      prepare: (r: string) => {
        root = r;
        fs.rmSync(path.join(r, "var-log"), { recursive: true });
      },
    };
    expect(() => withCloudInitSandbox(failing, () => "read")).toThrow(/bind mounts failed \(exit [1-9]\d*\)/);
    expect(fs.existsSync(witness)).toBe(false);
    expect(fs.existsSync(root)).toBe(false);
  });

  test("a run that times out: the helper throws and no process it started is left", async () => {
    const token = `sandbox-timeout-${process.pid}-${Date.now()}`;
    const slow = { ...spec([`sh -c 'sleep 300; : ${token}' & sleep 301`]), timeoutMs: 1500 };
    expect(() => withCloudInitSandbox(slow, () => "read")).toThrow(/ETIMEDOUT/);
    // the kernel ends the pid namespace with its first process; give it a moment
    for (let i = 0; i < 20 && processesWith(token).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesWith(token)).toEqual([]);
  });
});
