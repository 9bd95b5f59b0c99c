/**
 * `<tool> __spec`: a tool's commands as the shell completion of `cocoon completion` needs
 * them (built from the command definitions; the front end asks each sub-tool for its own).
 */
import { z } from 'zod';

/** What a positional argument names: a VM, an image, a snapshot, a file, or something else. */
export const ArgKindSchema = z.enum(['vm', 'image', 'snapshot', 'file', 'other']);
export type ArgKind = z.infer<typeof ArgKindSchema>;

export const CommandSpecSchema = z.object({
  /** Every path of the command (`[['vm','list'],['vm','ls']]`); `[]` for a tool's default command. */
  paths: z.array(z.array(z.string())),
  description: z.string(),
  options: z.array(z.object({ names: z.array(z.string().startsWith('-')), value: z.boolean(), description: z.string() })),
  positionals: z.array(z.object({ name: z.string(), kind: ArgKindSchema, repeat: z.boolean() })),
});
export type CommandSpec = z.infer<typeof CommandSpecSchema>;

export const ToolSpecSchema = z.object({ tool: z.string(), commands: z.array(CommandSpecSchema) });
export type ToolSpec = z.infer<typeof ToolSpecSchema>;
