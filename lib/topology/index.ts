export * from "./errors";
export * from "./versions";
export * from "./net";
export * from "./ports";
export * from "./model";
export * from "./build";
