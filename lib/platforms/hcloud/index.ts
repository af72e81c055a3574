import { Platform } from "../platform";
import { HcloudPlatform, HcloudPlatformProps } from "./hcloud-platform";

export * from "./hcloud-platform";
export * from "./network";
export * from "./firewall";

declare module "../platform" {
  interface PlatformFactories {
    /** Hetzner Cloud: network, servers, volumes, cloud firewalls (public side), load balancer. */
    hcloud(props: HcloudPlatformProps): HcloudPlatform;
  }
}

(Platform as { hcloud: (props: HcloudPlatformProps) => HcloudPlatform }).hcloud = (props: HcloudPlatformProps) =>
  new HcloudPlatform(props);
