/**
 * Command-line flags of the bench programs: `--name value`, `--name=value`, or a bare `--name` for
 * the switches named; each flag falls back to an environment variable, then to its default.
 */
export interface Flags {
  /** The flag's value, else the environment variable's, else undefined. */
  readonly get: (flag: string, env: string) => string | undefined;
  /** A whole number ≥ min (default 1; empty or absent: the default). */
  readonly int: (flag: string, env: string, dflt: number, min?: number) => number;
  /** Comma-separated whole numbers ≥ 1 (empty or absent: the default). */
  readonly list: (flag: string, env: string, dflt: readonly number[]) => number[];
}

export function parseFlags(argv: readonly string[], switches: readonly string[] = []): Flags {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [k, v] = a.slice(2).split("=", 2) as [string, string | undefined];
    if (switches.includes(k)) flags.set(k, "1");
    else flags.set(k, v ?? argv[++i] ?? "");
  }
  const get = (flag: string, env: string): string | undefined => flags.get(flag) ?? process.env[env];
  return {
    get,
    int: (flag, env, dflt, min = 1) => {
      const v = get(flag, env);
      const n = v === undefined || v === "" ? dflt : Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: a whole number ≥ ${min}, got ${v}`);
      return n;
    },
    list: (flag, env, dflt) => {
      const v = get(flag, env);
      if (v === undefined || v === "") return [...dflt];
      const out = v.split(",").map((s) => Number(s.trim()));
      if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${flag}: comma-separated whole numbers`);
      return out;
    },
  };
}
