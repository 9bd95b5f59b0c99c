/**
 * Streams over file descriptors Node's `net` refuses: AF_VSOCK sockets and virtio-serial
 * character devices (`new net.Socket({fd})` rejects both: libuv guesses their type as
 * UNKNOWN/FILE). libuv itself streams any pollable fd, so the fd is opened into Node's
 * internal `pipe_wrap` Pipe handle (`uv_pipe_open` only sets O_NONBLOCK and registers the
 * fd with epoll) and that handle backs a regular `net.Socket`: real event-loop I/O with
 * `write()`/`drain` backpressure, no thread-pool reads, and it works inside a single
 * executable. The alternative, fs streams on the fd, would park one thread-pool thread
 * per idle session (blocking reads), which deadlocks at four sessions.
 */
import { Socket } from 'node:net';
import { ExternalError, MissingDependencyError } from '../errors.ts';

interface PipeHandle {
  open(fd: number): number;
  listen(backlog: number): number;
  close(cb?: () => void): void;
  readonly fd: number;
  onconnection: ((status: number, client: PipeHandle | undefined) => void) | null;
}
interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number; SERVER: number };
}

function pipeWrap(): PipeWrap {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  const mod = typeof binding === 'function' ? (binding.call(process, 'pipe_wrap') as Partial<PipeWrap>) : undefined;
  if (!mod?.Pipe || !mod.constants) throw new MissingDependencyError('this Node.js has no pipe_wrap binding; cannot stream vsock or serial fds');
  return mod as PipeWrap;
}

function uvError(what: string, status: number): ExternalError {
  return new ExternalError(`${what}: libuv error ${status}`);
}

/**
 * How much a stream over an fd buffers before `write()` says "wait": big enough for a few
 * whole 64 KiB data frames, so a session streaming output is not paused and resumed for
 * every frame (Node's default is 16 KiB, less than one frame).
 */
const WRITE_HIGH_WATER = 512 * 1024;

/**
 * A duplex `net.Socket` over `fd` (owned from now on: destroying the socket closes it).
 * `readable: false` makes a write-only stream (nothing is read from the fd). Throws when
 * libuv cannot poll the fd.
 */
export function socketFromFd(fd: number, opts: { readable?: boolean } = {}): Socket {
  const { Pipe, constants } = pipeWrap();
  const handle = new Pipe(constants.SOCKET);
  const status = handle.open(fd);
  if (status !== 0) {
    handle.close();
    throw uvError(`cannot stream fd ${fd}`, status);
  }
  // NOTE: net.Socket accepts a pre-made handle through the `handle` option (how Node wraps
  // stdio pipes); it is typed as internal, hence the widened options object.
  const readable = opts.readable !== false;
  return new Socket({ handle, readable, writable: true, allowHalfOpen: !readable, writableHighWaterMark: WRITE_HIGH_WATER } as unknown as ConstructorParameters<typeof Socket>[0]);
}

/** A listening socket driven by libuv; `close()` stops accepting and closes the fd. */
export interface FdListener {
  close(): void;
}

/**
 * Accepts connections on the listening socket `fd` (any family libuv can `accept4`),
 * calling `onConnection` with each accepted socket and its raw fd (for peer checks).
 */
export function listenOnFd(fd: number, backlog: number, onConnection: (socket: Socket, fd: number) => void, onError: (err: Error) => void): FdListener {
  const { Pipe, constants } = pipeWrap();
  const server = new Pipe(constants.SERVER);
  let status = server.open(fd);
  if (status === 0) {
    server.onconnection = (code, client) => {
      if (code !== 0 || !client) {
        onError(uvError('accept failed', code));
        return;
      }
      const socket = new Socket({ handle: client, readable: true, writable: true, writableHighWaterMark: WRITE_HIGH_WATER } as unknown as ConstructorParameters<typeof Socket>[0]);
      onConnection(socket, client.fd);
    };
    status = server.listen(backlog);
  }
  if (status !== 0) {
    server.close();
    throw uvError(`cannot listen on fd ${fd}`, status);
  }
  return { close: () => server.close() };
}
