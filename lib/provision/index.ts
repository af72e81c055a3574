export * from "./model";
export * from "./packages";
export * from "./node";
export * from "./tokens";
export * from "./cloud-init";
export * from "./user-data";
export * from "./sources";
export * from "./readiness";
