/**
 * Platforms whose Terraform provider bindings are optional peer dependencies, loaded on first use.
 *
 * `@cdktf/provider-aws` alone is about 390 MB installed and ~65 ms to load; a cluster on Hetzner
 * Cloud, libvirt or vSphere should neither install nor load it. So `Platform.aws`,
 * `Platform.vsphere` and `Platform.docker` are registered here without loading their modules:
 * each loads its platform module when first called, and the package root exports only the types of
 * those modules. Their classes and constants (as values) are in the subpath exports
 * `cdktf-grommunio/aws`, `/vsphere` and `/docker`; importing a subpath loads that platform.
 *
 * A missing package is reported when the platform is asked for, naming the install command.
 */
import { Platform } from "./platform";
import type { AwsPlatform, AwsPlatformProps } from "./aws/aws-platform";
import type { DockerPlatform, DockerPlatformProps } from "./docker/docker-platform";
import type { VspherePlatform, VspherePlatformProps } from "./vsphere/vsphere-platform";

/**
 * The optional peer dependencies and the version ranges package.json declares for them (a test
 * keeps the two in step).
 */
export const OPTIONAL_PROVIDER_PACKAGES = {
  "@cdktf/provider-aws": "^21.22.1",
  "@cdktf/provider-docker": "^12.0.3",
  "@cdktf/provider-vsphere": "^11.2.1",
} as const;

export type OptionalProviderPackage = keyof typeof OPTIONAL_PROVIDER_PACKAGES;

/** True when `error` is Node's "Cannot find module" for `pkg` itself (not for something it requires). */
function isMissing(error: unknown, pkg: OptionalProviderPackage): boolean {
  if (!(error instanceof Error) || (error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") return false;
  return (
    error.message.startsWith(`Cannot find module '${pkg}'`) || error.message.startsWith(`Cannot find module '${pkg}/`)
  );
}

/**
 * `load()`, with a missing `pkg` reported as an error that names what needed it and how to install
 * it. Any other error passes through unchanged.
 */
export function loadOptional<T>(pkg: OptionalProviderPackage, neededBy: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!isMissing(error, pkg)) throw error;
    const range = OPTIONAL_PROVIDER_PACKAGES[pkg];
    throw new Error(
      `${neededBy} needs the npm package ${pkg}, an optional peer dependency of cdktf-grommunio that is not ` +
        `installed. Install it next to cdktf-grommunio: npm install ${pkg}@"${range}"`,
      { cause: error },
    );
  }
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, see the file comment */
const factories = Platform as {
  aws: (props?: AwsPlatformProps) => AwsPlatform;
  docker: (props?: DockerPlatformProps) => DockerPlatform;
  vsphere: (props: VspherePlatformProps) => VspherePlatform;
};
factories.aws = (props: AwsPlatformProps = {}) => {
  const m = loadOptional("@cdktf/provider-aws", "Platform.aws", () => require("./aws") as typeof import("./aws"));
  return new m.AwsPlatform(props);
};
factories.docker = (props: DockerPlatformProps = {}) => {
  const m = loadOptional(
    "@cdktf/provider-docker",
    "Platform.docker",
    () => require("./docker") as typeof import("./docker"),
  );
  return new m.DockerPlatform(props);
};
factories.vsphere = (props: VspherePlatformProps) => {
  const m = loadOptional(
    "@cdktf/provider-vsphere",
    "Platform.vsphere",
    () => require("./vsphere") as typeof import("./vsphere"),
  );
  return new m.VspherePlatform(props);
};
/* eslint-enable @typescript-eslint/no-require-imports */
