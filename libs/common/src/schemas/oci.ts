/**
 * What OCI image archives and registries carry (OCI image spec, Docker v2 schema 2 and
 * `docker save`): descriptors, image indexes / manifest lists, manifests, image configs.
 * One set for both `import` (layouts, docker-save tarballs) and `pull` (registries). Only the
 * fields cocoon reads are listed; unknown keys pass through.
 */
import { z } from 'zod';
import { DigestSchema } from './common.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** Media types of documents that list manifests rather than layers. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof PlatformSchema>;

/** A content descriptor: what a manifest or index says about a blob or a child manifest. */
export const OciDescriptorSchema = z.looseObject({
  // NOTE: required by the spec, but some layout writers omit it; callers default it.
  mediaType: z.string().optional(),
  digest: DigestSchema,
  size: z.number().int().nonnegative(),
  platform: PlatformSchema.optional(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type OciDescriptor = z.infer<typeof OciDescriptorSchema>;

/** An OCI image index (also a layout's `index.json`) or a Docker manifest list. */
export const OciIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(OciDescriptorSchema),
});
export type OciIndex = z.infer<typeof OciIndexSchema>;

/** An OCI image manifest or a Docker v2 schema 2 manifest: a config blob and the layers, bottom first. */
export const OciManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: OciDescriptorSchema,
  layers: z.array(OciDescriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type OciManifest = z.infer<typeof OciManifestSchema>;

/** The image config: platform, run config and the uncompressed layer digests. */
export const OciImageConfigSchema = z.looseObject({
  os: z.string().optional(),
  architecture: z.string().optional(),
  variant: z.string().optional(),
  config: z
    .looseObject({
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
    })
    .nullish(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(DigestSchema) }),
});
export type OciImageConfig = z.infer<typeof OciImageConfigSchema>;

/** `manifest.json` of a `docker save` tarball. */
export const DockerSaveManifestSchema = z.array(
  z.looseObject({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }),
);
export type DockerSaveManifest = z.infer<typeof DockerSaveManifestSchema>;
