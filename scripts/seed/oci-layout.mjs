#!/usr/bin/env node
// Writes one image as an OCI image layout directory, byte for byte the same for the same inputs:
// the layer blobs (already gzipped, with their diff_ids), an image config, a manifest, and
// index.json naming the image the two ways readers look for it (containerd's full name, which
// `berth image load` uses, and the bare tag in org.opencontainers.image.ref.name, which
// `skopeo copy oci:DIR:TAG` uses).
//
// usage: oci-layout.mjs SPEC.json OUTPUT-DIR
// SPEC: { name, tag, created, layers: [{ file, diffId, createdBy }], config: {...}, labels: {...} }
// Prints the image id (the config digest) and the manifest digest.
import { createHash } from "node:crypto";
import { createReadStream, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from "node:fs";
import path from "node:path";

const [specFile, output] = process.argv.slice(2);
if (specFile === undefined || output === undefined) {
  console.error("usage: oci-layout.mjs SPEC.json OUTPUT-DIR");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(specFile, "utf8"));

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const sha256File = (file) =>
  new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(`sha256:${hash.digest("hex")}`));
  });

const staging = `${output}.partial`;
rmSync(staging, { recursive: true, force: true });
const blobs = path.join(staging, "blobs", "sha256");
mkdirSync(blobs, { recursive: true });

const blobPath = (digest) => path.join(blobs, digest.slice("sha256:".length));
const writeBlob = (bytes) => {
  const digest = sha256(bytes);
  writeFileSync(blobPath(digest), bytes);
  return { digest, size: bytes.length };
};

const layers = [];
for (const layer of spec.layers) {
  const digest = await sha256File(layer.file);
  // Layers shared with another cached image are hard links, not copies, when the filesystem allows.
  try {
    linkSync(layer.file, blobPath(digest));
  } catch {
    copyFileSync(layer.file, blobPath(digest));
  }
  layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: statSync(layer.file).size });
}

const config = {
  created: spec.created,
  architecture: "amd64",
  os: "linux",
  config: { ...spec.config, Labels: spec.labels },
  rootfs: { type: "layers", diff_ids: spec.layers.map((layer) => layer.diffId) },
  history: spec.layers.map((layer) => ({ created: spec.created, created_by: layer.createdBy, comment: "berth scripts/seed-images" })),
};
const configBlob = writeBlob(Buffer.from(JSON.stringify(config)));
const manifest = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
  layers,
};
const manifestBlob = writeBlob(Buffer.from(JSON.stringify(manifest)));
const fullName = `docker.io/library/${spec.name}:${spec.tag}`;
const index = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    {
      mediaType: manifest.mediaType,
      ...manifestBlob,
      annotations: { "io.containerd.image.name": fullName, "org.opencontainers.image.ref.name": spec.tag },
    },
  ],
};
writeFileSync(path.join(staging, "index.json"), JSON.stringify(index));
writeFileSync(path.join(staging, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
rmSync(output, { recursive: true, force: true });
renameSync(staging, output);
console.log(`${configBlob.digest} ${manifestBlob.digest}`);
