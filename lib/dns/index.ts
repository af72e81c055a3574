/** Publishing the cluster's DNS records (Route53, zone file) and its DKIM key. */
export * from "./mail-dns";
