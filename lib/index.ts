/**
 * cdktf-grommunio public API.
 *
 * Constructs (GrommunioCluster, GromoxNode, ClassicNode, LoadBalancerTier, Database, storage),
 * platforms (AWS, Hetzner Cloud, libvirt/KVM, vSphere), the topology model with its port table
 * and validation, and the pure renderers behind every generated file.
 *
 * AWS, vSphere and Docker need optional peer dependencies (their provider packages): the root
 * exports their types and `Platform.aws` / `.vsphere` / `.docker`, which load the platform on first
 * call; their classes and constants as values are in `cdktf-grommunio/aws`, `/vsphere`, `/docker`
 * (lib/platforms/optional.ts).
 */
export * from "./topology";
export * from "./render/types";
export { renderNodeFiles, renderLoadBalancer } from "./render/node";
export * from "./platforms/platform";
export type * from "./platforms/aws";
export * from "./platforms/hcloud";
export * from "./platforms/libvirt";
export type * from "./platforms/vsphere";
export type * from "./platforms/docker";
export { OPTIONAL_PROVIDER_PACKAGES } from "./platforms/optional";
export type { OptionalProviderPackage } from "./platforms/optional";
export { CREATION_STACKS_CONTEXT } from "./provision/cdktf";
export * from "./platforms/vm";
export * from "./provision";
export * from "./cluster";
export * from "./dns";
export * from "./render/dns";
export * from "./render/diagram";
