// Platforms (`linux/arm64/v8`) and the choice of one manifest from a manifest list or OCI index,
// as containerd's default matcher makes it: same OS, same architecture after normalization
// (x86_64 = amd64, aarch64 = arm64), the exact variant first, then older compatible variants
// (an arm/v7 machine runs arm/v6 and arm/v5 images). Attestation entries are never chosen.

import { ImageErrorCode, RegistryError } from "../errors.js";
import { hostArchitecture } from "../media-types.js";
import type { OciDescriptor } from "../types.js";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

function normalizeArchitecture(architecture: string, variant: string | undefined): { architecture: string; variant: string | undefined } {
  const lower = architecture.toLowerCase();
  switch (lower) {
    case "x86_64":
    case "x86-64":
    case "amd64":
      return { architecture: "amd64", variant: variant === "v1" ? undefined : variant };
    case "i386":
    case "i686":
    case "386":
      return { architecture: "386", variant };
    case "aarch64":
    case "arm64":
      // v8 is arm64's baseline: no variant and v8 are the same platform.
      return { architecture: "arm64", variant: variant === undefined || variant === "8" || variant === "v8" ? undefined : variant };
    case "armhf":
      return { architecture: "arm", variant: "v7" };
    case "armel":
      return { architecture: "arm", variant: "v6" };
    case "arm":
      return { architecture: "arm", variant: variant === undefined ? "v7" : variant.startsWith("v") ? variant : `v${variant}` };
    default:
      return { architecture: lower, variant };
  }
}

export function normalizePlatform(platform: Platform): Platform {
  const { architecture, variant } = normalizeArchitecture(platform.architecture, platform.variant === "" ? undefined : platform.variant);
  return { os: platform.os.toLowerCase(), architecture, ...(variant === undefined ? {} : { variant }) };
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant === undefined ? "" : `/${platform.variant}`}`;
}

/** `linux/arm64`, `linux/arm/v7`, `linux` (this machine's architecture), `arm64` (Linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split("/");
  const invalid = (): RegistryError =>
    new RegistryError(ImageErrorCode.registryPlatform, `invalid platform ${JSON.stringify(text)}: expected os/arch[/variant], e.g. linux/arm64`, {
      registry: "",
      object: `platform ${text}`,
    });
  if (parts.length > 3 || parts.some((part) => !/^[A-Za-z0-9_.-]+$/.test(part))) throw invalid();
  const [first = "", second, third] = parts;
  if (parts.length === 1) {
    return first.toLowerCase() === "linux" || first.toLowerCase() === "windows" || first.toLowerCase() === "darwin"
      ? normalizePlatform({ os: first, architecture: hostArchitecture() })
      : normalizePlatform({ os: "linux", architecture: first });
  }
  return normalizePlatform({ os: first, architecture: second ?? "", ...(third === undefined ? {} : { variant: third }) });
}

/** The machine berth runs on. */
export function hostPlatform(): Platform {
  const architecture = hostArchitecture();
  if (architecture === "arm") {
    const armVersion = String((process.config.variables as Record<string, unknown>)["arm_version"] ?? "7");
    return normalizePlatform({ os: "linux", architecture, variant: `v${armVersion}` });
  }
  return normalizePlatform({ os: "linux", architecture });
}

const isAttestation = (descriptor: OciDescriptor): boolean =>
  descriptor.platform?.os === "unknown" || descriptor.annotations?.["vnd.docker.reference.type"] === "attestation-manifest";

/** Variants a machine of `wanted` runs, best first. */
function compatibleVariants(wanted: Platform): (string | undefined)[] {
  if (wanted.architecture === "arm") {
    const version = Number((wanted.variant ?? "v7").slice(1));
    return Array.from({ length: Math.max(0, version - 4) }, (_unused, index) => `v${version - index}`);
  }
  if (wanted.architecture === "amd64" && wanted.variant !== undefined) {
    const level = Number(wanted.variant.slice(1));
    return [...Array.from({ length: Math.max(0, level - 1) }, (_unused, index) => `v${level - index}`), undefined];
  }
  return [wanted.variant];
}

/** The index entry for `wanted`; a clear error when there is none. */
export function selectManifest(manifests: readonly OciDescriptor[], wanted: Platform, registry: string): OciDescriptor {
  const target = normalizePlatform(wanted);
  const candidates = manifests.filter((descriptor) => !isAttestation(descriptor) && descriptor.platform !== undefined);
  const variants = compatibleVariants(target);
  let best: { descriptor: OciDescriptor; rank: number } | undefined;
  for (const descriptor of candidates) {
    const platform = descriptor.platform;
    if (platform?.os === undefined || platform.architecture === undefined) continue;
    const normalized = normalizePlatform({ os: platform.os, architecture: platform.architecture, ...(platform.variant === undefined ? {} : { variant: platform.variant }) });
    if (normalized.os !== target.os || normalized.architecture !== target.architecture) continue;
    const rank = variants.indexOf(normalized.variant);
    if (rank === -1) continue;
    if (best === undefined || rank < best.rank) best = { descriptor, rank };
  }
  if (best === undefined) {
    throw new RegistryError(ImageErrorCode.registryPlatform, `no matching manifest for ${formatPlatform(target)} in the manifest list entries`, {
      registry,
      object: `platform ${formatPlatform(target)}`,
    });
  }
  return best.descriptor;
}
