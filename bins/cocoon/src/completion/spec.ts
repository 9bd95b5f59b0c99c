/**
 * Every command of every cocoon tool as one list of full paths (`image pull`, `vm console`
 * …): cocoon's own commands from its classes, each sub-tool's from `<tool> __spec` (a tool
 * never imports another), prefixed with the nouns that dispatch to it.
 */
import { spawn } from '@cocoon/common/exec';
import { ExternalError } from '@cocoon/common/errors';
import { GLOBAL_FLAGS } from '@cocoon/common/globals';
import { toolSpec } from '@cocoon/common/completion-spec';
import { ToolSpecSchema, type CommandSpec } from '@cocoon/common/schemas/completion';
import { findTool } from '@cocoon/common/tools';
import { cliFor } from '../cli.ts';
import { TOOL_COMMANDS } from '../commands/tools.ts';
import { TOOL_NOUNS } from '../routes.ts';

export interface CompletionModel {
  commands: CommandSpec[];
  /** Global flags (all take a value). */
  globals: string[];
}

/** Asks `tool` for its spec. */
async function subToolSpec(tool: string): Promise<CommandSpec[]> {
  const r = await spawn(findTool(tool), ['__spec'], { reject: false, argv0: tool, env: { COCOON_TOOL: tool }, extendEnv: true });
  if (r.exitCode !== 0) throw new ExternalError(`${tool} __spec failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').pop() ?? ''}`);
  return ToolSpecSchema.parse(JSON.parse(String(r.stdout))).commands;
}

/** The whole command tree. */
export async function completionModel(): Promise<CompletionModel> {
  const own = toolSpec('cocoon', cliFor([]).documentedClasses().filter((k) => !(TOOL_COMMANDS as readonly unknown[]).includes(k))).commands;
  const subs = await Promise.all(
    TOOL_NOUNS.map(async (noun) =>
      (await subToolSpec(noun.tool)).map((c) => ({ ...c, paths: noun.paths.flatMap((prefix) => c.paths.map((p) => [...prefix, ...p])) })),
    ),
  );
  return { commands: [...own, ...subs.flat()], globals: GLOBAL_FLAGS.map((g) => g.flag) };
}

/** Every path of every command, joined by spaces, with its command. */
export function byPath(model: CompletionModel): Map<string, CommandSpec> {
  return new Map(model.commands.flatMap((c) => c.paths.map((p) => [p.join(' '), c] as const)));
}

/** For every path prefix (`''`, `vm`, `image` …), the words that can follow it. */
export function children(model: CompletionModel): Map<string, string[]> {
  const next = new Map<string, Set<string>>();
  for (const path of byPath(model).keys()) {
    const words = path.split(' ').filter(Boolean);
    for (let i = 0; i < words.length; i++) {
      const prefix = words.slice(0, i).join(' ');
      if (!next.has(prefix)) next.set(prefix, new Set());
      next.get(prefix)?.add(words[i] as string);
    }
  }
  return new Map([...next].map(([k, v]) => [k, [...v].sort()]));
}
