/**
 * Builds every example stack (`cdktf synth` runs this, see cdktf.json). To add an example:
 * one import and one call in `buildExamples`.
 */
import { App } from "cdktf";
import { Construct } from "constructs";
import { awsExample } from "./aws/main";
import { dockerExample } from "./docker/main";
import { hcloudExample } from "./hcloud/main";
import { hcloudSharedExample } from "./hcloud-shared/main";
import { kvmExample } from "./kvm/main";
import { vmwareExample } from "./vmware/main";

/** Adds every example stack to `app`. */
export function buildExamples(app: Construct): void {
  awsExample(app);
  hcloudExample(app);
  hcloudSharedExample(app);
  kvmExample(app);
  vmwareExample(app);
  dockerExample(app);
}

if (require.main === module) {
  const app = new App();
  buildExamples(app);
  app.synth();
}
