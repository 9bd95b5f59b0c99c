/**
 * Opening a VM's console endpoint as a byte stream: a Unix socket (QEMU's chardev socket,
 * Firecracker's relay) or a PTY device (Cloud Hypervisor's `--serial pty`). Only a PTY has
 * a window size, so only a PTY link can follow the caller's terminal.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { connect } from 'node:net';
import { ReadStream, WriteStream } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { errnoCode, InvalidStateError, TimeoutError } from '@cocoon/common/errors';
import { native } from '@cocoon/common/native';

/** Where a console is served (the driver's `consoleEndpoint`). */
export interface ConsoleEndpoint {
  kind: 'unix' | 'pty';
  path: string;
}

/** An open console: bytes to and from the VM. */
export interface ConsoleLink {
  fromVm: Readable;
  toVm: Writable;
  /** Sets the console's window size (PTY only). */
  resize?: (rows: number, cols: number) => void;
  close(): void;
}

const CONNECT_TIMEOUT_MS = 5000;

/** Opens `endpoint`; a socket that refuses or a device that cannot be opened is an InvalidStateError. */
export async function openEndpoint(endpoint: ConsoleEndpoint, vmName: string): Promise<ConsoleLink> {
  return endpoint.kind === 'pty' ? openPty(endpoint.path, vmName) : openSocket(endpoint.path, vmName);
}

function openSocket(path: string, vmName: string): Promise<ConsoleLink> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TimeoutError(`the console of VM "${vmName}" did not accept a connection within ${CONNECT_TIMEOUT_MS} ms (${path})`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve({ fromVm: socket, toVm: socket, close: () => socket.destroy() });
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new InvalidStateError(`the console of VM "${vmName}" is not reachable at ${path} (${errnoCode(err) ?? err.message}); is the VM running?`));
    });
  });
}

function openPty(path: string, vmName: string): ConsoleLink {
  // NOTE: one descriptor per stream: each tty stream closes its own when destroyed.
  const readFd = openTty(path, vmName);
  let writeFd: number;
  try {
    writeFd = openTty(path, vmName);
  } catch (err) {
    closeSync(readFd);
    throw err;
  }
  const fromVm = new ReadStream(readFd);
  // The hypervisor makes its PTY raw; set it again so no line discipline echoes or edits.
  fromVm.setRawMode(true);
  const toVm = new WriteStream(writeFd);
  return {
    fromVm,
    toVm,
    resize: (rows, cols) => void native().setWinsize(writeFd, rows, cols),
    close: () => {
      fromVm.destroy();
      toVm.destroy();
    },
  };
}

function openTty(path: string, vmName: string): number {
  try {
    // NOTE: O_NOCTTY: the VM's PTY must never become this process's controlling terminal.
    return openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  } catch (err) {
    throw new InvalidStateError(`the console of VM "${vmName}" cannot be opened at ${path} (${errnoCode(err) ?? String(err)}); is the VM running?`);
  }
}
