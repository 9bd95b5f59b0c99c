/**
 * What every cocoon tool's command line shares: the context, the base command, the
 * output format option and the one runner that maps every error to stderr + exit code.
 */
import { Builtins, Cli, Command, Option, type BaseContext, type CommandClass } from 'clipanion';
import { CocoonError, ExitCode, fromSystemError } from './errors.ts';
import { extractGlobalFlags, type GlobalValues } from './globals.ts';
import { layoutOf, type Layout } from './layout.ts';
import { rotationPolicy } from './log-rotate.ts';
import { configureLogging } from './log-settings.ts';
import type { Config } from './schemas/config.ts';
// NOTE: the version has one source, the monorepo's package.json (bundled in by esbuild).
import monorepo from '../../../package.json' with { type: 'json' };

/** cocoon's version (every tool prints the same). */
export const VERSION: string = monorepo.version;

export interface CocoonContext extends BaseContext {
  /** The tool's name, for messages (`cocoon`, `cocoon-image` …). */
  tool: string;
  /** Global flags given on the command line (already removed from argv). */
  globals: GlobalValues;
  /** Environment used to resolve the config and passed to children. */
  env: NodeJS.ProcessEnv;
}

/**
 * Base of every cocoon command: config and layout (resolved by the runner before
 * `execute`), JSON output helpers. Commands that need neither (e.g. `version`) extend
 * clipanion's plain Command and start faster.
 */
export abstract class CocoonCommand extends Command<CocoonContext> {
  private resolved?: { config: Config; layout: Layout };

  /** Resolves the config (loads the config-file schema on demand). Called by the runner. */
  async resolveConfig(): Promise<Config> {
    if (!this.resolved) {
      const { resolveConfig } = await import('./config.ts');
      const config = resolveConfig(this.context.globals, this.context.env);
      this.resolved = { config, layout: layoutOf(config) };
    }
    return this.resolved.config;
  }

  get config(): Config {
    if (!this.resolved) throw new Error('Assertion failed: config read before the runner resolved it');
    return this.resolved.config;
  }

  get layout(): Layout {
    if (!this.resolved) throw new Error('Assertion failed: layout read before the runner resolved it');
    return this.resolved.layout;
  }

  /** Writes one JSON document to stdout. */
  writeJson(value: unknown): void {
    // NOTE: indented for people at a terminal, compact for programs (2x faster on big lists).
    this.context.stdout.write(`${this.stdoutIsTty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`);
  }

  /** Whether stdout is a terminal (tables by default) or not (JSON by default). */
  get stdoutIsTty(): boolean {
    return Boolean((this.context.stdout as NodeJS.WriteStream).isTTY);
  }
}

/** `--format/-f table|json`: table by default on a TTY, JSON otherwise. */
export function formatOption(description = 'output format: table or json (default: table on a terminal, json otherwise)') {
  return Option.String('--format,-f', { description });
}

/** `--output/-o`: the Go cocoon's name of `--format` (its clients pass `-o json`). */
export function outputOption() {
  return Option.String('--output,-o', { description: 'same as --format (the Go cocoon\'s name for it)' });
}

/**
 * The one format asked for by `--format` and/or `--output` (giving both with different
 * values is a usage error), checked against `choices`; `fallback` when neither is given.
 */
export function chooseFormat<T extends string>(format: string | undefined, output: string | undefined, choices: readonly T[], fallback: T): T {
  if (format !== undefined && output !== undefined && format !== output) {
    throw new CocoonError(ExitCode.Usage, `--format "${format}" and --output "${output}" disagree: give one of them`);
  }
  const value = format ?? output;
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new CocoonError(ExitCode.Usage, `--${format !== undefined ? 'format' : 'output'}: "${value}" is not one of ${choices.join(', ')}`);
}

/** `--format`/`--output` for lists: table on a terminal, JSON otherwise. */
export function resolveFormat(format: string | undefined, output: string | undefined, isTty: boolean): 'table' | 'json' {
  return chooseFormat(format, output, ['table', 'json'] as const, isTty ? 'table' : 'json');
}

/** A tool's Cli, able to list its documented command classes (for shell completion). */
export class CocoonCli extends Cli<CocoonContext> {
  /** The registered command classes that have a usage (the documented ones). */
  documentedClasses(): Array<CommandClass<CocoonContext>> {
    return [...this.registrations.keys()].filter((k) => k.usage !== undefined);
  }
}

/**
 * `<tool> __spec`: prints the tool's completion spec as JSON (hidden: no usage, so help and
 * the documentation test do not list it). `cocoon completion` runs it on every sub-tool.
 */
class SpecCommand extends Command<CocoonContext> {
  static override paths = [['__spec']];
  override async execute(): Promise<number> {
    const { toolSpec } = await import('./completion-spec.ts');
    const cli = specSources.get(this.context.tool);
    if (!cli) throw new Error(`Assertion failed: no Cli was made for ${this.context.tool}`);
    this.context.stdout.write(`${JSON.stringify(toolSpec(this.context.tool, cli.documentedClasses()))}\n`);
    return 0;
  }
}

/** The Cli made for each tool name, for `__spec`. */
const specSources = new Map<string, CocoonCli>();

