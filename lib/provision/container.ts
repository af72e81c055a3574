/**
 * `NodeProvisioning` → what a container receives instead of cloud-init (platforms whose
 * `capabilities.bootstrap` is `files`, i.e. Docker): the node's files, unchanged, plus two files of
 * our own under `/etc/grommunio-provision/`:
 *
 * - `manifest.json`: node, packages the image must contain, every file with its owner and mode
 *   (a container runtime can set modes when it copies files in, never owners), the firewall file,
 *   the data mount points, the first-boot steps and the service start order — for image authors
 *   who write their own init;
 * - `boot.sh`: the same, as a POSIX script the container runs as its entrypoint (as root):
 *   1. copy staged files over the ones the runtime manages (`/etc/hosts`: Docker bind-mounts its
 *      own over whatever the image or an upload put there);
 *   2. owners and modes of every file (once per container: a first-boot step may remove a file);
 *   3. refuse to start when a data mount point is not a mount (the data would land in the
 *      container's own layer and die with it);
 *   4. load `/etc/nftables.conf` when the node has one (needs CAP_NET_ADMIN), then re-execute
 *      itself without CAP_NET_ADMIN (`setpriv`), so nothing started later can change the
 *      container's addresses or rules;
 *   5. refuse to start when the image lacks a package the node needs;
 *   6. `before-services` steps, once per container (as cloud-init's runcmd once per instance),
 *      each with `sh -ec` (under `set -e`, as runcmd runs them) and stopping at the first failure;
 *   7. `grommunio-service start <unit>` for every service, in order (the image's helper: there is
 *      no systemd in the container);
 *   8. `after-services` steps, once per container;
 *   9. `exec grommunio-service wait` (the image's supervisor keeps the container alive).
 *
 * The pinned accounts (`NodeProvisioning.accounts`) are not created here: a container's accounts
 * are its image's (the packages are installed when the image is built), and containers mount no
 * NFS (docs/operations.md, "Account ids").
 *
 * Pure and deterministic: the same provisioning gives the same bytes. Node files keep Terraform
 * tokens (secrets) in their content; the manifest and the script never hold any.
 */
import { IssueCollector, ValidationIssue } from "../topology";
import { NodeProvisioning } from "./model";
import { NFTABLES_PATH } from "./node";
import { hasTokens } from "./tokens";

/** Where the container bootstrap lives in the container. */
export const CONTAINER_PROVISION_DIR = "/etc/grommunio-provision";
export const CONTAINER_MANIFEST_PATH = `${CONTAINER_PROVISION_DIR}/manifest.json`;
export const CONTAINER_BOOT_SCRIPT_PATH = `${CONTAINER_PROVISION_DIR}/boot.sh`;
/** Staged copies of files the runtime manages (`staged/etc/hosts`). */
export const CONTAINER_STAGED_DIR = `${CONTAINER_PROVISION_DIR}/staged`;
/** Markers of the first-boot steps (in the container's own layer: a new container runs them again). */
export const CONTAINER_STATE_DIR = "/var/lib/grommunio-provision";
/**
 * The image's service helper: `grommunio-service start <unit>` starts a unit's daemon (the image
 * maps systemd unit names to its supervisor) and returns once it runs; `grommunio-service wait`
 * supervises until the container stops.
 */
export const CONTAINER_SERVICE_HELPER = "grommunio-service";
/** The entrypoint that runs the bootstrap (what the Docker platform sets on every container). */
export const CONTAINER_ENTRYPOINT: readonly string[] = ["/bin/sh", CONTAINER_BOOT_SCRIPT_PATH];

/**
 * Files container runtimes bind-mount over the image's at start (Docker: `/etc/hosts`,
 * `/etc/hostname`, `/etc/resolv.conf`): an upload to these paths would be hidden, so they are
 * uploaded under `CONTAINER_STAGED_DIR` and copied over the runtime's file by `boot.sh`.
 */
export const RUNTIME_MANAGED_PATHS: readonly string[] = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/** One file to put into the container. */
export interface ContainerFile {
  /** Where the file belongs (what the node's provisioning says). */
  readonly path: string;
  /** Where it is uploaded: `path`, or its staged copy for runtime-managed paths. */
  readonly uploadPath: string;
  /** The exact content (may hold Terraform tokens: secrets). */
  readonly content: string;
  /** Octal mode, e.g. "0640"; the upload sets it. */
  readonly mode: string;
  /** `user:group`; set by boot.sh (uploads cannot set owners). */
  readonly owner: string;
  /** `node`: from the provisioning; `bootstrap`: the manifest and boot.sh. */
  readonly origin: "node" | "bootstrap";
}

