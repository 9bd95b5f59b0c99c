/**
 * A child on a real pseudo-terminal (node-pty): the pty is its controlling terminal, its
 * output arrives merged as `stdout`, and window size changes apply with TIOCSWINSZ.
 * node-pty is loaded on first use so pipe sessions never need its native module.
 */
import { constants } from 'node:os';
import type { ChildEvents, RunningChild } from './child.ts';
import type { ChildSpec } from './spec.ts';

type PtyModule = typeof import('node-pty');
let loaded: PtyModule | undefined;

/**
 * node-pty, loaded on first use: a dynamic import is bundled as a lazily initialised
 * module, and the bundle's stand-in for its native loader finds `pty.node` beside the
 * executable (scripts/bundle.mjs, server/pty-native.cjs).
 */
async function ptyModule(): Promise<PtyModule> {
  if (!loaded) {
    const mod = (await import('node-pty')) as PtyModule & { default?: PtyModule };
    loaded = typeof mod.spawn === 'function' ? mod : (mod.default as PtyModule);
  }
  return loaded;
}

/** Starts `spec` on a new pty; node-pty makes it a session leader (own process group). */
export async function startPtyChild(spec: ChildSpec, events: ChildEvents): Promise<RunningChild> {
  const pty = (await ptyModule()).spawn(spec.file, spec.args, {
    name: spec.env.TERM ?? 'xterm-256color',
    cols: spec.cols,
    rows: spec.rows,
    cwd: spec.cwd,
    env: spec.env,
    uid: spec.uid,
    gid: spec.gid,
    encoding: null,
  });
  let exited = false;
  pty.onData((data: string | Buffer) => events.output('stdout', typeof data === 'string' ? Buffer.from(data) : data));
  pty.onExit(({ exitCode, signal }) => {
    exited = true;
    const name = signal ? signalName(signal) : null;
    events.exited(name ? null : exitCode, name);
    // node-pty reports exit once the pty has drained, so output is complete here.
    events.outputEnded();
  });
  return {
    pid: pty.pid,
    writeStdin: (data) => {
      if (!exited) pty.write(data);
      return true;
    },
    onStdinDrain: (cb) => cb(),
    // A pty has no half-close: ^D at line start is the terminal's end of file.
    closeStdin: () => undefined,
    pauseOutput: () => pty.pause(),
    resumeOutput: () => pty.resume(),
    resize: (rows, cols) => {
      if (!exited) pty.resize(cols, rows);
    },
    detach: () => {
      try {
        pty.kill('SIGHUP');
      } catch {
        // already gone
      }
    },
  };
}

function signalName(num: number): string {
  const entry = Object.entries(constants.signals).find(([, n]) => n === num);
  return entry ? entry[0] : `SIG${num}`;
}
