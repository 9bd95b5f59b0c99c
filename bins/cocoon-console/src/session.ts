/**
 * One console session: the local terminal goes raw, bytes flow both ways, typed escape
 * sequences are acted on, and the terminal is restored on every way out (detach, the VM
 * closing its console, stdin ending, SIGTERM/SIGHUP/SIGINT/SIGQUIT, an error, and even a
 * crash through the `exit` hook).
 */
import type { ConsoleLink } from './endpoint.ts';
import { EscapeFilter, escapeHelp, formatEscapeChar } from './escape.ts';

export interface SessionIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Why a session ended. */
export type SessionEnd =
  | { kind: 'detached' }
  | { kind: 'vm-closed'; error?: string }
  | { kind: 'stdin-closed' }
  | { kind: 'signal'; signal: NodeJS.Signals };

const SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const;

/** Runs a session on `link` until it ends; the link is closed and the terminal restored. */
export function runSession(link: ConsoleLink, io: SessionIo, opts: { escape: number; name: string }): Promise<SessionEnd> {
  const raw = Boolean(io.stdin.isTTY);
  const filter = new EscapeFilter(opts.escape);
  const term = io.stdout as NodeJS.WriteStream;
  const resize = () => {
    if (link.resize && term.isTTY && term.rows && term.columns) link.resize(term.rows, term.columns);
  };
  // NOTE: a last resort: whatever kills this process, the user's terminal is not left raw.
  const restoreOnExit = () => raw && io.stdin.setRawMode(false);
  return new Promise<SessionEnd>((resolve) => {
    let ended = false;
    const onSignal = SIGNALS.map((signal) => [signal, () => finish({ kind: 'signal', signal })] as const);
    const onInput = (chunk: Buffer) => {
      const { data, actions } = filter.push(chunk);
      if (data.length > 0) link.toVm.write(data);
      for (const action of actions) {
        if (action === 'help') io.stderr.write(escapeHelp(opts.escape));
        else return finish({ kind: 'detached' });
      }
    };
    const onOutput = (chunk: Buffer) => io.stdout.write(chunk);
    const onStdinEnd = () => finish({ kind: 'stdin-closed' });
    const onVmEnd = () => finish({ kind: 'vm-closed' });
    const onVmError = (err: Error) => finish({ kind: 'vm-closed', error: err.message });
    function finish(end: SessionEnd): void {
      if (ended) return;
      ended = true;
      for (const [signal, handler] of onSignal) process.off(signal, handler);
      process.off('SIGWINCH', resize);
      process.off('exit', restoreOnExit);
      io.stdin.off('data', onInput);
      io.stdin.off('end', onStdinEnd);
      io.stdin.pause();
      if (raw) io.stdin.setRawMode(false);
      link.fromVm.off('data', onOutput);
      link.close();
      // NOTE: plain LF even in raw mode: libuv's raw mode keeps output processing (ONLCR).
      io.stderr.write(`\nDisconnected from ${opts.name}${describe(end)}.\n`);
      resolve(end);
    }
    for (const [signal, handler] of onSignal) process.on(signal, handler);
    process.on('SIGWINCH', resize);
    process.on('exit', restoreOnExit);
    if (raw) io.stdin.setRawMode(true);
    resize();
    io.stderr.write(`Connected to ${opts.name} (escape: ${formatEscapeChar(opts.escape)} .)\n`);
    link.fromVm.on('data', onOutput);
    link.fromVm.once('end', onVmEnd);
    link.fromVm.once('close', onVmEnd);
    link.fromVm.once('error', onVmError);
    io.stdin.on('data', onInput);
    io.stdin.once('end', onStdinEnd);
    io.stdin.resume();
  });
}

function describe(end: SessionEnd): string {
  switch (end.kind) {
    case 'vm-closed':
      return `: the VM closed its console${end.error ? ` (${end.error})` : ' (it stopped)'}`;
    case 'signal':
      return ` (${end.signal})`;
    default:
      return '';
  }
}
