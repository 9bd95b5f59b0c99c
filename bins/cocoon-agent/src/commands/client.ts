import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { Command, Option } from 'clipanion';
import { AgentSession, type ExecRequest, type SessionOptions } from '@cocoon/common/agent/client';
import { connectHybridVsock, connectUnix, connectVsock } from '@cocoon/common/agent/connect';
import { CocoonCommand } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';

/** `cocoon-agent client`: run one command through an agent (smoke tests). */
export class ClientCommand extends CocoonCommand {
  static override paths = [['client']];
  static override usage = Command.Usage({
    description: 'run a command in a guest through its cocoon-agent',
    details: 'Exactly one of `--cid`, `--uds`, `--serial` or `--unix` picks the channel. Exits with the remote exit code; 127 when the command does not exist.',
    examples: [
      ['Through a Cloud Hypervisor / Firecracker vsock socket', '$0 client --uds /run/cocoon/vm/ID/vsock.sock -- uname -a'],
      ['Feed stdin through kernel vsock', 'echo hi | $0 client -i --cid 3 -- cat'],
    ],
  });

  cid = Option.String('--cid', { description: 'guest CID (kernel AF_VSOCK)' });
  port = Option.String('--port', String(AGENT_VSOCK_PORT), { description: 'agent vsock port' });
  uds = Option.String('--uds', { description: 'hybrid-vsock Unix socket (Cloud Hypervisor, Firecracker): CONNECT handshake' });
  serial = Option.String('--serial', { description: "a QEMU virtio-serial port's chardev socket (one client at a time; not claimed from the pool)" });
  json = Option.Boolean('--json-frames', false, { description: 'do not ask for binary data frames (speak as a JSON-only client)' });
  unix = Option.String('--unix', { description: 'plain Unix socket of "serve --listen-unix" (tests)' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'pass stdin to the command' });
  tty = Option.Boolean('-t,--tty', false, { description: 'allocate a pty in the guest' });
  env = Option.Array('-e,--env', [], { description: 'K=V added to the environment (repeatable)' });
  workdir = Option.String('-w,--workdir', { description: 'working directory in the guest' });
  user = Option.String('-u,--user', { description: 'user[:group] or uid[:gid] to run as' });
  argv = Option.Rest({ required: 1 });

  override async execute(): Promise<number> {
    const request = this.request();
    const { socket, options } = await this.connect();
    const stdin = this.context.stdin;
    const agent = new AgentSession(socket, { ...options, binary: !this.json });
    const result = await agent.run(request, { stdin: this.interactive ? stdin : undefined, stdout: this.context.stdout, stderr: this.context.stderr });
    if (result.error) this.context.stderr.write(`cocoon-agent: ${result.error}\n`);
    return result.exitCode;
  }

  private request(): ExecRequest {
    for (const kv of this.env) if (!/^[^=]+=/.test(kv)) throw new UsageError(`--env: "${kv}" is not K=V`);
    if (this.workdir !== undefined && !this.workdir.startsWith('/')) throw new UsageError('--workdir must be an absolute path');
    const out = this.context.stdout as NodeJS.WriteStream;
    return {
      argv: this.argv,
      ...(this.env.length ? { env: this.env } : {}),
      ...(this.workdir ? { cwd: this.workdir } : {}),
      ...(this.user ? { user: this.user } : {}),
      ...(this.tty ? { tty: true, rows: out.rows || 24, cols: out.columns || 80 } : {}),
    };
  }

  private async connect(): Promise<{ socket: Socket; options: SessionOptions }> {
    const picked = [this.cid, this.uds, this.serial, this.unix].filter((v) => v !== undefined);
    if (picked.length !== 1) throw new UsageError('give exactly one of --cid, --uds, --serial, --unix');
    const port = Number(this.port);
    if (!Number.isInteger(port) || port < 1) throw new UsageError(`--port: "${this.port}" is not a port number`);
    if (this.cid !== undefined) {
      const cid = Number(this.cid);
      if (!Number.isInteger(cid) || cid < 3) throw new UsageError(`--cid: "${this.cid}" is not a guest CID (3 or more)`);
      return { socket: connectVsock(cid, port), options: {} };
    }
    if (this.uds !== undefined) return { socket: await connectHybridVsock(this.uds, port), options: {} };
    // A serial port is a shared stream: a session id of our own, and `attach` to take it over.
    if (this.serial !== undefined) return { socket: await connectUnix(this.serial), options: { session: randomInt(1, 2 ** 31 - 1), attach: { pad: 0 } } };
    return { socket: await connectUnix(this.unix as string), options: {} };
  }
}
