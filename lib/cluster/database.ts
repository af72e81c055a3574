/**
 * Where the cluster's MariaDB lives: on its own node (`Database.onNode`), outside the cluster
 * (`Database.external`), or as the platform's managed database (`Database.rds`). Passwords are
 * Terraform values: a `random_password` unless you pass a reference of your own (never a value
 * generated at synth, which would change on every synth).
 */
import { Construct } from "constructs";
import { Token } from "../provision/cdktf";
import type { DatabaseInput } from "../topology";
import { ClusterContext } from "./context";
import { DatabaseNode } from "./nodes";
import { addPasswordCheck } from "./password-check";

/** Length of generated database passwords (letters and digits: safe in every config syntax). */
export const GENERATED_PASSWORD_LENGTH = 32;

interface CommonDatabaseProps {
  /** @default "grommunio" (as the installer) */
  readonly databaseName?: string;
  /** @default "grommunio" */
  readonly user?: string;
  /**
   * The gromox account's password: a Terraform reference (SSM parameter, Secrets Manager,
   * variable) or, for tests, a literal. The files take a reference's value unescaped, so the plan
   * stops (a `terraform_data` precondition) when it holds a quote, a backslash, a control
   * character or a blank at either end, or is longer than 4083 UTF-8 bytes (db.cnf's line;
   * docs/security.md, "Secrets").
   * @default a `random_password` of 32 letters and digits (sensitive, kept in the state)
   */
  readonly password?: string;
  /**
   * Upper bound of `password`'s length when it is a Terraform reference (counts against the
   * user-data size limit).
   * @default 128
   */
  readonly passwordMaxLength?: number;
}

export interface DatabaseOnNodeProps extends CommonDatabaseProps {
  /** Node name; must end with its number. @default "db1" */
  readonly name?: string;
  /** Machine type. @default the platform's default for database nodes (AWS r6i.large) */
  readonly size?: string;
  /** MariaDB data volume in GiB (mounted at /var/lib/mysql). @default 50 */
  readonly volumeSizeGb?: number;
  /** @default derived from the name (the database block: db1 → .5 in a /24) */
  readonly privateIp?: string;
}

export interface ExternalDatabaseProps extends CommonDatabaseProps {
  /** Host name or IPv4 address every node can reach. */
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

function password(cluster: ClusterContext, props: CommonDatabaseProps): string {
  if (props.password === undefined) return cluster.secret("database-password", GENERATED_PASSWORD_LENGTH);
  const maxLength = props.passwordMaxLength ?? 128;
  cluster.declareToken(props.password, {
    maxLength,
    charset: "any",
    description: "the database password",
  });
  if (Token.isUnresolved(props.password))
    addPasswordCheck(cluster.construct, "database-password-check", "database", props.password, maxLength);
  cluster.registerSecret("database-password", props.password, "the database password");
  return props.password;
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
    return { input: { node: name, ...common(this.props, password(cluster, this.props)) }, managed: false };
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
        ...common(this.props, password(cluster, this.props)),
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
    const pw = password(cluster, this.props);
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
      add(new Construct(cluster.construct, "database"), {
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
    }
    return { input: { host: hostname, ...common(this.props, pw) }, managed: true };
  }
}
