/**
 * What EC2 takes for an EBS data volume (CreateVolume), checked at synth: the AWS provider checks
 * only some of it at plan (iops with gp2/st1/sc1/standard, iops missing with io1/io2, throughput
 * beside another type than gp3, throughput outside 125–2000), and EC2 refuses the rest at apply,
 * after the instances and more were created (GRX229, GRX230).
 *
 * Sources (as of 2025-10): the EC2 API reference, CreateVolume `Size`, `Iops`, `Throughput`; the
 * EBS user guide, "General Purpose SSD volumes" (gp3: 3,000 IOPS and 125 MiB/s baseline, up to
 * 500 IOPS per GiB and 0.25 MiB/s per IOPS) and "Provisioned IOPS SSD volumes" (io1 50:1, io2
 * Block Express 1,000:1); the gp3 limits raised in 2025-09 (64 TiB, 80,000 IOPS, 2,000 MiB/s,
 * aws.amazon.com/about-aws/whats-new/2025/09/amazon-ebs-size-provisioned-performance-gp3-volumes).
 */

/** Limits of one volume type. */
export interface EbsVolumeLimits {
  /** Smallest and largest size, GiB. */
  readonly sizeGiB: readonly [number, number];
  /** Provisioned IOPS, for the types that take them. */
  readonly iops?: {
    readonly range: readonly [number, number];
    /** Most IOPS per GiB of size (above `baseline`). */
    readonly perGiB: number;
    /** IOPS every volume of the type has, whatever its size (gp3: 3000); none: `iops` is required. */
    readonly baseline?: number;
  };
  /** Provisioned throughput, MiB/s (gp3 only). */
  readonly throughput?: {
    readonly range: readonly [number, number];
    /** Most MiB/s per provisioned IOPS. */
    readonly perIops: number;
  };
}

/** EBS volume types and their limits, by API name. */
export const EBS_VOLUME_TYPES: Readonly<Record<string, EbsVolumeLimits>> = {
  gp2: { sizeGiB: [1, 16_384] },
  gp3: {
    sizeGiB: [1, 65_536],
    iops: { range: [3000, 80_000], perGiB: 500, baseline: 3000 },
    throughput: { range: [125, 2000], perIops: 0.25 },
  },
  io1: { sizeGiB: [4, 16_384], iops: { range: [100, 64_000], perGiB: 50 } },
  io2: { sizeGiB: [4, 65_536], iops: { range: [100, 256_000], perGiB: 1000 } },
  sc1: { sizeGiB: [125, 16_384] },
  st1: { sizeGiB: [125, 16_384] },
  standard: { sizeGiB: [1, 1024] },
};

/** The platform's volume type when none is given. */
export const EBS_DEFAULT_VOLUME_TYPE = "gp3";

export interface EbsVolumeProblem {
  readonly code: "GRX229" | "GRX230";
  readonly field: "type" | "sizeGb" | "iops" | "throughputMiBps";
  readonly message: string;
  readonly fix: string;
}

const n = (v: number): string => v.toLocaleString("en-US");

/**
 * Every problem of one volume, at most one per field: GRX229 for the type and its size range,
 * GRX230 for IOPS and throughput. Values that are Terraform tokens are not checked.
 */
