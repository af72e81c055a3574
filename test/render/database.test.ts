import { buildTopology, ClusterInput, GrommunioValidationError, validateCluster } from "../../lib/topology";
import {
  MAP_READER_COLUMNS,
  MARIADB_CONFIG_PATH,
  maxConnections,
  renderDatabaseBootstrap,
  renderMapReaderGrants,
  renderMariadbConfig,
  renderServersSeed,
  sqlAccount,
  sqlIdent,
  sqlString,
} from "../../lib/render/database";
import { bootstrapAccounts, documentedLayout, largeLayout } from "../fixtures";

const withReader = (overrides: Partial<ClusterInput["database"]> = {}): ClusterInput =>
  documentedLayout({ database: { node: "db1", password: "db-secret", mapReaderPassword: "map-secret", ...overrides } });

describe("SQL literals", () => {
  it("escapes quote, backslash and control characters", () => {
    expect(sqlString("plain")).toBe("'plain'");
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString("a\\b")).toBe("'a\\\\b'");
    expect(sqlString("l1\nl2\r\0\x1a")).toBe("'l1\\nl2\\r\\0\\Z'");
    expect(sqlString("${TfToken[TOKEN.12]}")).toBe("'${TfToken[TOKEN.12]}'");
  });
  it("quotes identifiers and accounts", () => {
    expect(sqlIdent("grommunio")).toBe("`grommunio`");
    expect(sqlIdent("we`ird")).toBe("`we``ird`");
    expect(() => sqlIdent("")).toThrow(/identifier/);
    expect(sqlAccount("grommunio", "10.10.10.20")).toBe("'grommunio'@'10.10.10.20'");
  });
});

describe("map reader account validation (GRX050, GRX051)", () => {
  it("accepts a password and defaults the user", () => {
    const t = buildTopology(withReader());
    expect(t.database.mapReader).toEqual({ user: "grommunio_map", password: "map-secret" });
    expect(buildTopology(documentedLayout()).database.mapReader).toBeUndefined();
  });
  it("rejects a reader that is the gromox account, a bad name, a missing or multi-line password", () => {
    const codes = (db: Partial<ClusterInput["database"]>) => validateCluster(withReader(db)).map((i) => i.code);
    expect(codes({ mapReaderUser: "grommunio" })).toEqual(["GRX050"]);
    expect(codes({ mapReaderUser: "map-reader" })).toEqual(["GRX050"]);
    expect(codes({ mapReaderPassword: "" })).toEqual(["GRX051"]);
    expect(codes({ mapReaderPassword: "two\nlines" })).toEqual(["GRX051"]);
    const onlyUser = documentedLayout({ database: { node: "db1", password: "x", mapReaderUser: "lbmap" } });
    const issues = validateCluster(onlyUser);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      code: "GRX051",
      field: "database.mapReaderPassword",
      message: "database.mapReaderUser is set but mapReaderPassword is missing.",
    });
  });
});

