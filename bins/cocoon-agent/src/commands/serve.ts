import { existsSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { configureLogging, log } from '@cocoon/common/log';
import { AGENT_SERIAL_NAME, AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';
import { LogLevelSchema } from '@cocoon/common/schemas/config';
import { Agent } from '../server/agent.ts';

const DEFAULT_SERIAL = `/dev/virtio-ports/${AGENT_SERIAL_NAME}`;

/** `cocoon-agent serve`: the in-guest agent. Runs until SIGTERM/SIGINT. */
export class ServeCommand extends Command<CocoonContext> {
  static override paths = [['serve']];
  static override usage = Command.Usage({
    description: 'run commands for the host over vsock and virtio-serial (runs in the guest)',
    details: `Listens on AF_VSOCK (accepting only the host, CID 2) and serves the virtio-serial port \`${DEFAULT_SERIAL}\` when it exists. Each command runs in its own process group, killed when its host connection drops or the agent stops.`,
    examples: [
      ['Serve on the default port', '$0 serve'],
      ['Serve a test Unix socket only', '$0 serve --no-vsock --listen-unix /tmp/agent.sock'],
    ],
  });

  port = Option.String('--port', String(AGENT_VSOCK_PORT), { description: 'AF_VSOCK port to listen on' });
  vsock = Option.Boolean('--vsock', true, { description: 'listen on AF_VSOCK (--no-vsock to skip)' });
  vsockWait = Option.String('--vsock-wait-ms', '30000', { description: 'how long to retry binding vsock at boot' });
  serial = Option.String('--serial', { description: `multiplexed serial channel: a device or (tests) a Unix socket; default ${DEFAULT_SERIAL} when present` });
  listenUnix = Option.String('--listen-unix', { description: 'also serve one session per connection on this Unix socket (tests)' });

  override async execute(): Promise<number> {
    const level = LogLevelSchema.safeParse(this.context.globals.log_level ?? this.context.env.COCOON_LOG_LEVEL ?? 'warn');
    configureLogging({ tool: 'cocoon-agent', level: level.success ? level.data : 'warn', logDir: null });
    const port = Number(this.port);
    if (!Number.isInteger(port) || port < 1 || port > 0xffffffff) throw new UsageError(`--port: "${this.port}" is not a port number`);
    const serial = this.serial ?? (existsSync(DEFAULT_SERIAL) ? DEFAULT_SERIAL : undefined);
    if (!this.vsock && !serial && !this.listenUnix) throw new UsageError('nothing to serve: give --serial or --listen-unix with --no-vsock');
    const agent = new Agent();
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        void agent.shutdown().then(resolve);
      };
      process.once('SIGTERM', stop).once('SIGINT', stop);
    });
    if (this.listenUnix) await agent.listenUnix(this.listenUnix);
    if (serial) void agent.serveSerial(serial);
    if (this.vsock) {
      agent.listenVsock(port, Number(this.vsockWait)).catch((err: Error) => {
        // With another transport up, a guest without vsock is fine.
        if (serial || this.listenUnix) log().warn({ err: err.message }, 'vsock unavailable');
        else this.context.stderr.write(`cocoon-agent: ${err.message}\n`);
      });
    }
    this.context.stderr.write('cocoon-agent: ready\n');
    await stopped;
    return 0;
  }
}
