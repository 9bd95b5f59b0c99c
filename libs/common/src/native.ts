/**
 * Loads `cocoon_native.node` (see `../native/cocoon_native.c`): flock, mknod, lsetxattr,
 * AF_VSOCK, execve, rndReseed, TIOCSWINSZ, and the serial-port and sparse-file (lseek) helpers.
 * Looked up beside the running executable first (the packaged layout), then beside this
 * bundle, then in the package's node-gyp build folder (development and tests).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingDependencyError } from './errors.ts';

export interface NativeBinding {
  flock(fd: number, exclusive: boolean, nonblock: boolean): number;
  mknod(path: string, mode: number, major: number, minor: number): number;
  lsetxattr(path: string, name: string, value: string): number;
  /** AF_VSOCK socket bound to VMADDR_CID_ANY:port and listening: the fd, or -errno. */
  vsockListen(port: number, backlog: number): number;
  /** AF_VSOCK socket connected to cid:port (blocking, bounded by timeoutMs): the fd, or -errno. */
  vsockConnect(cid: number, port: number, timeoutMs: number): number;
  /** The peer CID of a connected AF_VSOCK socket, or -errno. */
  vsockPeerCid(fd: number): number;
  /** A close-on-exec duplicate of `fd`, or -errno. */
  dupFd(fd: number): number;
  /** Sets or clears O_ASYNC on `fd` (owner: this process, so SIGIO comes here): 0 or errno. */
  setAsync(fd: number, on: boolean): number;
  /** 1 when poll() reports POLLHUP on `fd` (a serial port with no host), 0 when not, or -errno. */
  peerHungUp(fd: number): number;
  /** lseek(2) with SEEK_DATA (3) or SEEK_HOLE (4): the offset, or -errno (-ENXIO past the last data). */
  lseek(fd: number, offset: number, whence: number): number;
  /** On an fd of /dev/urandom: RNDADDENTROPY with `entropy` (≤ 512 bytes), then RNDRESEEDCRNG; 0 or -errno. */
  rndReseed(fd: number, entropy: Buffer): number;
  /** Replaces this process with `path` (argv, `K=V` env); returns an errno only if that fails. */
  execve(path: string, argv: string[], env: string[]): number;
  /** TIOCSWINSZ on a tty fd: 0, or a positive errno. */
  setWinsize(fd: number, rows: number, cols: number): number;
}

const FILE = 'cocoon_native.node';
let cached: NativeBinding | undefined;

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const list = [
    process.env.COCOON_NATIVE_ADDON,
    join(dirname(process.execPath), FILE),
    join(here, FILE),
    join(here, '..', 'build', 'Release', FILE),
  ];
  return list.filter((p): p is string => typeof p === 'string' && p.length > 0);
}

/** The native binding, loaded once. */
export function native(): NativeBinding {
  if (cached) return cached;
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    throw new MissingDependencyError(
      `${FILE} not found (looked in ${candidates().join(', ')}); rebuild with "npm run build"`,
    );
  }
  const mod = { exports: {} as NativeBinding };
  process.dlopen(mod, path);
  cached = mod.exports;
  return cached;
}
