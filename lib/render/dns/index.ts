/**
 * DNS records as code: every public record of a mail cluster derived from its topology, the
 * reverse-DNS data for the platform, the MTA-STS policy, and a provider-neutral zone file.
 */
export * from "./model";
export * from "./records";
export * from "./mta-sts";
export * from "./zone";
export * from "./table";
export {
  MAX_CHARACTER_STRING,
  PEM_ARMOR_PATTERN,
  checkDkimPublicKey,
  dkimRecordText,
  isUnresolved,
  pemBody,
  quoteTxt,
  txtCharacterStrings,
} from "./text";
