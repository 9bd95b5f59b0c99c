/**
 * What an OCI distribution registry sends: manifests, image indexes (OCI and Docker v2
 * media types), image configs, token responses; and the docker-style `config.json`
 * that holds registry credentials. Fields cocoon does not use are passed through.
 */
import { z } from 'zod';
import { DigestSchema } from './common.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof PlatformSchema>;

/** A content descriptor: what a manifest says about a blob or a child manifest. */
export const DescriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: DigestSchema,
  size: z.number().int().nonnegative(),
  platform: PlatformSchema.optional(),
  urls: z.array(z.string()).optional(),
});
export type Descriptor = z.infer<typeof DescriptorSchema>;

/** An image manifest: a config blob and the layers, bottom first. */
export const ImageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});
export type ImageManifest = z.infer<typeof ImageManifestSchema>;

/** An image index / manifest list: one manifest per platform. */
export const ImageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
});
export type ImageIndex = z.infer<typeof ImageIndexSchema>;

/** The parts of an image config cocoon keeps. */
export const ImageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .looseObject({
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
    })
    .nullish(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(DigestSchema) }).optional(),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

/** A bearer token server's answer (`token` per the spec, `access_token` per OAuth2). */
export const TokenResponseSchema = z.looseObject({
  token: z.string().min(1).optional(),
  access_token: z.string().min(1).optional(),
  expires_in: z.number().optional(),
});

/** `~/.docker/config.json`: per-registry credentials (`auth` = base64 of `user:password`). */
export const DockerConfigSchema = z.looseObject({
  auths: z
    .record(
      z.string(),
      z.looseObject({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional(), identitytoken: z.string().optional() }),
    )
    .optional(),
});
export type DockerConfig = z.infer<typeof DockerConfigSchema>;

/** A registry's error body: `{"errors":[{"code":"…","message":"…"}]}`. */
export const RegistryErrorSchema = z.looseObject({
  errors: z.array(z.looseObject({ code: z.string().optional(), message: z.string().optional() })),
});
