/**
 * The `xml { xslt }` that moves libvirt 0.8's cloud-init CD-ROM off IDE.
 *
 * terraform-provider-libvirt 0.8 attaches the `libvirt_cloudinit_disk` as an IDE CD-ROM
 * (`<disk device="cdrom">` with `<target dev="hdd" bus="ide"/>` and `<serial>cloudinit</serial>`,
 * hard-coded in `libvirt/domain.go`). q35 machines have no IDE controller ("IDE controllers are
 * unsupported for this QEMU binary or machine type"), so on q35 (and with UEFI firmware) the bus is
 * rewritten before libvirt sees the domain (platforms.md §2):
 *
 * - `scsi`: a virtio-scsi CD-ROM, plus a virtio-scsi controller when the domain has no SCSI
 *   controller yet. Read by every Debian/Ubuntu kernel, including Debian's `cloud` kernel flavour
 *   (genericcloud images: `CONFIG_SCSI_VIRTIO=m`).
 * - `sata`: an AHCI CD-ROM. Debian's `cloud` kernel has no AHCI driver (`CONFIG_SATA_AHCI` unset in
 *   linux-image-6.1.0-*-cloud-amd64): with those images the seed stays invisible and cloud-init
 *   falls back to `DataSourceNone`. Use it with `generic` images only.
 *
 * Only the cloud-init disk is touched (matched by its `cloudinit` serial).
 */

/** Where the cloud-init CD-ROM sits. `ide` is the provider's own choice (i440FX only). */
export type CloudInitBus = "ide" | "sata" | "scsi";

export const CLOUD_INIT_BUSES: readonly CloudInitBus[] = ["ide", "sata", "scsi"];

const CLOUD_INIT_DISK = "/domain/devices/disk[@device='cdrom'][serial='cloudinit']";

/** The stylesheet for `bus` (`sata` or `scsi`); the identity transform for everything else. */
export function cloudInitBusXslt(bus: Exclude<CloudInitBus, "ide">): string {
  const controller =
    bus === "scsi"
      ? [
          "  <!-- virtio-scsi controller for the CD-ROM when the domain has no SCSI controller -->",
          "  <xsl:template match=\"/domain/devices[not(controller[@type='scsi'])]\">",
          "    <xsl:copy>",
          '      <xsl:apply-templates select="@*|node()"/>',
          '      <controller type="scsi" index="0" model="virtio-scsi"/>',
          "    </xsl:copy>",
          "  </xsl:template>",
        ]
      : [];
  return [
    '<?xml version="1.0"?>',
    '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">',
    '  <xsl:output method="xml" omit-xml-declaration="yes" indent="yes"/>',
    '  <xsl:template match="@*|node()">',
    "    <xsl:copy>",
    '      <xsl:apply-templates select="@*|node()"/>',
    "    </xsl:copy>",
    "  </xsl:template>",
    `  <!-- the cloud-init CD-ROM (serial "cloudinit"): ${bus} instead of IDE -->`,
    `  <xsl:template match="${CLOUD_INIT_DISK}/target">`,
    `    <target dev="sda" bus="${bus}"/>`,
    "  </xsl:template>",
    ...controller,
    "</xsl:stylesheet>",
    "",
  ].join("\n");
}