export interface ContainerManifest {
  readonly version: 1;
  readonly node: string;
  readonly fqdn: string;
  /** Debian packages the image must contain (boot.sh checks them). */
  readonly packages: readonly string[];
  /** Every node file: where it belongs, owner, mode, and the staged path when it is not uploaded in place. */
  readonly files: readonly { path: string; owner: string; mode: string; stagedAt?: string }[];
  /** The nftables file loaded before anything starts (absent: no in-container firewall). */
  readonly firewall?: string;
  /** Mount points that must be volumes (data that outlives the container). */
  readonly dataMounts: readonly string[];
  /** First-boot steps in order (their shell is in boot.sh). */
  readonly commands: readonly { phase: "before-services" | "after-services"; description: string }[];
  /** Units started in this order by `grommunio-service start` (the firewall is loaded, not started). */
  readonly services: readonly string[];
  readonly serviceHelper: string;
  /** Open-file limit the container needs (from the services' `LimitNOFILE`), set by the runtime. */
  readonly nofile?: number;
}

export interface ContainerBootstrap {
  /** Node files (sorted by path), then the manifest and boot.sh. */
  readonly files: readonly ContainerFile[];
  readonly manifest: ContainerManifest;
  readonly script: string;
  /** The container needs CAP_NET_ADMIN at start (to load the firewall; boot.sh drops it). */
  readonly needsNetAdmin: boolean;
  readonly issues: readonly ValidationIssue[];
}

const FILES_MARKER = `${CONTAINER_STATE_DIR}/files.done`;

/** systemd drop-ins of services (`/etc/systemd/system/<unit>.service.d/*.conf`). */
const SERVICE_DROP_IN = /^\/etc\/systemd\/system\/[^/]+\.service\.d\/[^/]+\.conf$/;

/**
 * The largest `LimitNOFILE=` of the node's systemd drop-ins (e.g. HAProxy's): a container has no
 * systemd to apply it, so the runtime sets it for the whole container (`ulimit nofile`).
 */
export function containerNofileLimit(p: NodeProvisioning): number | undefined {
  let max: number | undefined;
  for (const f of p.files) {
    if (!SERVICE_DROP_IN.test(f.path)) continue;
    for (const m of f.content.matchAll(/^LimitNOFILE=(\d+)\s*$/gm)) {
      const n = Number(m[1]);
      if (max === undefined || n > max) max = n;
    }
  }
  return max;
}

/** Single-quoted for POSIX sh. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function stagedPath(path: string): string {
  return `${CONTAINER_STAGED_DIR}${path}`;
}

/**
 * The container bootstrap of a node. `path` is the node's construct path (for issues). Problems
 * come back as coded issues: GRX245 (a first-boot command holds a Terraform value), GRX247 (a node
 * file under the bootstrap's own directory), GRX249 (an NFS mount: containers cannot mount NFS).
 */
export function renderContainerBootstrap(p: NodeProvisioning, path: string): ContainerBootstrap {
  const c = new IssueCollector();
  for (const f of p.files) {
    if (f.path === CONTAINER_PROVISION_DIR || f.path.startsWith(`${CONTAINER_PROVISION_DIR}/`)) {
      c.add(
        "GRX247",
        `${path}/files`,
        "path",
        `${f.path} is inside ${CONTAINER_PROVISION_DIR}, which the container bootstrap owns.`,
        `Write the file somewhere else; ${CONTAINER_PROVISION_DIR} holds only manifest.json, boot.sh and staged copies.`,
      );
    }
  }
  for (const cmd of p.commands) {
    if (hasTokens(cmd.shell)) {
      c.add(
        "GRX245",
        `${path}/commands`,
        "shell",
        `the first-boot step "${cmd.description}" holds a Terraform value; boot.sh is plain shell and never carries values Terraform fills in.`,
        "Put the value into a file (files may hold secrets) and let the command read that file.",
      );
    }
  }
  for (const m of p.mounts) {
    if (m.kind === "nfs") {
      c.add(
        "GRX249",
        `${path}/mounts`,
        "storage",
        `${p.name} would mount ${m.source} over NFS; containers cannot mount file systems.`,
        "Use ShareNothing (a Docker volume per mailbox node).",
      );
    }
  }

  const managed = new Set(RUNTIME_MANAGED_PATHS);
  const nodeFiles: ContainerFile[] = p.files.map((f) => ({
    path: f.path,
    uploadPath: managed.has(f.path) ? stagedPath(f.path) : f.path,
    content: f.content,
    mode: f.mode,
    owner: f.owner,
    origin: "node",
  }));
  const firewall = p.files.some((f) => f.path === NFTABLES_PATH) ? NFTABLES_PATH : undefined;
  const services = p.services.filter((s) => s !== "nftables");
  const dataMounts = p.mounts.filter((m) => m.kind === "block").map((m) => m.mountPoint);
  const nofile = containerNofileLimit(p);
  const manifest: ContainerManifest = {
    version: 1,
    node: p.name,
    fqdn: p.fqdn,
    packages: [...p.packages],
    files: nodeFiles.map((f) => ({
      path: f.path,
      owner: f.owner,
      mode: f.mode,
      ...(f.uploadPath !== f.path ? { stagedAt: f.uploadPath } : {}),
    })),
    ...(firewall !== undefined ? { firewall } : {}),
    dataMounts,
    commands: p.commands.map((cmd) => ({ phase: cmd.phase, description: cmd.description })),
    services,
    serviceHelper: CONTAINER_SERVICE_HELPER,
    ...(nofile !== undefined ? { nofile } : {}),
  };
  const script = bootScript(p, nodeFiles, firewall, services, dataMounts);
  return {
    files: [
      ...nodeFiles,
      {
        path: CONTAINER_MANIFEST_PATH,
        uploadPath: CONTAINER_MANIFEST_PATH,
        content: JSON.stringify(manifest, null, 2) + "\n",
        mode: "0644",
        owner: "root:root",
        origin: "bootstrap",
      },
      {
        path: CONTAINER_BOOT_SCRIPT_PATH,
        uploadPath: CONTAINER_BOOT_SCRIPT_PATH,
        content: script,
        mode: "0755",
        owner: "root:root",
        origin: "bootstrap",
      },
    ],
    manifest,
    script,
    needsNetAdmin: firewall !== undefined,
    issues: [...c.issues],
  };
}

