/**
 * Registry protocol messages besides the OCI documents (those are in `oci.ts`): token
 * responses, error bodies, and the docker-style `config.json` that holds registry
 * credentials. Fields cocoon does not use are passed through.
 */
import { z } from 'zod';

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