describe("renderDatabaseBootstrap", () => {
  /** The JSON address list a bootstrap sets for an account name. */
  const hostsOf = (sql: string, variable: string): string[] => {
    const m = new RegExp(`^SET ${variable} = '(\\[[^']*\\])';$`, "m").exec(sql);
    return m ? (JSON.parse(m[1]!) as string[]) : [];
  };

  it("renders the documented layout exactly: each password once, the addresses once as a JSON list", () => {
    const t = buildTopology(withReader({ password: "it's\\secret" }));
    const accounts = (user: string, hostsVar: string) =>
      `SELECT GROUP_CONCAT(CONCAT(QUOTE('${user}'), '@', QUOTE(h)), ' IDENTIFIED BY ', @grx_password SEPARATOR ', '), ` +
      `GROUP_CONCAT(CONCAT(QUOTE('${user}'), '@', QUOTE(h)) SEPARATOR ', ') INTO @grx_identified, @grx_accounts ` +
      `FROM JSON_TABLE(${hostsVar}, '$[*]' COLUMNS (h VARCHAR(255) PATH '$')) AS grx_hosts;`;
    const sql = renderDatabaseBootstrap(t);
    expect(sql).toBe(
      [
        "-- cluster: database bootstrap, rendered by cdktf-grommunio.",
        "-- Run as the MariaDB root user before gromox-dbop -C; idempotent.",
        "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');",
        "CREATE DATABASE IF NOT EXISTS `grommunio` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;",
        "SET SESSION group_concat_max_len = 16777216;",
        "-- grommunio: gromox, postfix maps and admin-api, one account per node address",
        `SET @grx_gromox_hosts = '["10.10.10.20","10.10.10.30","10.10.10.40","10.10.10.50"]';`,
        "SET @grx_password = QUOTE('it''s\\\\secret');",
        accounts("grommunio", "@grx_gromox_hosts"),
        "EXECUTE IMMEDIATE CONCAT('CREATE USER IF NOT EXISTS ', @grx_identified);",
        "EXECUTE IMMEDIATE CONCAT('ALTER USER ', @grx_identified);",
        "EXECUTE IMMEDIATE CONCAT('GRANT ALL PRIVILEGES ON `grommunio`.* TO ', @grx_accounts);",
        "SET @grx_password = NULL, @grx_identified = NULL;",
        "-- grommunio_map: the load balancers' mailbox-map job (grants: renderMapReaderGrants)",
        `SET @grx_reader_hosts = '["10.10.10.10"]';`,
        "SET @grx_password = QUOTE('map-secret');",
        accounts("grommunio_map", "@grx_reader_hosts"),
        "EXECUTE IMMEDIATE CONCAT('CREATE USER IF NOT EXISTS ', @grx_identified);",
        "EXECUTE IMMEDIATE CONCAT('ALTER USER ', @grx_identified);",
        "SET @grx_password = NULL, @grx_identified = NULL;",
        "-- accounts of these names from addresses that are not (or no longer) cluster nodes",
        "SET @grx_stale = (SELECT GROUP_CONCAT(CONCAT(QUOTE(User), '@', QUOTE(Host)) ORDER BY User, Host SEPARATOR ', ') FROM mysql.user WHERE " +
          "(User = 'grommunio' AND Host NOT IN (SELECT h FROM JSON_TABLE(@grx_gromox_hosts, '$[*]' COLUMNS (h VARCHAR(255) PATH '$')) AS grx_hosts)) OR " +
          "(User = 'grommunio_map' AND Host NOT IN (SELECT h FROM JSON_TABLE(@grx_reader_hosts, '$[*]' COLUMNS (h VARCHAR(255) PATH '$')) AS grx_hosts)));",
        "SET @grx_drop = IF(@grx_stale IS NULL, 'DO 0', CONCAT('DROP USER ', @grx_stale));",
        "PREPARE grx_drop_stale FROM @grx_drop;",
        "EXECUTE grx_drop_stale;",
        "DEALLOCATE PREPARE grx_drop_stale;",
        "FLUSH PRIVILEGES;",
        "",
      ].join("\n"),
    );
    expect(bootstrapAccounts(sql)).toEqual([
      ...["10.10.10.20", "10.10.10.30", "10.10.10.40", "10.10.10.50"].map((host) => ({
        user: "grommunio",
        host,
        password: "it's\\secret",
      })),
      { user: "grommunio_map", host: "10.10.10.10", password: "map-secret" },
    ]);
    expect(sql.split("it''s").length - 1).toBe(1);
    expect(sql.split("map-secret").length - 1).toBe(1);
  });
  it("never grants to a wildcard host, the database node or the load balancers (gromox account)", () => {
    const t = buildTopology(largeLayout({ database: { node: "db1", password: "pw", mapReaderPassword: "m" } }));
    const sql = renderDatabaseBootstrap(t);
    expect(sql).not.toMatch(/@'%'|@'10\.20\.0\.%'|\/24/);
    // mail1-4, mail6, classic1-2, admin1 — sorted by address; not db1 (.50), not lb1/lb2 (.5/.6).
    expect(hostsOf(sql, "@grx_gromox_hosts")).toEqual([
      "10.20.0.11",
      "10.20.0.12",
      "10.20.0.13",
      "10.20.0.14",
      "10.20.0.16",
      "10.20.0.31",
      "10.20.0.32",
      "10.20.0.41",
    ]);
    expect(hostsOf(sql, "@grx_reader_hosts")).toEqual(["10.20.0.5", "10.20.0.6"]);
  });
  it("without a map reader creates no reader account and cleans up only the gromox account", () => {
    const sql = renderDatabaseBootstrap(buildTopology(documentedLayout()));
    expect(sql).not.toContain("grommunio_map");
    expect(sql).not.toContain("@grx_reader_hosts");
    expect(sql).toContain(
      "FROM mysql.user WHERE (User = 'grommunio' AND Host NOT IN (SELECT h FROM JSON_TABLE(@grx_gromox_hosts, '$[*]' COLUMNS (h VARCHAR(255) PATH '$')) AS grx_hosts)));",
    );
  });
});

