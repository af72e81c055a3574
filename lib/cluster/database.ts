/**
 * Where the cluster's MariaDB lives: on its own node (`Database.onNode`), outside the cluster
 * (`Database.external`), or as the platform's managed database (`Database.rds`). Passwords are
 * Terraform values: a `random_password` unless you pass a reference of your own (never a value
 * generated at synth, which would change on every synth).
 */
import { Construct } from "constructs";
import { DataResource } from "cdktf";
import { Token, dependency } from "../provision/cdktf";
import type { DatabaseInput } from "../topology";
import { ClusterContext } from "./context";
import { DatabaseNode } from "./nodes";
import {
  CheckedPassword,
  MARIADB_RESERVED_WORDS,
  RDS_MASTER_PASSWORD,
  RDS_MASTER_USER,
  addPasswordCheck,
} from "./password-check";

const RESERVED = new Set(MARIADB_RESERVED_WORDS);

/** Length of generated database passwords (letters and digits: safe in every config syntax). */
export const GENERATED_PASSWORD_LENGTH = 32;

interface CommonDatabaseProps {
  /** @default "grommunio" (as the installer) */
  readonly databaseName?: string;
  /**
   * With `Database.rds` also the RDS master user name: 1 to 16 letters, digits or `_`, a letter
   * first, and no reserved word of MariaDB (`select`, `key`, …; GRX224).
   * @default "grommunio"
   */
  readonly user?: string;
  /**
   * The gromox account's password: a Terraform reference (SSM parameter, Secrets Manager,
   * variable) or, for tests, a literal. The files take a reference's value unescaped, so the plan
   * stops (a `terraform_data` precondition) when it holds a quote, a backslash, a control
   * character or a blank at either end, or is longer than 4083 UTF-8 bytes (db.cnf's line;
   * docs/security.md, "Secrets"). With `Database.rds` it is also the RDS master password: 8 to 41
   * printable ASCII characters without `/`, `@`, `"` or a space (a literal: GRX225; a reference:
   * the plan stops).
   * @default a `random_password` of 32 letters and digits (sensitive, kept in the state)
   */
  readonly password?: string;
  /**
   * Upper bound of `password`'s length when it is a Terraform reference (counts against the
   * user-data size limit).
   * @default 128; with `Database.rds` 41 (the longest RDS for MariaDB takes as master password)
   */
  readonly passwordMaxLength?: number;
}

export interface DatabaseOnNodeProps extends CommonDatabaseProps {
  /** Node name; must end with its number. @default "db1" */
  readonly name?: string;
  /** Machine type. @default the platform's default for database nodes (AWS r6i.large) */
  readonly size?: string;
  /** MariaDB data volume in GiB (mounted at /var/lib/mysql; not enforced on Docker, a warning). @default 50 */
  readonly volumeSizeGb?: number;
  /** @default derived from the name (the database block: db1 → .5 in a /24) */
  readonly privateIp?: string;
}

export interface ExternalDatabaseProps extends CommonDatabaseProps {
  /**
   * Host name or IPv4 address every node can reach. On Docker only the load-balancer and classic
   * containers reach beyond the cluster network: give an address inside it (a container of your
   * own on that network), else a warning says the mailbox and admin nodes cannot connect.
   */
  readonly host: string;
  /** @default 3306 */
  readonly port?: number;
  /** Required: nothing in the cluster can create an account on a database it does not run. */
  readonly password: string;
}

export interface ManagedDatabaseProps extends CommonDatabaseProps {
  /** Instance class. @default the platform's default (AWS db.t4g.medium) */
  readonly size?: string;
  /** @default 50 */
  readonly storageGb?: number;
  /** MariaDB version. @default the platform's default (AWS 10.11) */
  readonly engineVersion?: string;
  /**
   * Private DNS name the nodes connect to (a private zone of the cluster's network).
   * @default `db.<cluster id>.internal`
   */
  readonly hostname?: string;
  /** Refuse deletion and keep a final snapshot. @default true */
  readonly deletionProtection?: boolean;
}

/** What a database contributes to the cluster. */
export interface DatabaseBinding {
  readonly input: DatabaseInput;
  /** The platform's managed database serves 3306 (firewall target). */
  readonly managed: boolean;
}

export abstract class Database {
  /** MariaDB on its own node, its data on its own volume. */
  public static onNode(props: DatabaseOnNodeProps = {}): Database {
    return new NodeDatabase(props);
  }

  /** A MariaDB/MySQL server you run; the cluster only connects to it. */
  public static external(props: ExternalDatabaseProps): Database {
    return new ExternalDatabase(props);
  }

  /** The platform's managed MariaDB (AWS RDS), reached by a private DNS name. */
  public static rds(props: ManagedDatabaseProps = {}): Database {
    return new ManagedDatabase(props);
  }

  /** @internal Called once by the cluster's constructor. */
  public abstract bind(cluster: ClusterContext, clusterName: string): DatabaseBinding;
}

/**
 * The database password, and the plan-time check of a Terraform-supplied one (`kind`: `rds` adds
 * what RDS takes as master password).
 */
function password(
  cluster: ClusterContext,
  props: CommonDatabaseProps,
  kind: CheckedPassword = "database",
): { value: string; check?: DataResource } {
  if (props.password === undefined) return { value: cluster.secret("database-password", GENERATED_PASSWORD_LENGTH) };
  const maxLength = props.passwordMaxLength ?? (kind === "rds" ? RDS_MASTER_PASSWORD.maxLength : 128);
  cluster.declareToken(props.password, {
    maxLength,
    charset: "any",
    description: "the database password",
  });
  const check = Token.isUnresolved(props.password)
    ? addPasswordCheck(cluster.construct, "database-password-check", kind, props.password, maxLength)
    : undefined;
  cluster.registerSecret("database-password", props.password, "the database password");
  return { value: props.password, ...(check ? { check } : {}) };
}

