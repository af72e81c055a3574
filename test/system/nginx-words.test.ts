/**
 * The nginx serializer's quoting (`quoteArg`), read back by the running nginx 1.22: every word
 * the renderers may write (blanks, `;`, braces, `#`, quotes, backslashes, tabs, non-ASCII) reaches
 * nginx exactly as given. `$` is the one character quoting cannot protect (nginx has no escape for
 * it and expands variables inside quotes too), hence the renderer options refuse it in paths
 * (GRX161). nginx runs in the foreground on a free loopback port and is stopped before the test
 * returns.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { block, directive, serializeNginx, validateNginx } from "../../lib/render/nginx";
import { buildTopology } from "../../lib/topology";
import { documentedLayout } from "../fixtures";
import { ownScratchDir, removeScratchDir } from "./scratch";
import { requireProgram, run } from "./support";

jest.setTimeout(60_000);

let port = 0;

beforeAll(async () => {
  requireProgram("nginx", "nginx");
  requireProgram("curl", "curl");
  port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
});

test("every word the serializer quotes reaches nginx as given; $ stays a variable", () => {
  const words = ['a;b{c}#d"e\\f', "it's", "#lead", "ü ñ", "tab\there", "x\\ty", "a#b", "back\\", "", "}"];
  const dir = ownScratchDir("nginx-words");
  try {
    const conf = serializeNginx([
      directive("pid", path.join(dir, "nginx.pid")),
      directive("error_log", path.join(dir, "error.log")),
      block("events", [], []),
      block(
        "http",
        [],
        [
          directive("access_log", "off"),
          block(
            "server",
            [],
            [
              directive("listen", `127.0.0.1:${port}`),
              ...words.map((w, i) => directive("add_header", `x-probe-${i}`, `<${w}>`)),
              directive("add_header", "x-variable", "$server_port"),
              directive("return", "200", "ok"),
            ],
          ),
        ],
      ),
    ]);
    fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
    const script = [
      "hp=",
      'trap \'[ -n "$hp" ] && kill "$hp" 2>/dev/null; true\' EXIT',
      'nginx -t -q -e "$1/error.log" -c "$1/nginx.conf" || exit 3',
      `nginx -e "$1/error.log" -c "$1/nginx.conf" -g "daemon off;" & hp=$!`,
      `i=0; until curl -s -D "$1/headers" -o /dev/null http://127.0.0.1:${port}/ || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done`,
      'kill "$hp"; wait "$hp"; hp=',
    ].join("\n");
    const r = run("sh", ["-c", script, "sh", dir], { timeoutMs: 30_000 });
    expect(r.status).toBe(0);
    const headers = fs.readFileSync(path.join(dir, "headers"), "utf8");
    expect(headers).toMatch(/^HTTP\/1\.1 200/);
    words.forEach((w, i) => expect(headers).toContain(`x-probe-${i}: <${w}>\r\n`));
    expect(headers).toContain(`x-variable: ${port}\r\n`);
  } finally {
    removeScratchDir(dir);
  }
  // Hence paths holding $ are refused rather than quoted.
  const topo = buildTopology(
    documentedLayout({
      loadBalancer: { ...documentedLayout().loadBalancer!, flavor: "nginx", nodeAwareRouting: false },
    }),
  );
  expect(validateNginx(topo, topo.node("lb1"), { certificatePath: "/etc/nginx/$host.pem" }).map((i) => i.code)).toEqual(
    ["GRX161"],
  );
});
