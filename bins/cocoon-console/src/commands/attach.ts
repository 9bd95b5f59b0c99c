import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { BusyError, InvalidStateError } from '@cocoon/common/errors';
import { DEFAULT_ESCAPE, formatEscapeChar, parseEscapeChar } from '../escape.ts';

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

export class ConsoleAttachCommand extends CocoonCommand {
  static override paths = [Command.Default];
  static override usage = Command.Usage({
    description: 'attach to the serial console of a running VM',
    details: [
      'Connects your terminal (raw mode) to the VM\'s console: QEMU\'s console socket, Cloud Hypervisor\'s PTY or Firecracker\'s relay. Run as `cocoon vm console VM` or `cocoon-console VM`.',
      'Detach with the escape character followed by `.` (default `^]` then `.`), or with `~.` at the start of a line; `~?` lists the sequences and `~~` sends a single `~`. The terminal is restored on every way out: detach, the VM stopping, SIGTERM/SIGHUP, an error.',
      'One session at a time: a second attach while one is active fails with exit 5 (busy). Where the console is a PTY (Cloud Hypervisor) the VM\'s window size follows your terminal; a serial socket (QEMU) has no window size (use `stty rows R cols C` in the guest).',
      'Exit codes: 0 detached or the VM stopped, 2 bad `--escape-char`, 3 no such VM, 5 another session is attached, 6 the VM is not running, 128+N ended by signal N.',
    ].join('\n\n'),
    examples: [
      ['Attach to a VM console', '$0 web'],
      ['Use Ctrl-A as the escape character', '$0 --escape-char ^a web'],
    ],
  });

  escapeChar = Option.String('--escape-char', DEFAULT_ESCAPE, { description: 'escape character: one ASCII character or ^X caret notation (default ^])' });
  ref = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const escape = parseEscapeChar(this.escapeChar);
    const [{ vmIndex }, { liveState, isLive }, { driverFor }, { vmPaths }, { tryLock }, { openEndpoint }, { runSession }] = await Promise.all([
      import('@cocoon/common/vms'),
      import('@cocoon/common/hypervisor/live'),
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/hypervisor/index'),
      import('@cocoon/common/store/lock'),
      import('../endpoint.ts'),
      import('../session.ts'),
    ]);
    const vm = await vmIndex(this.layout).resolve(this.ref);
    const name = vm.config.name;
    const state = liveState(this.layout, vm);
    if (!isLive(state)) throw new InvalidStateError(`VM "${name}" is not running (${state}); start it with "cocoon vm start ${name}"`);
    const paths = vmPaths(this.layout, vm.id);
    const lock = await tryLock(`${paths.runDir}/console.lock`);
    if (!lock) throw new BusyError(`the console of VM "${name}" is attached in another session (one at a time); detach that one first (${formatEscapeChar(escape)} .)`);
    try {
      const link = await openEndpoint(driverFor(vm.hypervisor).consoleEndpoint(paths), name);
      const io = { stdin: this.context.stdin as NodeJS.ReadStream, stdout: this.context.stdout, stderr: this.context.stderr };
      const end = await runSession(link, io, { escape, name });
      return end.kind === 'signal' ? 128 + (SIGNAL_NUMBERS[end.signal] ?? 0) : 0;
    } finally {
      lock.release();
    }
  }
}
