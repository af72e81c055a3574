/**
 * The overhead benchmark's floor: the gzip a library synth cannot avoid, because its output holds
 * the compressed bytes.
 *
 * Where a platform takes binary gzip (Hetzner), user-data and `write_files` contents are gzip
 * members made by the library at synth, written into cdk.tf.json as base64. The bare stack is
 * handed those strings finished; any library that writes this output has to compress the same
 * texts first. The floor variant is the bare stack plus that compression (the library's own
 * `gzipDeterministic` / `gzipPaddedToThree`, level 9), so "floor / bare" is what the gzip alone
 * costs against the target, before any topology, rendering, YAML or size bound.
 *
 * `outputGzipMembers` finds the members in a synthesized stack: every base64 run that starts with
 * gzip's magic (`H4sI`) in any string, and again inside each member's text (files gzipped inside a
 * gzipped document). Each member must be reproduced byte for byte by one of the two library
 * functions, or the floor would time other work: anything else throws. Members that are equal
 * count once, since one compression is enough for them (the fetch script in every AWS node's
 * user-data): the floor is a lower bound. Terraform's own gzip (`base64gzip(...)` expressions) is
 * computed at apply time and is in neither side.
 */
import { gunzipSync } from "node:zlib";
import { gzipDeterministic, gzipPaddedToThree } from "../lib/provision/tokens";
import type { Json } from "./bare";

/** One gzip member of the output: its text, and which library function made it. */
export interface OutputGzip {
  /** The uncompressed text, base64 (as the child request carries it). */
  readonly text: string;
  /** Made by `gzipPaddedToThree` (a header comment pads it to a multiple of 3 bytes). */
  readonly padded: boolean;
  /** Bytes of the member. */
  readonly gzipBytes: number;
  /** Where it was first found (JSON path, then `> member` per level of nesting). */
  readonly where: string;
}

/** base64 that starts with a gzip header (1f 8b 08: "H4sI"); standard alphabet, optional padding. */
const GZIP_BASE64 = /H4sI[A-Za-z0-9+/]*={0,2}/g;

/** Every gzip member the library made that stands in `synthesized`, deduplicated by its bytes. */
export function outputGzipMembers(synthesized: Json): OutputGzip[] {
  const seen = new Map<string, OutputGzip>();
  const inText = (text: string, where: string): void => {
    for (const m of text.matchAll(GZIP_BASE64)) {
      const b64 = m[0];
      if (seen.has(b64)) continue;
      const member = Buffer.from(b64, "base64");
      let plain: Buffer;
      try {
        plain = gunzipSync(member);
      } catch (e) {
        throw new Error(
          `${where}: a base64 run starting with gzip's magic does not decompress (${(e as Error).message}); ` +
            "the floor would not match the output",
        );
      }
      const padded = !member.equals(gzipDeterministic(plain));
      if (padded && !member.equals(gzipPaddedToThree(plain))) {
        throw new Error(
          `${where}: a gzip member (${member.length} B) that neither gzipDeterministic nor gzipPaddedToThree ` +
            "reproduces; the floor times the library's gzip, so it cannot stand for this member",
        );
      }
      seen.set(b64, { text: plain.toString("base64"), padded, gzipBytes: member.length, where });
      inText(plain.toString("utf8"), `${where} > member`);
    }
  };
  const walk = (value: Json, where: string): void => {
    if (typeof value === "string") inText(value, where);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}[${i}]`));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
    }
  };
  walk(synthesized, "$");
  return [...seen.values()];
}

/** The members' texts, decoded once before a timed region (base64 decoding does not touch zlib). */
export type GzipReplay = ReadonlyArray<{ readonly text: Buffer; readonly padded: boolean }>;

export function gzipReplay(members: readonly OutputGzip[]): GzipReplay {
  return members.map((m) => ({ text: Buffer.from(m.text, "base64"), padded: m.padded }));
}

/** Compresses every member's text as the library did; returns the bytes made. */
export function replayGzip(replay: GzipReplay): number {
  let bytes = 0;
  for (const { text, padded } of replay) bytes += (padded ? gzipPaddedToThree(text) : gzipDeterministic(text)).length;
  return bytes;
}
