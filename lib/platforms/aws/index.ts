import { Platform } from "../platform";
import { AwsPlatform, AwsPlatformProps } from "./aws-platform";

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

(Platform as { aws: (props?: AwsPlatformProps) => AwsPlatform }).aws = (props: AwsPlatformProps = {}) =>
  new AwsPlatform(props);
