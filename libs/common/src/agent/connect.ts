/**
 * Ways to reach a cocoon-agent from the host, each resolving to a connected duplex socket
 * that speaks the frame protocol: a plain Unix socket (tests, `--listen-unix`), the
 * Cloud Hypervisor / Firecracker hybrid-vsock Unix socket, and kernel AF_VSOCK (QEMU with
 * vhost-vsock). A QEMU serial port of the pool is a plain Unix socket (`connectUnix`).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ExternalError, NotFoundError, TimeoutError } from '../errors.ts';
import { native } from '../native.ts';
import { AGENT_VSOCK_PORT } from '../schemas/agent.ts';
import { socketFromFd } from './fd-stream.ts';

/** Longest handshake line accepted (`OK <port>\n` is short; anything long is not a peer). */
const MAX_HANDSHAKE = 256;

/** Connects to a Unix socket; ENOENT/ECONNREFUSED become NotFoundError (nothing listening). */
export function connectUnix(path: string, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(`connecting to ${path} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new NotFoundError(`nothing is listening on ${path} (${err.code})`));
      else reject(new ExternalError(`cannot connect to ${path}: ${err.message}`));
    });
  });
}

/**
 * Connects through a hybrid-vsock Unix socket: writes `CONNECT <port>\n`, expects
 * `OK <n>\n`; bytes after that line stay in the stream for the protocol.
 */
export async function connectHybridVsock(path: string, port = AGENT_VSOCK_PORT, timeoutMs = 5000): Promise<Socket> {
  const socket = await connectUnix(path, timeoutMs);
  try {
    socket.write(`CONNECT ${port}\n`);
    const line = await readHandshakeLine(socket, timeoutMs);
    if (!/^OK \d+$/.test(line)) throw new ExternalError(`${path}: the vsock handshake for port ${port} was refused (${JSON.stringify(line.slice(0, 80))})`);
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function readHandshakeLine(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd).off('error', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const nl = got.indexOf(0x0a);
      if (nl === -1) {
        if (got.length > MAX_HANDSHAKE) done(new ExternalError('vsock handshake: no reply line'));
        return;
      }
      done(null, got.subarray(0, nl).toString('latin1').trimEnd());
      // NOTE: whatever followed the OK line already belongs to the agent protocol; it goes
      // back only after this listener is gone, so the protocol reader sees it first.
      if (nl + 1 < got.length) socket.unshift(got.subarray(nl + 1));
    };
    const onEnd = () => done(new ExternalError('vsock handshake: the socket closed (no agent listening on that port?)'));
    const timer = setTimeout(() => done(new TimeoutError(`vsock handshake: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData).once('end', onEnd).once('error', onEnd);
  });
}

/** Connects to `cid:port` over kernel AF_VSOCK (needs vhost-vsock on the host). */
export function connectVsock(cid: number, port = AGENT_VSOCK_PORT, timeoutMs = 5000): Socket {
  const fd = native().vsockConnect(cid, port, timeoutMs);
  if (fd === -110) throw new TimeoutError(`vsock ${cid}:${port}: no answer within ${timeoutMs} ms`);
  if (fd === -19 || fd === -97) throw new ExternalError(`vsock ${cid}:${port}: this host has no AF_VSOCK transport (load vhost_vsock)`);
  if (fd < 0) throw new ExternalError(`vsock ${cid}:${port}: connect failed (errno ${-fd})`);
  return socketFromFd(fd);
}
