import { Platform } from "../platform";
import { VspherePlatform, VspherePlatformProps } from "./vsphere-platform";

export * from "./vsphere-platform";

declare module "../platform" {
  interface PlatformFactories {
    /** VMware vSphere: VMs cloned from a cloud-init template, guestinfo user-data, attached data disks. */
    vsphere(props: VspherePlatformProps): VspherePlatform;
  }
}

(Platform as { vsphere: (props: VspherePlatformProps) => VspherePlatform }).vsphere = (props: VspherePlatformProps) =>
  new VspherePlatform(props);
