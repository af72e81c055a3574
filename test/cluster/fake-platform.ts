/**
 * A platform for construct tests: configurable capabilities, records what the cluster asked for
 * (machines, volumes, the firewall plan, user-data) and creates placeholder resources.
 */
import { TerraformResource } from "cdktf";
import { Construct } from "constructs";
import type {
  CloudLoadBalancer,
  CloudLoadBalancerSpec,
  FirewallPlan,
  MachineSpec,
  ManagedDatabase,
  ManagedDatabaseSpec,
  Platform,
  PlatformBindContext,
  PlatformCapabilities,
  PlatformDeployment,
  PlatformMachine,
  PlatformVolume,
  SharedFileSystem,
  SharedFileSystemSpec,
  UserData,
  VolumeSpec,
} from "../../lib";

export const FAKE_CAPABILITIES: PlatformCapabilities = {
  userData: { limitBytes: 32_768, countedAs: "raw-bytes", binaryGzip: false, nativeChangeBehaviour: "replace" },
  configChangePolicies: ["replace", "ignore"],
  defaultConfigChangePolicy: "replace",
  firewall: { cloud: true, filtersPrivateNetwork: false, maxGroupsPerMachine: 5 },
  subnet: { reservedLow: 2, reservedHigh: 1, minPrefix: 16, maxPrefix: 28 },
  sharedStorage: "nfs-node",
  managedDatabase: false,
  cloudLoadBalancer: { available: false, proxyProtocolV2: false },
  blockVolumes: true,
  operatingSystems: ["debian-12", "ubuntu-24.04"],
};

export class FakeMachine implements PlatformMachine {
  public userData?: UserData;
  constructor(
    public readonly spec: MachineSpec,
    public readonly resource: TerraformResource,
  ) {}
  public get name(): string {
    return this.spec.name;
  }
  public get privateIpv4(): string {
    return this.spec.privateIpv4;
  }
  public setUserData(userData: UserData): void {
    this.userData = userData;
  }
}

export class FakeDeployment implements PlatformDeployment {
  public readonly network: { cidr: string };
  public readonly machines = new Map<string, FakeMachine>();
  public readonly volumes: { machine: string; spec: VolumeSpec }[] = [];
  public plan?: FirewallPlan;
  public loadBalancer?: CloudLoadBalancerSpec;
  public addSharedFileSystem?: (scope: Construct, spec: SharedFileSystemSpec) => SharedFileSystem;
  public addManagedDatabase?: (scope: Construct, spec: ManagedDatabaseSpec) => ManagedDatabase;
  public addLoadBalancer?: (scope: Construct, spec: CloudLoadBalancerSpec) => CloudLoadBalancer;

  constructor(
    scope: Construct,
    public readonly context: PlatformBindContext,
    caps: PlatformCapabilities,
  ) {
    this.network = { cidr: context.network.cidr };
    void scope;
    if (caps.sharedStorage === "managed") {
      this.addSharedFileSystem = (s) => ({
        resource: new TerraformResource(s, "fs", { terraformResourceType: "fake_fs" }),
        source: "10.9.9.9:/",
        fsType: "nfs4",
        options: "nfsvers=4.1,_netdev",
        clientPackages: ["nfs-common"],
      });
    }
    if (caps.managedDatabase) {
      this.addManagedDatabase = (s, spec) => ({
        resource: new TerraformResource(s, "db", { terraformResourceType: "fake_db" }),
        host: spec.hostname,
        port: 3306,
      });
    }
    if (caps.cloudLoadBalancer.available) {
      this.addLoadBalancer = (s, spec) => {
        this.loadBalancer = spec;
        return {
          resource: new TerraformResource(s, "lb", { terraformResourceType: "fake_lb" }),
          dnsName: "lb.fake",
          privateIpv4s: ["10.10.10.250"],
        };
      };
    }
  }

  public addMachine(scope: Construct, spec: MachineSpec): FakeMachine {
    const m = new FakeMachine(spec, new TerraformResource(scope, "machine", { terraformResourceType: "fake_machine" }));
    this.machines.set(spec.name, m);
    return m;
  }

  public addVolume(scope: Construct, machine: PlatformMachine, spec: VolumeSpec): PlatformVolume {
    this.volumes.push({ machine: machine.name, spec });
    return {
      resource: new TerraformResource(scope, `${spec.id}-volume`, { terraformResourceType: "fake_volume" }),
      devicePath: `/dev/disk/by-id/fake-${machine.name}-${spec.id}`,
    };
  }

  public applyFirewall(scope: Construct, plan: FirewallPlan): void {
    void scope;
    this.plan = plan;
  }
}

export class FakePlatform implements Platform<FakeDeployment> {
  public readonly name = "fake";
  public readonly capabilities: PlatformCapabilities;
  constructor(overrides: Partial<PlatformCapabilities> = {}) {
    this.capabilities = { ...FAKE_CAPABILITIES, ...overrides };
  }
  public bind(scope: Construct, context: PlatformBindContext): FakeDeployment {
    return new FakeDeployment(scope, context, this.capabilities);
  }
}