function common(props: CommonDatabaseProps, pw: string) {
  return {
    ...(props.databaseName !== undefined ? { name: props.databaseName } : {}),
    ...(props.user !== undefined ? { user: props.user } : {}),
    password: pw,
  };
}

class NodeDatabase extends Database {
  constructor(private readonly props: DatabaseOnNodeProps) {
    super();
  }

  public bind(cluster: ClusterContext): DatabaseBinding {
    const name = this.props.name ?? "db1";
    new DatabaseNode(cluster.construct, name, {
      ...(this.props.size !== undefined ? { size: this.props.size } : {}),
      ...(this.props.volumeSizeGb !== undefined ? { volumeSizeGb: this.props.volumeSizeGb } : {}),
      ...(this.props.privateIp !== undefined ? { privateIp: this.props.privateIp } : {}),
    });
    return { input: { node: name, ...common(this.props, password(cluster, this.props).value) }, managed: false };
  }
}

class ExternalDatabase extends Database {
  constructor(private readonly props: ExternalDatabaseProps) {
    super();
  }

  public bind(cluster: ClusterContext): DatabaseBinding {
    return {
      input: {
        host: this.props.host,
        ...(this.props.port !== undefined ? { port: this.props.port } : {}),
        ...common(this.props, password(cluster, this.props).value),
      },
      managed: false,
    };
  }
}

class ManagedDatabase extends Database {
  constructor(private readonly props: ManagedDatabaseProps) {
    super();
  }

  public bind(cluster: ClusterContext, clusterName: string): DatabaseBinding {
    const { value: pw, check } = password(cluster, this.props, "rds");
    const hostname = this.props.hostname ?? `db.${clusterName}.internal`;
    const add = cluster.deployment.addManagedDatabase?.bind(cluster.deployment);
    if (!cluster.capabilities.managedDatabase || !add) {
      cluster.report({
        code: "GRX208",
        path: cluster.construct.node.path,
        field: "database",
        message: "Database.rds needs a managed database, and this platform has none.",
        fix: "Use Database.onNode (MariaDB on its own node) or Database.external.",
      });
    } else {
      this.checkMaster(cluster);
      const db = add(new Construct(cluster.construct, "database"), {
        engine: "mariadb",
        ...(this.props.engineVersion !== undefined ? { engineVersion: this.props.engineVersion } : {}),
        ...(this.props.size !== undefined ? { size: this.props.size } : {}),
        storageGb: this.props.storageGb ?? 50,
        databaseName: this.props.databaseName ?? "grommunio",
        user: this.props.user ?? "grommunio",
        password: pw,
        hostname,
        deletionProtection: this.props.deletionProtection ?? true,
      });
      // A refused password stops before the instance is created (as it does before any machine).
      if (check) db.resource.dependsOn = [...(db.resource.dependsOn ?? []), dependency(check)];
    }
    return { input: { host: hostname, ...common(this.props, pw) }, managed: true };
  }

  /**
   * The master user name and a literal password as RDS takes them (CreateDBInstance
   * `MasterUsername`, `MasterUserPassword` for MariaDB): the provider checks neither at plan, so
   * RDS would refuse them at apply, after other resources were created. A Terraform-supplied
   * password is checked at plan (`password`, kind `rds`). The messages never show the password.
   */
  private checkMaster(cluster: ClusterContext): void {
    const path = cluster.construct.node.path;
    const user = this.props.user ?? "grommunio";
    if (!Token.isUnresolved(user) && !RDS_MASTER_USER.test(user))
      cluster.report({
        code: "GRX224",
        path,
        field: "database.user",
        message: `"${user}" is the RDS master user name, and RDS takes 1 to 16 letters, digits or _, a letter first (CreateDBInstance MasterUsername).`,
        fix: 'Use such a name with Database.rds, e.g. the default "grommunio".',
      });
    else if (!Token.isUnresolved(user) && RESERVED.has(user.toUpperCase()))
      cluster.report({
        code: "GRX224",
        path,
        field: "database.user",
        message: `"${user}" is the RDS master user name, and it is a reserved word of MariaDB (${user.toUpperCase()}), which RDS refuses (CreateDBInstance MasterUsername).`,
        fix: 'Use a name that is no reserved word with Database.rds, e.g. the default "grommunio" or "gromox_admin".',
      });
    const pw = this.props.password;
    if (pw === undefined || Token.isUnresolved(pw)) return;
    const { minLength, maxLength, pattern } = RDS_MASTER_PASSWORD;
    const length = pw.length; // UTF-16 units: a non-ASCII password fails the pattern anyway
    const problems = [
      ...(new RegExp(pattern).test(pw)
        ? []
        : ['holds a character RDS refuses: it takes printable ASCII except "/", "@", \'"\' and the space']),
      ...(length >= minLength && length <= maxLength
        ? []
        : [`is not ${minLength} to ${maxLength} characters long, as RDS for MariaDB wants it`]),
    ];
    if (problems.length > 0)
      cluster.report({
        code: "GRX225",
        path,
        field: "database.password",
        message: `the database password is also the RDS master password, and it ${problems.join(", and ")} (CreateDBInstance MasterUserPassword).`,
        fix: `Omit password (a random_password of ${GENERATED_PASSWORD_LENGTH} letters and digits), or give one of ${minLength} to ${maxLength} printable ASCII characters without "/", "@", '"' or a space.`,
      });
  }
}
