/**
 * cdktf-grommunio public API.
 */
export * from "./topology";
export * from "./render/types";
export * from "./platforms/platform";
export * from "./platforms/aws";
export * from "./provision";
export * from "./cluster";
