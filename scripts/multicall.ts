/**
 * Entry point of the multi-call bundle inside the executable `dist/bin/cocoon` (run by
 * scripts/sea-loader.cjs with its trained code cache).
 *
 * One single executable carries every tool; the per-tool names (`cocoon-image`,
 * `cocoon-net` …) are symlinks to it. The tool is chosen from the name the process
 * was started under (`process.argv0` keeps a symlink's own name, `process.execPath`
 * resolves it away), or from `COCOON_TOOL` for launchers that cannot set argv[0].
 *
 * Each tool is behind a dynamic `import()`: esbuild turns those into lazily
 * initialised modules of the one CommonJS bundle, so starting `cocoon-gc` never
 * evaluates the code of `cocoon-image` and the others.
 */
import { basename } from 'node:path';

type Loader = () => Promise<unknown>;

/** Every tool the executable answers to, by invoked name. */
const TOOLS: Readonly<Record<string, Loader>> = {
  cocoon: () => import('../bins/cocoon/src/main.ts'),
  'cocoon-image': () => import('../bins/cocoon-image/src/main.ts'),
  'cocoon-net': () => import('../bins/cocoon-net/src/main.ts'),
  'cocoon-snap': () => import('../bins/cocoon-snap/src/main.ts'),
  'cocoon-console': () => import('../bins/cocoon-console/src/main.ts'),
  'cocoon-gc': () => import('../bins/cocoon-gc/src/main.ts'),
  'cocoon-agent': () => import('../bins/cocoon-agent/src/main.ts'),
};

/** Exit code of a usage error (kept literal so this file loads no shared code). */
const EXIT_USAGE = 2;
const EXIT_INTERNAL = 1;

function chooseTool(): string {
  const override = process.env.COCOON_TOOL;
  // NOTE: removed so that a tool this process starts (`cocoon image …` runs
  // `cocoon-image`) is chosen by its own name, not by the inherited override.
  delete process.env.COCOON_TOOL;
  return override !== undefined && override !== '' ? override : basename(process.argv0);
}

const tool = chooseTool();
const load = Object.hasOwn(TOOLS, tool) ? TOOLS[tool] : undefined;
if (load === undefined) {
  process.stderr.write(
    `cocoon: unknown tool "${tool}" (started as "${process.argv0}"); ` +
      `run this executable as one of ${Object.keys(TOOLS).join(', ')} (a symlink) or set COCOON_TOOL\n`,
  );
  process.exitCode = EXIT_USAGE;
} else {
  // The tool's main module runs its command line as it is evaluated.
  load().catch((err: unknown) => {
    process.stderr.write(`${tool}: internal error: ${String(err)}\n`);
    process.exitCode = EXIT_INTERNAL;
  });
}
