/** Operations: failover, rebalance and the load balancers' live mailbox.map (`renderOpsFiles`). */
export * from "./literal";
export * from "./map-query";
export * from "./render";
