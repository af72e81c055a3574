/** MariaDB side of the cluster: server settings, bootstrap (database, accounts), grants, servers seed. */
export * from "./sql";
export * from "./bootstrap";
export * from "./seed";
export * from "./map-view";
export * from "./mariadb";