describe("renderMapReaderGrants", () => {
  it("grants SELECT on exactly the map columns, never users.password", () => {
    const sql = renderMapReaderGrants(buildTopology(withReader()));
    expect(sql).toBe(
      [
        "-- cluster: map reader grants, rendered by cdktf-grommunio.",
        "-- Run as MariaDB root after the schema and the map view exist; idempotent.",
        "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');",
        "GRANT SELECT (`id`, `username`, `homeserver`, `address_status`) ON `grommunio`.`users` TO 'grommunio_map'@'10.10.10.10';",
        "GRANT SELECT (`aliasname`, `mainname`) ON `grommunio`.`aliases` TO 'grommunio_map'@'10.10.10.10';",
        "GRANT SELECT (`id`, `hostname`, `extname`) ON `grommunio`.`servers` TO 'grommunio_map'@'10.10.10.10';",
        "GRANT SELECT (`id`, `domainname`, `homeserver`, `domain_status`) ON `grommunio`.`domains` TO 'grommunio_map'@'10.10.10.10';",
        // the view the map job reads (SQL SECURITY INVOKER: it reads with the column grants above)
        "GRANT SELECT ON `grommunio`.`grommunio_mailbox_map` TO 'grommunio_map'@'10.10.10.10';",
        "",
      ].join("\n"),
    );
    expect(MAP_READER_COLUMNS.users).not.toContain("password");
  });
  it("grants nothing without a map reader", () => {
    const sql = renderMapReaderGrants(buildTopology(documentedLayout()));
    expect(sql).not.toMatch(/GRANT/);
    expect(sql).toContain("No map reader declared");
  });
});

describe("renderServersSeed", () => {
  const rows =
    "JSON_TABLE(@grx_servers, '$[*]' COLUMNS (id INT PATH '$[0]', hostname VARCHAR(255) PATH '$[1]', extname VARCHAR(255) PATH '$[2]')) AS j";
  it("one JSON list, a guard against host names of other ids, one upsert, in a transaction", () => {
    const sql = renderServersSeed(buildTopology(documentedLayout()));
    expect(sql).toBe(
      [
        "-- cluster: servers seed, rendered by cdktf-grommunio.",
        "-- Run after gromox-dbop -C; idempotent. Never deletes a servers row; stops on a host name held by another id.",
        "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');",
        `SET @grx_extname = 'mail.gro.at', @grx_servers = '[[1,"mail1.gro.at"],[2,"mail2.gro.at"],[3,"mail3.gro.at"]]';`,
        "START TRANSACTION;",
        "SELECT LEFT(CONCAT('servers seed: host name held by another servers.id, nothing changed: ', " +
          "GROUP_CONCAT(CONCAT(j.hostname, ' (id ', s.id, ', node ', j.id, ')') ORDER BY j.id SEPARATOR ', ')), 128) INTO @grx_taken " +
          `FROM \`servers\` s JOIN ${rows} ON s.\`hostname\` = j.hostname AND s.\`id\` <> j.id FOR UPDATE;`,
        "EXECUTE IMMEDIATE IF(@grx_taken IS NULL, 'DO 0', 'SIGNAL SQLSTATE ''45000'' SET MESSAGE_TEXT = @grx_taken');",
        `INSERT INTO \`servers\` (\`id\`, \`hostname\`, \`extname\`) SELECT j.id, j.hostname, COALESCE(j.extname, @grx_extname) FROM ${rows} ` +
          "ON DUPLICATE KEY UPDATE `hostname` = VALUES(`hostname`), `extname` = VALUES(`extname`);",
        "COMMIT;",
        "-- rows of former mailbox nodes: kept, listed with what still points at them",
        "SELECT s.`id` AS retired_server_id, s.`hostname`, (SELECT COUNT(*) FROM `users` u WHERE u.`homeserver` = s.`id`) AS users, " +
          "(SELECT COUNT(*) FROM `domains` d WHERE d.`homeserver` = s.`id`) AS domains FROM `servers` s " +
          `WHERE s.\`id\` NOT IN (SELECT j.id FROM ${rows}) ORDER BY s.\`id\`;`,
        "",
      ].join("\n"),
    );
    expect(sql).not.toMatch(/DELETE|REPLACE INTO/);
  });
  it("uses serverId; the extname most nodes share once, another one in its node's entry; ids with gaps kept", () => {
    const input = largeLayout();
    const ext = (names: Record<string, string>) => {
      const nodes = input.nodes.map((n) => (names[n.name] ? { ...n, externalName: names[n.name] } : n));
      const m = /^SET @grx_extname = '(.*)', @grx_servers = '(.*)';$/m.exec(
        renderServersSeed(buildTopology({ ...input, nodes })),
      )!;
      return [m[1], JSON.parse(m[2]!)];
    };
    expect(ext({ mail6: "mx6.example.com" })).toEqual([
      "mail.example.com",
      [
        [1, "mail1.int.example.com"],
        [2, "mail2.int.example.com"],
        [3, "mail3.int.example.com"],
        [4, "mail4.int.example.com"],
        [6, "mail6.int.example.com", "mx6.example.com"],
      ],
    ]);
    // A tie: the first name in code-unit order is the shared one.
    expect(
      ext({ mail1: "b.example.com", mail2: "b.example.com", mail3: "a.example.com", mail4: "a.example.com" })[0],
    ).toBe("a.example.com");
  });
  it("grows by one list entry per mailbox node, not by a statement", () => {
    const small = renderServersSeed(buildTopology(documentedLayout()));
    const large = renderServersSeed(buildTopology(largeLayout()));
    const statements = (sql: string) =>
      sql.split("\n").filter((l) => l !== "" && !l.startsWith("--") && !l.startsWith("SET @grx_extname"));
    expect(statements(large)).toEqual(statements(small));
  });
  it("does not depend on the order of the node list", () => {
    const input = largeLayout();
    const reversed = { ...input, nodes: [...input.nodes].reverse() };
    expect(renderServersSeed(buildTopology(reversed))).toBe(renderServersSeed(buildTopology(input)));
    expect(renderDatabaseBootstrap(buildTopology(reversed))).toBe(renderDatabaseBootstrap(buildTopology(input)));
  });
});