/** Builds a tool's Cli with the built-in help and version commands. */
export function createCli(tool: string, description: string): CocoonCli {
  const cli = new CocoonCli({ binaryName: tool, binaryLabel: `${tool} — ${description}`, binaryVersion: VERSION, enableCapture: false, enableColors: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  cli.register(SpecCommand);
  specSources.set(tool, cli);
  return cli;
}

/**
 * Runs `argv` against `cli`: strips global flags, parses, executes, and turns every
 * failure into one line on stderr and its documented exit code. Never calls process.exit.
 */
export async function runCli(cli: Cli<CocoonContext>, argv: readonly string[], base: Partial<CocoonContext> & { tool: string }): Promise<number> {
  const context: CocoonContext = {
    stdin: base.stdin ?? process.stdin,
    stdout: base.stdout ?? process.stdout,
    stderr: base.stderr ?? process.stderr,
    env: base.env ?? process.env,
    colorDepth: base.colorDepth ?? 1,
    tool: base.tool,
    globals: {},
  };
  let levelDebug = false;
  try {
    const { globals, rest } = extractGlobalFlags(argv);
    context.globals = globals;
    levelDebug = (globals.log_level ?? context.env.COCOON_LOG_LEVEL) === 'debug' || (globals.log_level ?? context.env.COCOON_LOG_LEVEL) === 'trace';
    const command = cli.process(joinNegativeValues(rest), context);
    if (command.help) {
      context.stdout.write(cli.usage(command, { detailed: true, colored: Boolean((context.stdout as NodeJS.WriteStream).isTTY) }));
      return 0;
    }
    command.context = context;
    command.cli = {
      binaryLabel: cli.binaryLabel,
      binaryName: cli.binaryName,
      binaryVersion: cli.binaryVersion,
      enableCapture: cli.enableCapture,
      enableColors: cli.enableColors,
      definitions: () => cli.definitions(),
      error: (error, opts) => cli.error(error, opts),
      format: (colored) => cli.format(colored),
      process: (input, subContext) => cli.process(input, { ...context, ...subContext }),
      run: (input, subContext) => cli.run(input, { ...context, ...subContext }),
      usage: (cmd, opts) => cli.usage(cmd, opts),
    };
    if (command instanceof CocoonCommand) {
      const cfg = await command.resolveConfig();
      configureLogging({ tool: base.tool, level: cfg.log_level, logDir: cfg.log_dir, rotation: rotationPolicy(cfg) });
    }
    const code = await command.validateAndExecute();
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    const group = err instanceof Error && 'clipanion' in err ? commandGroup(cli, argv) : null;
    if (group) return printGroup(group, context, argv);
    return reportError(err, context, argv, levelDebug);
  }
}

/** The commands under the leading words of `argv` (`vm` → `vm create`, `vm ls` …), or null. */
function commandGroup(cli: Cli<CocoonContext>, argv: readonly string[]): { prefix: string; words: string; commands: Array<{ usage: string; description: string }> } | null {
  const words = extractGlobalFlags(argv).rest.filter((a) => !a.startsWith('-'));
  if (words.length === 0) return null;
  const prefix = `${cli.binaryName} ${words.join(' ')}`;
  const commands = cli
    .definitions()
    .filter((d) => d.path.startsWith(`${prefix} `))
    .map((d) => ({ usage: d.usage.trim(), description: d.description ?? '' }));
  return commands.length > 0 ? { prefix, words: words.join(' '), commands } : null;
}

/**
 * `cocoon vm --help` lists the `vm` commands (exit 0); a bare `cocoon vm` says which
 * commands it takes (exit 2), as `git remote` or `docker container` do.
 */
function printGroup(group: NonNullable<ReturnType<typeof commandGroup>>, context: CocoonContext, argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    const lines = group.commands.map((c) => `  ${c.usage}\n    ${c.description}\n`);
    context.stdout.write(`${group.prefix} <command>\n\n${lines.join('\n')}\nRun "${group.prefix} <command> --help" for a command's flags and examples.\n`);
    return ExitCode.Ok;
  }
  const names = [...new Set(group.commands.map((c) => c.usage.slice(group.prefix.length + 1).split(' ')[0]))];
  context.stderr.write(`${context.tool}: "${group.words}" needs a command: ${names.join(', ')} (run "${group.prefix} --help")\n`);
  return ExitCode.Usage;
}

/**
 * `--cpu -1` → `--cpu=-1`: clipanion reads a value that starts with "-" as another option
 * ("Not enough arguments to option --cpu"); joined, the command can say the value is out of range.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [arg, next] = [argv[i] as string, argv[i + 1]];
    if (arg === '--') return [...out, ...argv.slice(i)];
    if (/^--?[a-zA-Z][\w-]*$/.test(arg) && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Prints `err` as one line on stderr (a stack only in debug) and returns its exit code. */
export function reportError(thrown: unknown, context: Pick<CocoonContext, 'tool' | 'stderr'>, argv: readonly string[], debug: boolean): number {
  const tool = context.tool;
  const err = fromSystemError(thrown) ?? thrown;
  if (err instanceof CocoonError) {
    context.stderr.write(`${tool}: ${err.message}\n`);
    if (debug && err.stack) context.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  if (err instanceof Error && 'clipanion' in err) {
    const message = err.message;
    const first = message.startsWith('Command not found')
      ? `unknown command "${argv.filter((a) => !a.startsWith('-')).join(' ')}" (run "${tool} --help")`
      : message.split('\n')[0]?.trim();
    context.stderr.write(`${tool}: ${first}\n`);
    return ExitCode.Usage;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  context.stderr.write(`${tool}: internal error: ${e.message}${debug ? '' : ' (run with --log-level debug for details)'}\n`);
  if (debug && e.stack) context.stderr.write(`${e.stack}\n`);
  return ExitCode.Internal;
}

/** Entry point of a tool: run with process argv and set the exit code. */
export function main(cli: Cli<CocoonContext>, tool: string, argv = process.argv.slice(2)): void {
  // NOTE: `cocoon vm ls | head` closes our stdout early; that is the reader's choice, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  runCli(cli, argv, { tool }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${tool}: internal error: ${String(err)}\n`);
      process.exitCode = ExitCode.Internal;
    },
  );
}
