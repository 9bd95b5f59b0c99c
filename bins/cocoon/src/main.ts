import { reportError, runCli } from '@cocoon/common/cli';
import { extractGlobalFlags } from '@cocoon/common/globals';
import { cliFor } from './cli.ts';
import { route } from './routes.ts';

/** `cocoon`: dispatch nouns owned by other tools, run the rest here. */
async function cocoon(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof extractGlobalFlags>;
  try {
    parsed = extractGlobalFlags(argv);
  } catch {
    // NOTE: the runner parses the flags again and reports the error like every other.
    return runCli(cliFor([]), argv, { tool: 'cocoon' });
  }
  const target = route(parsed.rest);
  if (!target) return runCli(cliFor(parsed.rest), argv, { tool: 'cocoon' });
  try {
    const { dispatch } = await import('./dispatch.ts');
    return dispatch(target.tool, target.args, parsed.globals);
  } catch (err) {
    const level = parsed.globals.log_level ?? process.env.COCOON_LOG_LEVEL;
    return reportError(err, { tool: 'cocoon', stderr: process.stderr }, argv, level === 'debug' || level === 'trace');
  }
}

// NOTE: `cocoon vm ls | head` closes our stdout early; that is the reader's choice, not a crash.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});
cocoon(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cocoon: internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
