/**
 * cdktf-grommunio public API.
 */
export * from "./topology";
export * from "./render/types";
