/**
 * Host packages and the cached guest image of the VM tests. The image lives outside the repository
 * (`VM_CACHE_DIR`, default /var/cache/cdktf-grommunio-vm) under `image-<hash of build-image.sh>`:
 * a changed build script builds a new image; old ones stay until removed by hand.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { GuestImage } from "./qemu";

export const CACHE_DIR = process.env.VM_CACHE_DIR ?? "/var/cache/cdktf-grommunio-vm";
const BUILD_SCRIPT = path.join(__dirname, "build-image.sh");
const INSTALL_SCRIPT = path.join(__dirname, "..", "..", "scripts", "install-vm-deps.sh");

/** Installs missing host packages (scripts/install-vm-deps.sh); returns the seconds it took. */
export function ensureHostPackages(): number {
  const t0 = Date.now();
  execFileSync("bash", [INSTALL_SCRIPT], { stdio: ["ignore", "inherit", "inherit"] });
  return (Date.now() - t0) / 1000;
}

export interface CachedImage extends GuestImage {
  readonly key: string;
  readonly built: boolean;
  readonly seconds: number;
}

export function ensureImage(): CachedImage {
  const key = createHash("sha256").update(fs.readFileSync(BUILD_SCRIPT)).digest("hex").slice(0, 16);
  const dir = path.join(CACHE_DIR, `image-${key}`);
  const files = {
    rootfs: path.join(dir, "rootfs.img"),
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
  };
  if (Object.values(files).every((f) => fs.existsSync(f))) return { ...files, key, built: false, seconds: 0 };
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const t0 = Date.now();
  execFileSync("bash", [BUILD_SCRIPT, dir], { stdio: ["ignore", "inherit", "inherit"] });
  return { ...files, key, built: true, seconds: (Date.now() - t0) / 1000 };
}
