// Platform.vsphere is assigned in ../optional, which loads this module on its first call.
import "../optional";
import type { VspherePlatform, VspherePlatformProps } from "./vsphere-platform";

export * from "./vsphere-platform";

declare module "../platform" {
  interface PlatformFactories {
    /** VMware vSphere: VMs cloned from a cloud-init template, guestinfo user-data, attached data disks. */
    vsphere(props: VspherePlatformProps): VspherePlatform;
  }
}
