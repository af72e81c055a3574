/**
 * VMware vSphere example: the layout of grommunio's multi-server documentation on vSphere.
 *
 *   3 mailbox nodes (share-nothing: a 200 GiB thin data disk each; mail1 also runs the admin API)
 *   2 classic nodes (postfix, IMAP, POP3)
 *   2 HAProxy nodes (node-aware routing; admin frontend only from 203.0.113.0/24)
 *   1 MariaDB node (its data on its own disk)
 *
 * Every VM is cloned from the template `debian-12-cloudinit` (cloud-init ≥ 21.3 with the VMware
 * datasource, open-vm-tools) onto the port group `grommunio` (10.10.10.0/24, router 10.10.10.1).
 * vSphere has no IPAM: the nodes get addresses derived from their names (mail1 → 10.10.10.21,
 * classic1 → .121, lb1 → .11, db1 → .5), static MACs 00:50:56:0a:0a:<last byte> and a netplan
 * configuration in `guestinfo.metadata`; user-data travels gzip+base64 in `guestinfo.userdata`.
 * No firewall in the provider: every node gets an nftables ruleset from the cluster's firewall plan.
 * Data disks are separate `vsphere_virtual_disk`s, so a user-data change re-creates the VM from the
 * template (configChangePolicy "replace" through `replace_trigger`) without losing mailboxes.
 *
 *   export TF_VAR_vsphere_server=vcenter.example.com TF_VAR_vsphere_user=… TF_VAR_vsphere_password=…
 *   CHECKPOINT_DISABLE=1 npx cdktf synth      # all examples, see examples/main.ts
 *   npx tsx examples/vmware/main.ts           # this one alone
 */
import { App, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import {
  ClassicNode,
  ConfigChangePolicy,
  Database,
  GromoxNode,
  GrommunioCluster,
  LoadBalancerTier,
  Platform,
  ShareNothing,
} from "../../lib";
import "../../lib/platforms/vsphere";
import { VsphereDeployment, VspherePlatformProps } from "../../lib/platforms/vsphere";

export interface VmwareExampleOptions {
  /** Stack name. @default "grommunio-vmware" */
  readonly stackName?: string;
  /** Mailbox node names. @default ["mail1", "mail2", "mail3"] */
  readonly mailboxNodes?: readonly string[];
  /** Platform settings on top of the example's. @default none */
  readonly platform?: Partial<VspherePlatformProps>;
  /** @default "replace" (the platform's default) */
  readonly configChangePolicy?: ConfigChangePolicy;
}

/** Builds the vSphere example stack in `app`. */
export function vmwareExample(app: Construct, options: VmwareExampleOptions = {}): TerraformStack {
  const stack = new TerraformStack(app, options.stackName ?? "grommunio-vmware");
  const cluster = new GrommunioCluster<VsphereDeployment>(stack, "mail", {
    platform: Platform.vsphere({
      datacenter: "dc1",
      datastore: "datastore1",
      computeCluster: "cluster1",
      network: { name: "grommunio", gateway: "10.10.10.1", dnsServers: ["10.10.10.1"] },
      template: "debian-12-cloudinit",
      folder: "grommunio",
      ...options.platform,
    }),
    domain: "example.com",
    gromoxVersion: "3.10",
    network: { cidr: "10.10.10.0/24" },
    storage: new ShareNothing({ volumeSizeGb: 200 }),
    database: Database.onNode({ volumeSizeGb: 50 }),
    ...(options.configChangePolicy !== undefined ? { configChangePolicy: options.configChangePolicy } : {}),
  });
  for (const name of options.mailboxNodes ?? ["mail1", "mail2", "mail3"]) {
    new GromoxNode(cluster, name, { admin: name === "mail1" });
  }
  new ClassicNode(cluster, "classic1");
  new ClassicNode(cluster, "classic2");
  new LoadBalancerTier(cluster, "lb", {
    flavor: "haproxy",
    nodes: 2,
    nodeAwareRouting: true,
    adminAllowFrom: ["203.0.113.0/24"],
  });
  return stack;
}

if (require.main === module) {
  const app = new App();
  vmwareExample(app);
  app.synth();
}
