/**
 * Builds every example stack (`cdktf synth` runs this, see cdktf.json). To add an example:
 * one import and one call below.
 */
import { App } from "cdktf";
import { awsExample } from "./aws/main";

const app = new App();
awsExample(app);
app.synth();
