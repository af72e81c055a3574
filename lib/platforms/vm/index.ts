export * from "./guest";
