/**
 * The upstream documentation's nginx block, rebuilt from the seed page
 * (test/fixtures/seed/grommunio-architecture.txt, a copy of the page), whose line breaks were lost: several directives
 * share one physical line. The block runs from `upstream be_smtp {` to the closing brace of its
 * 443 server. The rebuild breaks the text after every `;`, `{` and `}` outside quotes, so each
 * directive gets a line of its own and every `# …;` comment (the commented-out `quic` listens)
 * ends at its own `;` instead of swallowing the directives after it. Nothing else is changed.
 * Like the documentation intends, the block is an http-level include (it holds `upstream` and
 * `server` blocks); `docNginxMain` is a minimal main file that includes it there.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const SEED_PATH =
  process.env.GRX_SEED_PATH ?? path.join(__dirname, "fixtures", "seed", "grommunio-architecture.txt");

const START = "upstream be_smtp {";
const END = "location / { proxy_pass https://be_gromoxnodes/; }}";

/** The documentation's nginx block, one directive per line. */
export function docNginxBlock(seed: string = fs.readFileSync(SEED_PATH, "utf8")): string {
  const a = seed.indexOf(START);
  const b = seed.indexOf(END, a);
  if (a < 0 || b < 0) throw new Error(`nginx block not found in ${SEED_PATH}`);
  const text = seed.slice(a, b + END.length).replace(/\s+/g, " ");
  const lines: string[] = [];
  let cur = "";
  let quote: string | undefined;
  for (const ch of text) {
    cur += ch;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === ";" || ch === "{" || ch === "}") {
      lines.push(cur.trim());
      cur = "";
    }
  }
  if (cur.trim() !== "") lines.push(cur.trim());
  return lines.join("\n") + "\n";
}

/** Host names the block's upstreams name (nginx resolves them while checking). */
export function docNginxHosts(block: string = docNginxBlock()): string[] {
  return [...new Set([...block.matchAll(/^server ([a-z0-9.-]+):\d+;$/gm)].map((m) => m[1]!))].sort();
}

/**
 * A minimal main file around the block: both modules the block uses (stream, headers-more),
 * a pid file and the block included inside `http {}`, where its upstreams and servers belong.
 */
export function docNginxMain(includePath: string, pidFile = "/run/nginx.pid"): string {
  return [
    "load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
    "load_module /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so;",
    `pid ${pidFile};`,
    "events {",
    "}",
    "http {",
    `    include ${includePath};`,
    "}",
    "",
  ].join("\n");
}
