/**
 * HAProxy renderer for the load-balancer tier (flavor haproxy) and the node-aware routing map.
 */
export * from "./config";
export * from "./mailbox-map";
export * from "./options";
export * from "./render";
export * from "./validate";
