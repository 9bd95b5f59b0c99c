/**
 * The host-side relay for QEMU's virtio-serial channel. QEMU's chardev socket takes one
 * client, so the relay holds it and serves `agent.sock` to any number of host clients
 * with the same `CONNECT <port>\n` → `OK <port>\n` handshake as Cloud Hypervisor and
 * Firecracker, giving each connection a session id on the serial stream. A client that
 * goes away before its terminal frame becomes a `close` frame (the agent kills that
 * session); the serial stream closing (QEMU exited) ends the relay.
 */
import { chmodSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { decodeFrame, encodeFrame, LineDecoder } from '@cocoon/common/agent/codec';
import { connectUnix } from '@cocoon/common/agent/connect';
import { AGENT_PORT_ID } from '@cocoon/common/hypervisor/qemu/args';
import { QmpClient } from '@cocoon/common/hypervisor/qemu/qmp';
import { log } from '@cocoon/common/log';
import { QmpVserportChangeSchema } from '@cocoon/common/schemas/qmp';
import { HOST_FRAME_TYPES, HostFrameSchema, OPENING_FRAME_TYPES, RoutedFrameSchema } from '@cocoon/common/schemas/agent';

const MAX_ID = 2 ** 31 - 1;

/** Connects to `path`, retrying until `waitMs` passed (QEMU may still be creating it). */
async function connectWithRetry(path: string, waitMs: number): Promise<Socket> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await connectUnix(path);
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Watches QEMU's event monitor: when the guest closes the agent's port (the agent died,
 * even by SIGKILL, so it could send nothing), every open session ends with an `error`
 * frame instead of waiting forever. Best effort: without the monitor, sessions still end
 * when QEMU goes.
 */
async function watchAgentPort(events: string, clients: Map<number, Socket>): Promise<void> {
  let qmp: QmpClient;
  try {
    qmp = await QmpClient.open(events, 5000);
  } catch (err) {
    log().warn({ err: (err as Error).message, events }, 'relay: no QMP event monitor; a dead agent is only noticed when QEMU exits');
    return;
  }
  qmp.onEvent((event) => {
    const change = QmpVserportChangeSchema.safeParse(event.data);
    if (event.event !== 'VSERPORT_CHANGE' || !change.success || change.data.id !== AGENT_PORT_ID || change.data.open) return;
    log().warn({ sessions: clients.size }, 'relay: the guest closed the agent port; ending its sessions');
    for (const client of clients.values()) client.end(encodeFrame({ type: 'error', message: 'the guest agent went away (its serial port closed)' }));
    clients.clear();
  });
}

/** Runs the relay until the serial socket closes. */
export async function runRelay(opts: { serial: string; listen: string; port: number; waitMs: number; events?: string }): Promise<void> {
  const serial = await connectWithRetry(opts.serial, opts.waitMs);
  const clients = new Map<number, Socket>();
  if (opts.events) await watchAgentPort(opts.events, clients);
  let nextId = 1;
  const allocate = () => {
    while (clients.has(nextId)) nextId = nextId >= MAX_ID ? 1 : nextId + 1;
    const id = nextId;
    nextId = nextId >= MAX_ID ? 1 : nextId + 1;
    return id;
  };
  routeSerial(serial, clients);
  if (statSync(opts.listen, { throwIfNoEntry: false })?.isSocket()) unlinkSync(opts.listen);
  const server = createServer((client) => handshake(client, opts.port, () => {
    const id = allocate();
    clients.set(id, client);
    return id;
  }, serial, clients));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen, () => resolve());
  });
  chmodSync(opts.listen, 0o600);
  log().info({ serial: opts.serial, listen: opts.listen }, 'relay ready');
  await new Promise<void>((resolve) => serial.once('close', () => resolve()));
  server.close();
  for (const client of clients.values()) client.destroy();
  try {
    unlinkSync(opts.listen);
  } catch {
    // already gone
  }
}

/** Agent → clients: forwards each line verbatim to the client owning its session. */
function routeSerial(serial: Socket, clients: Map<number, Socket>): void {
  const decoder = new LineDecoder();
  serial.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) {
      if (line instanceof Error) continue;
      let routed;
      try {
        routed = RoutedFrameSchema.safeParse(JSON.parse(line.toString('utf8')));
      } catch {
        continue;
      }
      const client = routed.success ? clients.get(routed.data.session) : undefined;
      if (!client || !routed.success) continue;
      // A slow client stalls the shared stream until it drains (bounded memory).
      if (!client.write(Buffer.concat([line, Buffer.from('\n')]))) {
        serial.pause();
        client.once('drain', () => serial.resume());
        client.once('close', () => serial.resume());
      }
      if (routed.data.type === 'exit' || routed.data.type === 'error') {
        clients.delete(routed.data.session);
        client.end();
      }
    }
  });
  serial.on('error', (err) => log().warn({ err: err.message }, 'relay: serial stream error'));
  serial.once('end', () => serial.destroy());
}

/** Client side: `CONNECT <port>` handshake, then its frames tagged with a session id. */
function handshake(client: Socket, port: number, open: () => number, serial: Socket, clients: Map<number, Socket>): void {
  let head = Buffer.alloc(0);
  client.on('error', () => undefined);
  const onHead = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const nl = head.indexOf(0x0a);
    if (nl === -1) {
      if (head.length > 256) client.destroy();
      return;
    }
    client.off('data', onHead);
    const match = /^CONNECT (\d+)$/.exec(head.subarray(0, nl).toString('latin1').trimEnd());
    // Like Firecracker: a port nobody listens on is refused by closing the connection.
    if (!match || Number(match[1]) !== port) return void client.destroy();
    client.write(`OK ${port}\n`);
    const id = open();
    pump(client, id, serial, clients);
    if (nl + 1 < head.length) client.emit('data', head.subarray(nl + 1));
  };
  client.on('data', onHead);
}

function pump(client: Socket, id: number, serial: Socket, clients: Map<number, Socket>): void {
  const decoder = new LineDecoder();
  let started = false;
  const fail = (message: string) => {
    client.end(encodeFrame({ type: 'error', message }));
    client.pause();
  };
  client.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) {
      try {
        if (line instanceof Error) throw line;
        const { frame } = decodeFrame(line, HostFrameSchema, HOST_FRAME_TYPES);
        if (!frame) continue;
        if (!started && !OPENING_FRAME_TYPES.has(frame.type)) throw new Error(`the first frame must be "exec" or "reseed", got "${frame.type}"`);
        started = true;
        if (!serial.write(encodeFrame(frame, id))) {
          client.pause();
          serial.once('drain', () => client.resume());
        }
      } catch (err) {
        if (started) serial.write(encodeFrame({ type: 'close', session: id }));
        clients.delete(id);
        return fail(err instanceof Error ? err.message : String(err));
      }
    }
  });
  client.once('close', () => {
    // The client left before its session ended: tell the agent to kill it.
    if (clients.get(id) === client) {
      clients.delete(id);
      if (started && !serial.destroyed) serial.write(encodeFrame({ type: 'close', session: id }));
    }
  });
}
