import { Platform } from "../platform";
import { LibvirtPlatform, LibvirtPlatformProps } from "./libvirt-platform";

export * from "./libvirt-platform";
export * from "./xslt";

declare module "../platform" {
  interface PlatformFactories {
    /** KVM/libvirt: a nat/route network, copy-on-write root disks, NoCloud seeds, data volumes. */
    libvirt(props: LibvirtPlatformProps): LibvirtPlatform;
  }
}

(Platform as { libvirt: (props: LibvirtPlatformProps) => LibvirtPlatform }).libvirt = (props: LibvirtPlatformProps) =>
  new LibvirtPlatform(props);
