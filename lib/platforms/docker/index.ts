// Platform.docker is assigned in ../optional, which loads this module on its first call.
import "../optional";
import type { DockerPlatform, DockerPlatformProps } from "./docker-platform";

export * from "./docker-platform";

declare module "../platform" {
  interface PlatformFactories {
    /** Docker: internal cluster network, one container per node with uploaded files, volumes, published LB ports. */
    docker(props?: DockerPlatformProps): DockerPlatform;
  }
}
