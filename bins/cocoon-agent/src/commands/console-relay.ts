import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { runConsoleRelay } from '../console-relay.ts';

/** `cocoon-agent console-relay`: hosts a Firecracker process on a PTY and serves its serial console. */
export class ConsoleRelayCommand extends Command<CocoonContext> {
  static override paths = [['console-relay']];
  static override usage = Command.Usage({
    description: "host a hypervisor whose serial console is its stdio (Firecracker) on a pty, and serve that console on a Unix socket",
    details: 'Starts the command after `--` on a pseudo-terminal, writes its PID to `--pid-file`, appends its output to `--log` and serves the terminal on `--listen` (0600, one client at a time). Exits with the command, removing the socket. Started by cocoon for every Firecracker VM.',
    examples: [['Host a Firecracker VM', '$0 console-relay --listen /run/cocoon/ID/console.sock --log /var/log/cocoon/ID/console.log --pid-file /run/cocoon/ID/hypervisor.pid -- firecracker --api-sock /run/cocoon/ID/api.sock']],
  });

  listen = Option.String('--listen', { required: true, description: 'Unix socket to serve the console on' });
  log = Option.String('--log', { required: true, description: 'file the console output is appended to' });
  pidFile = Option.String('--pid-file', { required: true, description: "where the hosted process's PID is written" });
  command = Option.Rest({ required: 1, name: 'COMMAND' });

  override async execute(): Promise<number> {
    const [file, ...args] = this.command;
    return runConsoleRelay({ listen: this.listen, log: this.log, pidFile: this.pidFile, file: file!, args });
  }
}
