import { Platform } from "../platform";
import { DockerPlatform, DockerPlatformProps } from "./docker-platform";

export * from "./docker-platform";

declare module "../platform" {
  interface PlatformFactories {
    /** Docker: internal cluster network, one container per node with uploaded files, volumes, published LB ports. */
    docker(props?: DockerPlatformProps): DockerPlatform;
  }
}

(Platform as { docker: (props?: DockerPlatformProps) => DockerPlatform }).docker = (props: DockerPlatformProps = {}) =>
  new DockerPlatform(props);
