export * from "./addressing";
export * from "./firewall";
export * from "./exposure";
export * from "./nodes";
export * from "./database";
export * from "./storage";
export * from "./load-balancer";
export * from "./cluster";
export type { ClusterContext, ClusterMember, MailboxVolume, TierMember } from "./context";
