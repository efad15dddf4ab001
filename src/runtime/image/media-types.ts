// Media types of the OCI image spec and of Docker's image manifest v2 schema 2.

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

const indexTypes = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);
const manifestTypes = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const configTypes = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
const layerTypes = new Set<string>([
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.ociLayerZstd,
  MediaType.dockerLayer,
  MediaType.dockerLayerGzip,
  MediaType.dockerForeignLayerGzip,
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
]);

export const isIndexType = (mediaType: string | undefined): boolean => mediaType !== undefined && indexTypes.has(mediaType);
export const isManifestType = (mediaType: string | undefined): boolean => mediaType !== undefined && manifestTypes.has(mediaType);
export const isConfigType = (mediaType: string | undefined): boolean => mediaType !== undefined && configTypes.has(mediaType);
export const isLayerType = (mediaType: string | undefined): boolean => mediaType !== undefined && layerTypes.has(mediaType);

/** The OCI layer media type for a blob's compression. */
export function ociLayerType(compression: "tar" | "gzip" | "zstd"): string {
  return compression === "gzip" ? MediaType.ociLayerGzip : compression === "zstd" ? MediaType.ociLayerZstd : MediaType.ociLayer;
}

/** GOARCH of this machine, as image configs and platforms name it. */
export function hostArchitecture(): string {
  const names: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return names[process.arch] ?? process.arch;
}
