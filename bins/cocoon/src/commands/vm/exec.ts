import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { parseSeconds } from '../../vm/flags.ts';

export class VmExecCommand extends CocoonCommand {
  static override paths = [['vm', 'exec']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'run a command in a running VM through its guest agent',
    details: [
      'Runs CMD in the VM through cocoon-agent (vsock, or virtio-serial through the relay on QEMU): no SSH, no guest network. The exit code of the remote command becomes the exit code of cocoon, like `docker exec`; a command killed by a signal gives 128+N.',
      '`-i` passes stdin; `-t` gives the command a pseudo-terminal in the guest (your terminal goes raw, window size changes follow; combine `-it` for a shell). Ctrl-C is forwarded as SIGINT.',
      'A VM that was just started is waited for until its agent answers, up to `--wait-timeout` seconds.',
      'Exit codes of cocoon itself: 2 bad usage (no command, `-t` without a terminal on stdin), 3 no such VM, user, group or working directory, 6 the VM is not running, 7 the agent did not answer in time, 10 the session broke (the guest agent went away), 126 the command is not executable, 127 the command does not exist.',
    ].join('\n\n'),
    examples: [
      ['Print the guest kernel', '$0 vm exec web -- uname -a'],
      ['Feed stdin', 'echo hi | $0 vm exec -i web -- cat'],
      ['An interactive shell', '$0 vm exec -it web -- sh'],
      ['Environment, working directory, user', '$0 vm exec -e DEBUG=1 -w /tmp -u nobody web -- env'],
    ],
  });

  interactive = Option.Boolean('-i,--interactive', false, { description: 'pass stdin to the command' });
  tty = Option.Boolean('-t,--tty', false, { description: 'allocate a pseudo-terminal in the guest (stdin must be a terminal)' });
  env = Option.Array('-e,--env', [], { description: 'K=V added to the environment (repeatable)' });
  workdir = Option.String('-w,--workdir', { description: 'working directory in the guest (absolute)' });
  user = Option.String('-u,--user', { description: 'user[:group] or uid[:gid] to run as' });
  waitTimeout = Option.String('--wait-timeout', '60', { description: 'seconds to wait for the agent of a just-started VM' });
  vm = Option.String({ name: 'VM' });
  argv = Option.Rest({ name: 'CMD' });

  override async execute(): Promise<number> {
    if (this.argv.length === 0) throw new UsageError('no command given: cocoon vm exec VM -- CMD [ARG…]');
    for (const kv of this.env) if (!/^[^=]+=/.test(kv)) throw new UsageError(`--env: "${kv}" is not K=V`);
    if (this.workdir !== undefined && !this.workdir.startsWith('/')) throw new UsageError('--workdir must be an absolute path');
    if (this.tty && !(this.context.stdin as NodeJS.ReadStream).isTTY) throw new UsageError('-t needs a terminal on stdin (drop -t, or run from a terminal)');
    const timeoutMs = parseSeconds(this.waitTimeout, '--wait-timeout');
    const { runExec } = await import('../../vm/agent.ts');
    return runExec(this.layout, this.vm, {
      argv: this.argv,
      env: this.env,
      cwd: this.workdir,
      user: this.user,
      interactive: this.interactive,
      tty: this.tty,
      timeoutMs,
      stdin: this.context.stdin as NodeJS.ReadStream,
      stdout: this.context.stdout as NodeJS.WriteStream,
      stderr: this.context.stderr,
    });
  }
}
