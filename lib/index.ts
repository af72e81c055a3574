/**
 * cdktf-grommunio public API.
 *
 * Constructs (GrommunioCluster, GromoxNode, ClassicNode, LoadBalancerTier, Database, storage),
 * platforms (AWS, Hetzner Cloud, libvirt/KVM, vSphere), the topology model with its port table
 * and validation, and the pure renderers behind every generated file.
 */
export * from "./topology";
export * from "./render/types";
export { renderNodeFiles, renderLoadBalancer } from "./render/node";
export * from "./platforms/platform";
export * from "./platforms/aws";
export * from "./platforms/hcloud";
export * from "./platforms/libvirt";
export * from "./platforms/vsphere";
export * from "./platforms/docker";
export * from "./platforms/vm";
export * from "./provision";
export * from "./cluster";
export * from "./dns";
export * from "./render/dns";
export * from "./render/diagram";
