export * from "./model";
export * from "./serialize";
export * from "./firewall";
export * from "./plan";