function bootScript(
  p: NodeProvisioning,
  files: readonly ContainerFile[],
  firewall: string | undefined,
  services: readonly string[],
  dataMounts: readonly string[],
): string {
  const q = shellQuote;
  const once = (phase: "before-services" | "after-services") => {
    const steps = p.commands.filter((cmd) => cmd.phase === phase);
    if (steps.length === 0) return [`# ${phase}: none`];
    const marker = `${CONTAINER_STATE_DIR}/${phase}.done`;
    return [
      `# ${phase} steps, once per container (a replaced container runs them again; they are idempotent)`,
      `if [ ! -e ${q(marker)} ]; then`,
      ...steps.flatMap((cmd) => [
        `  log ${q(cmd.description)}`,
        `  sh -ec ${q(cmd.shell)} || fail ${q(`${phase} step failed: ${cmd.description}`)}`,
      ]),
      `  touch ${q(marker)}`,
      "fi",
    ];
  };
  const lines = [
    "#!/bin/sh",
    `# Container bootstrap of ${p.fqdn}, generated by cdktf-grommunio (see docs/platforms.md, Docker).`,
    "# Runs as root as the container's entrypoint; the same facts are in manifest.json.",
    "set -eu",
    `log() { echo "grommunio-boot(${p.name}): $*" >&2; }`,
    'fail() { log "$*"; exit 1; }',
    "",
    'if [ "${1:-}" != "--services" ]; then',
    "  # Files the container runtime rewrites at every start: the rendered content over the runtime's.",
    ...files.filter((f) => f.uploadPath !== f.path).map((f) => `  cat ${q(f.uploadPath)} > ${q(f.path)}`),
    `  mkdir -p ${q(CONTAINER_STATE_DIR)}`,
    "  # Owners and modes, once per container: uploads set modes, never owners (and a first-boot",
    "  # step may remove a file after use, e.g. a one-time password).",
    `  if [ ! -e ${q(FILES_MARKER)} ]; then`,
    ...files
      .filter((f) => f.uploadPath === f.path)
      .flatMap((f) => [`    chown ${q(f.owner)} ${q(f.path)}`, `    chmod ${q(f.mode)} ${q(f.path)}`]),
    `    touch ${q(FILES_MARKER)}`,
    "  fi",
    "  # Data must live on volumes: never start on the container's own layer.",
    ...dataMounts.map(
      (m) => `  mountpoint -q ${q(m)} || fail ${q(`${m} is not a volume: the data would die with the container`)}`,
    ),
    ...(firewall !== undefined
      ? [
          "  # The in-container firewall (the cluster's firewall plan, loaded at every start: the",
          "  # container's network namespace is new each time), then CAP_NET_ADMIN is dropped for good.",
          `  nft -f ${q(firewall)} || fail ${q(`cannot load ${firewall} (does the container have CAP_NET_ADMIN?)`)}`,
          `  exec setpriv --inh-caps=-net_admin --bounding-set=-net_admin /bin/sh ${q(CONTAINER_BOOT_SCRIPT_PATH)} --services`,
        ]
      : []),
    "fi",
    "",
    ...(p.packages.length > 0
      ? [
          "# The image must contain every package the node needs.",
          'missing=""',
          `for p in ${p.packages.map(q).join(" ")}; do`,
          `  [ "$(dpkg-query -W -f='\${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing="$missing $p"`,
          "done",
          '[ -z "$missing" ] || fail "the image lacks these packages:$missing"',
          "",
        ]
      : []),
    ...once("before-services"),
    "",
    "# Services in dependency order (the image's helper maps unit names to its supervisor).",
    ...services.map((s) => `${CONTAINER_SERVICE_HELPER} start ${q(s)} || fail ${q(`cannot start ${s}`)}`),
    "",
    ...once("after-services"),
    "",
    `log "ready"`,
    `exec ${CONTAINER_SERVICE_HELPER} wait`,
  ];
  return lines.join("\n") + "\n";
}
