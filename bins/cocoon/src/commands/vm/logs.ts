import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';

export class VmLogsCommand extends CocoonCommand {
  static override paths = [['vm', 'logs']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'print the console output of a VM',
    details: [
      'Prints the guest console log (what the VM wrote on its serial console: boot messages, login prompts, shell output), with its rotated generations, oldest first. `-f` follows it like `docker logs -f` and ends when the VM stops.',
      '`--tail N` prints only the last N lines. `--since T` (an RFC 3339 time, or a duration like `10m`, `2h`, `1d` meaning that long ago) starts at the last time mark at or before T: a console log has no per-line times, so the marks are taken at each start and stop of the VM; everything after T is printed, and what the same boot printed before T may be too.',
      'A VM that never started prints nothing. A missing VM is "VM not found" (exit 3).',
    ].join('\n\n'),
    examples: [
      ['Print the console log', '$0 vm logs web'],
      ['Follow it until the VM stops', '$0 vm logs -f web'],
      ['The last 20 lines, then follow', '$0 vm logs -f --tail 20 web'],
      ['Output of the last hour', '$0 vm logs --since 1h web'],
    ],
  });

  follow = Option.Boolean('-f,--follow', false, { description: 'keep printing new output until the VM stops' });
  tail = Option.String('-n,--tail', { description: 'print only the last N lines' });
  since = Option.String('--since', { description: 'start at time T: RFC 3339 (2026-11-28T10:00:00Z) or a duration ago (10m, 2h, 1d)' });
  ref = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const tail = this.tail === undefined ? null : parseTail(this.tail);
    const since = this.since === undefined ? null : await parseSince(this.since);
    const [{ vmIndex }, { vmPaths }, { isLive, liveState }, { follow, selectParts, writeParts }] = await Promise.all([
      import('@cocoon/common/vms'),
      import('@cocoon/common/hypervisor/index'),
      import('@cocoon/common/hypervisor/live'),
      import('../../vm/console-log.ts'),
    ]);
    const index = vmIndex(this.layout);
    const vm = await index.resolve(this.ref);
    const paths = vmPaths(this.layout, vm.id);
    const position = writeParts(selectParts(paths, since), tail, this.context.stdout);
    if (!this.follow) return 0;
    const alive = async () => {
      const now = (await index.load()).get(vm.id);
      return now !== undefined && isLive(liveState(this.layout, now));
    };
    await follow(paths.consoleLog, position, this.context.stdout, alive);
    return 0;
  }
}

function parseTail(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--tail: "${value}" must be a whole number of lines ≥ 0`);
  return Number(value);
}

/** `--since`: an RFC 3339 time, or a duration ago; ms since the epoch. */
async function parseSince(value: string): Promise<number> {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new UsageError(`--since: "${value}" is not a valid RFC 3339 time (e.g. 2026-11-28T10:00:00Z)`);
    return t;
  }
  const { parseDuration } = await import('@cocoon/common/units');
  try {
    return Date.now() - parseDuration(value, '--since') * 1000;
  } catch {
    throw new UsageError(`--since: "${value}" is neither an RFC 3339 time (2026-11-28T10:00:00Z) nor a duration (10m, 2h, 1d)`);
  }
}
