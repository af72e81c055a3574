// Platform.aws is assigned in ../optional, which loads this module on its first call.
import "../optional";
import type { AwsPlatform, AwsPlatformProps } from "./aws-platform";

export * from "./aws-platform";
export * from "./files";
export * from "./files-fetch";
export * from "./identity";
export * from "./network";
export * from "./secrets";
export * from "./ssm-fetch";

declare module "../platform" {
  interface PlatformFactories {
    /** AWS: VPC, security groups, EC2 instances, EBS, EFS, RDS, NLB. */
    aws(props?: AwsPlatformProps): AwsPlatform;
  }
}
