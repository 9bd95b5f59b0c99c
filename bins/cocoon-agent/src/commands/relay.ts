import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { configureLogging } from '@cocoon/common/log';
import { AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';
import { LogLevelSchema } from '@cocoon/common/schemas/config';
import { runRelay } from '../relay.ts';

/** `cocoon-agent relay`: many host clients onto QEMU's one virtio-serial socket. */
export class RelayCommand extends Command<CocoonContext> {
  static override paths = [['relay']];
  static override usage = Command.Usage({
    description: "share a QEMU VM's virtio-serial agent channel between many host clients",
    details: 'Connects to QEMU\'s chardev socket (`--serial`) and serves `--listen` with the hybrid-vsock handshake (`CONNECT <port>` → `OK <port>`), one agent session per client connection. Exits when QEMU closes the serial socket.',
    examples: [['Relay a VM\'s channel', '$0 relay --serial /run/cocoon/vm/ID/agent-serial.sock --listen /run/cocoon/vm/ID/agent.sock']],
  });

  serial = Option.String('--serial', { required: true, description: "QEMU's virtio-serial chardev socket (QEMU is the server)" });
  listen = Option.String('--listen', { required: true, description: 'Unix socket to serve host clients on (created 0600)' });
  port = Option.String('--port', String(AGENT_VSOCK_PORT), { description: 'port clients must CONNECT to' });
  waitMs = Option.String('--wait-ms', '10000', { description: 'how long to wait for the serial socket to appear' });
  events = Option.String('--events', { description: "QEMU's event-only QMP socket: sessions end when the guest closes the agent port" });

  override async execute(): Promise<number> {
    const level = LogLevelSchema.safeParse(this.context.globals.log_level ?? this.context.env.COCOON_LOG_LEVEL ?? 'warn');
    configureLogging({ tool: 'cocoon-agent', level: level.success ? level.data : 'warn', logDir: null });
    const port = Number(this.port);
    const waitMs = Number(this.waitMs);
    if (!Number.isInteger(port) || port < 1) throw new UsageError(`--port: "${this.port}" is not a port number`);
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new UsageError(`--wait-ms: "${this.waitMs}" is not a duration in ms`);
    await runRelay({ serial: this.serial, listen: this.listen, port, waitMs, events: this.events });
    return 0;
  }
}
