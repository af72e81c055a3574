/**
 * nginx renderer for the load-balancer tier (flavor nginx).
 */
export * from "./options";
export * from "./render";
export * from "./syntax";
export * from "./validate";
