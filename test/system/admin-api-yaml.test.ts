/**
 * grommunio-admin-api reads its conf.d YAML with PyYAML (YAML 1.1): database and user names that
 * YAML 1.1 takes for booleans or numbers when plain (on, no, yes, off, 1_000, 0b1, …) must come
 * back from PyYAML's safe_load as the same strings, and the password as written (also one as
 * long as GRX028 admits: PyYAML has no limit on a quoted scalar).
 *
 *   npx jest test/system/admin-api-yaml.test.ts --selectProjects system
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DATABASE_PASSWORD_MAX_BYTES, buildTopology, optionFileValueBytes } from "../../lib/topology";
import { renderAdminApi } from "../../lib/render/admin-api";
import { YAML11_AMBIGUOUS_NAMES, documentedLayout } from "../fixtures";
import { requireProgram, run, scratchDir } from "./support";

const CASES = YAML11_AMBIGUOUS_NAMES;

/** A password as long as GRX028 admits (the backslash counts twice in db.cnf), with a quote and `#`. */
const LONG_PASSWORD = "'a #b\\ " + "\u20ac".repeat(1358) + "x";

test("PyYAML reads database.yaml's names and password as the strings written", () => {
  const python = requireProgram("python3", "python3 python3-yaml");
  const probe = run(python, ["-c", "import yaml"]);
  if (probe.status !== 0) {
    throw new Error(`PyYAML is not installed (${probe.stderr.trim()}). Install it with: apt-get install python3-yaml`);
  }
  expect(optionFileValueBytes(LONG_PASSWORD)).toBe(DATABASE_PASSWORD_MAX_BYTES);
  const dir = scratchDir("admin-api-yaml");
  const files = [...CASES, [undefined, undefined, LONG_PASSWORD] as const].map(([name, user, password = "on"], i) => {
    const t = buildTopology(documentedLayout({ database: { node: "db1", password, name, user } }));
    const [database] = renderAdminApi(t, t.node("mail1"));
    const file = path.join(dir, `database-${i}.yaml`);
    fs.writeFileSync(file, database!.content);
    return file;
  });
  const py = "import json, sys, yaml\n" + "print(json.dumps([yaml.safe_load(open(p))['DB'] for p in sys.argv[1:]]))";
  const r = run(python, ["-c", py, ...files]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const read = JSON.parse(r.stdout) as { database: unknown; user: unknown; pass: unknown }[];
  expect(read.map((db) => [db.database, db.user, db.pass])).toEqual([
    ...CASES.map(([name, user]) => [name, user, "on"]),
    ["grommunio", "grommunio", LONG_PASSWORD],
  ]);
});
