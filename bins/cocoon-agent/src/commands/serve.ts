import { readdirSync } from 'node:fs';
import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { AGENT_SERIAL_NAME, AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';
import { Agent } from '../server/agent.ts';
import { configureAgentLog, isLogLevel, log } from '../server/log.ts';

const PORTS_DIR = '/dev/virtio-ports';

/** The agent's serial ports in the guest: `org.cocoon.agent`, then `org.cocoon.agent.1` … in order. */
export function defaultSerialPorts(dir = PORTS_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const index = (name: string) => (name === AGENT_SERIAL_NAME ? 0 : Number(name.slice(AGENT_SERIAL_NAME.length + 1)));
  return names
    .filter((n) => n === AGENT_SERIAL_NAME || new RegExp(`^${AGENT_SERIAL_NAME.replaceAll('.', '\\.')}\\.[1-9]\\d*$`).test(n))
    .sort((a, b) => index(a) - index(b))
    .map((n) => `${dir}/${n}`);
}

/** `cocoon-agent serve`: the in-guest agent. Runs until SIGTERM/SIGINT. */
export class ServeCommand extends Command<CocoonContext> {
  static override paths = [['serve']];
  static override usage = Command.Usage({
    description: 'run commands for the host over vsock and virtio-serial (runs in the guest)',
    details: `Listens on AF_VSOCK (accepting only the host, CID 2) and serves every virtio-serial port \`${PORTS_DIR}/${AGENT_SERIAL_NAME}\`, \`${AGENT_SERIAL_NAME}.1\` … that exists (one host client per port at a time). Each command runs in its own process group, killed when its host connection drops or the agent stops. NODE_OPTIONS (the agent's own runtime tuning) is not passed on to commands.`,
    examples: [
      ['Serve on the default port', '$0 serve'],
      ['Serve a test Unix socket only', '$0 serve --no-vsock --listen-unix /tmp/agent.sock'],
    ],
  });

  port = Option.String('--port', String(AGENT_VSOCK_PORT), { description: 'AF_VSOCK port to listen on' });
  vsock = Option.Boolean('--vsock', true, { description: 'listen on AF_VSOCK (--no-vsock to skip)' });
  vsockWait = Option.String('--vsock-wait-ms', '30000', { description: 'how long to retry binding vsock at boot' });
  serial = Option.Array('--serial', [], { description: `a serial port to serve: a device or (tests) a Unix socket; repeatable; default every ${PORTS_DIR}/${AGENT_SERIAL_NAME}*` });
  listenUnix = Option.String('--listen-unix', { description: 'also serve one session per connection on this Unix socket (tests)' });

  override async execute(): Promise<number> {
    const level = this.context.globals.log_level ?? this.context.env.COCOON_LOG_LEVEL ?? 'warn';
    configureAgentLog(isLogLevel(level) ? level : 'warn');
    // NOTE: the agent's own V8 flags (set by its init script) must not reach the commands it runs.
    delete process.env.NODE_OPTIONS;
    const port = Number(this.port);
    if (!Number.isInteger(port) || port < 1 || port > 0xffffffff) throw new UsageError(`--port: "${this.port}" is not a port number`);
    const serial = this.serial.length > 0 ? this.serial : defaultSerialPorts();
    if (!this.vsock && serial.length === 0 && !this.listenUnix) throw new UsageError('nothing to serve: give --serial or --listen-unix with --no-vsock');
    const agent = new Agent();
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        void agent.shutdown().then(resolve);
      };
      process.once('SIGTERM', stop).once('SIGINT', stop);
    });
    if (this.listenUnix) await agent.listenUnix(this.listenUnix);
    if (serial.length > 0) {
      agent.serveSerial(serial).catch((err: Error) => this.context.stderr.write(`cocoon-agent: serial ports: ${err.message}\n`));
    }
    if (this.vsock) {
      agent.listenVsock(port, Number(this.vsockWait)).catch((err: Error) => {
        // With another transport up, a guest without vsock is fine.
        if (serial.length > 0 || this.listenUnix) log().warn({ err: err.message }, 'vsock unavailable');
        else this.context.stderr.write(`cocoon-agent: ${err.message}\n`);
      });
    }
    this.context.stderr.write('cocoon-agent: ready\n');
    await stopped;
    return 0;
  }
}