describe("renderMariadbConfig", () => {
  it("renders the database node's settings exactly and nothing for other nodes", () => {
    const t = buildTopology(documentedLayout());
    expect(renderMariadbConfig(t, t.node("mail1"))).toEqual([]);
    expect(renderMariadbConfig(t, t.node("lb1"))).toEqual([]);
    expect(renderMariadbConfig(t, t.node("db1"))).toEqual([
      {
        path: MARIADB_CONFIG_PATH,
        mode: "0644",
        owner: "root:root",
        content: [
          "# cluster: MariaDB settings for db1.gro.at, rendered by cdktf-grommunio.",
          "# Read after 50-server.cnf; overrides its bind-address.",
          "",
          "[mariadbd]",
          "bind-address = 10.10.10.60",
          "port = 3306",
          "skip-name-resolve = ON",
          "character-set-server = utf8mb4",
          "collation-server = utf8mb4_general_ci",
          "max_connections = 250",
          "innodb_buffer_pool_size = 1G",
          "innodb_log_file_size = 256M",
          "innodb_flush_log_at_trx_commit = 1",
          "innodb_file_per_table = ON",
          "innodb_flush_method = O_DIRECT",
          "",
        ].join("\n"),
      },
    ]);
  });
  it("sizes max_connections by client nodes (load balancers count with a map reader)", () => {
    expect(maxConnections(buildTopology(documentedLayout()))).toBe(4 * 50 + 50);
    expect(maxConnections(buildTopology(withReader()))).toBe(5 * 50 + 50);
    expect(maxConnections(buildTopology(largeLayout()))).toBe(8 * 50 + 50);
    const single = documentedLayout({
      nodes: documentedLayout().nodes.filter((n) => ["mail1", "db1", "lb1"].includes(n.name)),
    });
    expect(maxConnections(buildTopology(single))).toBe(151);
  });
  it("takes the buffer pool size from the topology; a malformed one is GRX052", () => {
    const t = buildTopology(
      documentedLayout({ database: { node: "db1", password: "pw", innodbBufferPoolSize: "12G" } }),
    );
    expect(renderMariadbConfig(t, t.node("db1"))[0]!.content).toContain("\ninnodb_buffer_pool_size = 12G\n");
    for (const bad of ["12 GB", "0G", "1.5G", "12g", ""]) {
      const issues = validateCluster(
        documentedLayout({ database: { node: "db1", password: "pw", innodbBufferPoolSize: bad } }),
      );
      expect(issues).toEqual([
        {
          code: "GRX052",
          path: "cluster",
          field: "database.innodbBufferPoolSize",
          message: `"${bad}" is not a MariaDB size.`,
          fix: 'Give a whole number with the unit K, M or G, e.g. "4G" (50–70 % of the database VM\'s RAM).',
        },
      ]);
    }
    expect(() =>
      buildTopology(documentedLayout({ database: { node: "db1", password: "pw", innodbBufferPoolSize: "x" } })),
    ).toThrow(GrommunioValidationError);
  });
  it("renders nothing for an external database", () => {
    const input = documentedLayout({
      database: { host: "db.example.net", port: 3307, password: "pw" },
      nodes: documentedLayout().nodes.filter((n) => n.name !== "db1"),
    });
    const t = buildTopology(input);
    expect(t.nodes.flatMap((n) => renderMariadbConfig(t, n))).toEqual([]);
  });
});
