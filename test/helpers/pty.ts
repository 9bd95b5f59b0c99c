/**
 * Driving the built executables on a real pseudo-terminal (node-pty): what a user at a
 * terminal sees, keys typed as bytes, window resizes, and the exit status.
 */
import { join } from 'node:path';
import * as pty from 'node-pty';
import { BIN, env } from './cocoon.ts';

export interface PtyExit {
  code: number;
  signal: number;
}

/** One program on a pty: accumulates its output; `expect` waits for text to appear. */
export class PtyRun {
  readonly term: pty.IPty;
  output = '';
  readonly exited: Promise<PtyExit>;
  private mark = 0;

  constructor(file: string, args: string[], opts: { cols?: number; rows?: number; extraEnv?: Record<string, string> } = {}) {
    this.term = pty.spawn(file, args, { cols: opts.cols ?? 80, rows: opts.rows ?? 24, env: { ...process.env, ...env, ...opts.extraEnv } as Record<string, string> });
    this.term.onData((d) => (this.output += d));
    this.exited = new Promise((resolve) => this.term.onExit(({ exitCode, signal }) => resolve({ code: exitCode, signal: signal ?? 0 })));
  }

  /** Waits until `pattern` appears in the output written since the last `expect`; returns that output. */
  async expect(pattern: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = this.output.slice(this.mark);
      const m = typeof pattern === 'string' ? (fresh.includes(pattern) ? { index: fresh.indexOf(pattern), length: pattern.length } : null) : pattern.exec(fresh);
      if (m) {
        const end = m.index + (typeof pattern === 'string' ? pattern.length : (m as RegExpExecArray)[0].length);
        this.mark += end;
        return fresh.slice(0, end);
      }
      if (Date.now() > deadline) throw new Error(`${String(pattern)} not seen within ${timeoutMs} ms; output so far:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  write(data: string): void {
    this.term.write(data);
  }

  /** The exit status, or a rejection when it does not exit in time (the process is killed). */
  async exit(timeoutMs = 30_000): Promise<PtyExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.term.kill('SIGKILL');
        reject(new Error(`no exit within ${timeoutMs} ms; output:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `dist/bin/cocoon ARGS…` on a pty. */
export function cocoonOnPty(args: string[], opts?: ConstructorParameters<typeof PtyRun>[2]): PtyRun {
  return new PtyRun(join(BIN, 'cocoon'), args, opts);
}

/** Runs `cocoon ARGS…` on a pty of `cols`×`rows`; `script` drives it; resolves with all output. */
export async function underPty(args: string[], cols: number, rows: number, script: (term: pty.IPty) => void): Promise<{ code: number; output: string }> {
  const run = cocoonOnPty(args, { cols, rows });
  script(run.term);
  const { code } = await run.exit(60_000);
  return { code, output: run.output };
}
