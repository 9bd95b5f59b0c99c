/**
 * A tool's commands as a completion spec (`<tool> __spec`): paths (aliases too), options
 * (does each take a value?) and positional arguments with what they name. Read from the
 * command classes themselves, by replaying each option's clipanion definition into a
 * recording builder (what clipanion's own `register` does), so completion never drifts
 * from the commands.
 */
import { Command } from 'clipanion';
import type { ArgKind, CommandSpec, ToolSpec } from './schemas/completion.ts';

/** The kind of a positional named `name` in `tool` (`REF` is the tool's own noun). */
export function argKind(tool: string, name: string): ArgKind {
  const n = name.toUpperCase();
  if (n === 'VM' || n === 'VMS') return 'vm';
  if (n === 'IMAGE' || (n === 'REF' && tool === 'cocoon-image')) return 'image';
  if (n === 'SNAPSHOT' || (n === 'REF' && tool === 'cocoon-snap')) return 'snapshot';
  if (n === 'FILE' || n === 'PATH' || n === 'DIR') return 'file';
  return 'other';
}

/** What is read of a command class: its paths and usage, and its instances' option fields. */
type CommandClass = { new (): object; paths?: string[][]; usage?: { description?: string } };
interface OptionDescriptor {
  definition(builder: unknown, key: string): void;
}

/** Options and positionals of one command class, as its option descriptors declare them. */
function declared(tool: string, klass: CommandClass): Pick<CommandSpec, 'options' | 'positionals'> {
  const spec: Pick<CommandSpec, 'options' | 'positionals'> = { options: [], positionals: [] };
  const builder = {
    addOption: (o: { names: string[]; arity?: number; hidden?: boolean; description?: string }) => {
      if (!o.hidden) spec.options.push({ names: o.names, value: (o.arity ?? 0) > 0, description: o.description ?? '' });
    },
    addPositional: (p: { name: string }) => spec.positionals.push({ name: p.name, kind: argKind(tool, p.name), repeat: false }),
    addRest: (r: { name: string }) => spec.positionals.push({ name: r.name, kind: argKind(tool, r.name), repeat: true }),
    addProxy: () => undefined,
  };
  const instance = new klass() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(instance)) {
    if (typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[Command.isOption]) (value as OptionDescriptor).definition(builder, key);
  }
  return spec;
}

/** The spec of every documented command class of `tool`. */
export function toolSpec(tool: string, classes: readonly CommandClass[]): ToolSpec {
  const commands = classes.flatMap((klass) => {
    const paths = (klass.paths ?? [[]]).filter((p) => !p.some((w) => w.startsWith('-')));
    if (paths.length === 0) return []; // --help, --version
    return [{ paths, description: klass.usage?.description ?? '', ...declared(tool, klass) }];
  });
  return { tool, commands };
}