export function ebsVolumeProblems(
  spec: { readonly type?: string; readonly sizeGb: number; readonly iops?: number; readonly throughputMiBps?: number },
  isToken: (v: unknown) => boolean,
): EbsVolumeProblem[] {
  const type = spec.type ?? EBS_DEFAULT_VOLUME_TYPE;
  if (isToken(type)) return [];
  const limits = EBS_VOLUME_TYPES[type];
  const known = Object.keys(EBS_VOLUME_TYPES).join(", ");
  if (limits === undefined)
    return [
      {
        code: "GRX229",
        field: "type",
        message: `"${type}" is not an EBS volume type: EC2 refuses the volume at apply.`,
        fix: `Use one of ${known} (gp3 is the default).`,
      },
    ];
  const out: EbsVolumeProblem[] = [];
  const size = spec.sizeGb;
  const [minSize, maxSize] = limits.sizeGiB;
  if (!isToken(size) && (size < minSize || size > maxSize))
    out.push({
      code: "GRX229",
      field: "sizeGb",
      message: `${type} volumes hold ${n(minSize)} to ${n(maxSize)} GiB, not ${n(size)}: EC2 refuses the volume at apply.`,
      fix: `Give a size from ${n(minSize)} to ${n(maxSize)} GiB, or another volumeType.`,
    });

  const { iops, throughputMiBps: throughput } = spec;
  const io = limits.iops;
  if (io === undefined) {
    if (iops !== undefined)
      out.push({
        code: "GRX230",
        field: "iops",
        message: `${type} volumes take no provisioned IOPS (only gp3, io1 and io2 do), got ${String(iops)}.`,
        fix: `Remove iops, or use gp3 (up to 80,000 IOPS) or io1/io2.`,
      });
  } else if (iops === undefined) {
    if (io.baseline === undefined)
      out.push({
        code: "GRX230",
        field: "iops",
        message: `${type} volumes need provisioned IOPS (${n(io.range[0])} to ${n(io.range[1])}, at most ${io.perGiB} per GiB).`,
        fix: `Give iops, e.g. ${n(Math.min(io.range[1], Math.max(io.range[0], io.perGiB * (isToken(size) ? 0 : size))))} for this size.`,
      });
  } else if (!isToken(iops)) {
    const sizeCap = isToken(size) ? Infinity : Math.max(io.baseline ?? 0, io.perGiB * size);
    if (!Number.isInteger(iops) || iops < io.range[0] || iops > io.range[1])
      out.push({
        code: "GRX230",
        field: "iops",
        message: `${type} volumes take ${n(io.range[0])} to ${n(io.range[1])} IOPS (whole numbers), not ${String(iops)}: EC2 refuses the volume at apply.`,
        fix: `Give iops from ${n(io.range[0])} to ${n(Math.min(io.range[1], sizeCap))}${io.baseline !== undefined ? `, or omit it (${n(io.baseline)})` : ""}.`,
      });
    else if (iops > sizeCap)
      out.push({
        code: "GRX230",
        field: "iops",
        message: `${n(iops)} IOPS on ${n(size)} GiB is more than ${type}'s ${io.perGiB} IOPS per GiB (${n(sizeCap)} at most): EC2 refuses the volume at apply.`,
        fix: `Give at most ${n(sizeCap)} IOPS, or at least ${n(Math.ceil(iops / io.perGiB))} GiB.`,
      });
  }

  const tp = limits.throughput;
  if (throughput === undefined || isToken(throughput)) return out;
  if (tp === undefined) {
    out.push({
      code: "GRX230",
      field: "throughputMiBps",
      message: `${type} volumes take no provisioned throughput (only gp3 does), got ${String(throughput)} MiB/s.`,
      fix: "Remove throughputMiBps, or use gp3 (125 to 2,000 MiB/s).",
    });
  } else {
    // The IOPS the volume gets: those given when EC2 takes them, else the type's baseline.
    const given = iops !== undefined && !isToken(iops) && out.every((p) => p.field !== "iops");
    const volumeIops = given ? iops : (io?.baseline ?? 0);
    const iopsCap = isToken(iops) ? Infinity : Math.floor(tp.perIops * volumeIops);
    if (!Number.isInteger(throughput) || throughput < tp.range[0] || throughput > tp.range[1])
      out.push({
        code: "GRX230",
        field: "throughputMiBps",
        message: `${type} volumes take ${n(tp.range[0])} to ${n(tp.range[1])} MiB/s (whole numbers), not ${String(throughput)}.`,
        fix: `Give throughputMiBps from ${n(tp.range[0])} to ${n(Math.min(tp.range[1], iopsCap))}, or omit it (${n(tp.range[0])}).`,
      });
    else if (throughput > iopsCap)
      out.push({
        code: "GRX230",
        field: "throughputMiBps",
        message: `${n(throughput)} MiB/s is more than ${tp.perIops} MiB/s per IOPS of the volume's ${n(volumeIops)} IOPS (${n(iopsCap)} at most): EC2 refuses the volume at apply.`,
        fix: `Give at most ${n(iopsCap)} MiB/s, or at least ${n(Math.ceil(throughput / tp.perIops))} iops.`,
      });
  }
  return out;
}
