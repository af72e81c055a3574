/**
 * The system tests' process runner (test/system/support.ts `run`): a program that exits without
 * reading its input is a result with its exit status, not a thrown EPIPE (the MariaDB client that
 * refuses its option file exits before it reads the query; whether the write then fails depended
 * on timing, and the test threw now and then); a program that cannot start still throws.
 */
import { run } from "./support";

describe("run", () => {
  it("returns the exit status of a program that exits without reading its input", () => {
    // 4 MiB cannot fit the pipe: the write fails with EPIPE once sh has exited, every time.
    const r = run("sh", ["-c", "echo refused >&2; exit 3"], { input: "x".repeat(4 << 20) });
    expect(r).toEqual({ status: 3, stdout: "", stderr: "refused\n" });
  });

  it("still passes input to a program that reads it", () => {
    expect(run("wc", ["-c"], { input: "x".repeat(4 << 20) })).toEqual({
      status: 0,
      stdout: `${4 << 20}\n`,
      stderr: "",
    });
  });

  it("throws when the program cannot be started", () => {
    expect(() => run("/nonexistent/program", [])).toThrow(/ENOENT/);
  });
});
