/**
 * Escape sequences of a console session, recognised in what the user types:
 * - the escape char (default `^]`) followed by `.` detaches (the Go cocoon's sequence);
 * - at the start of a line, `~.` detaches and `~?` prints help (SSH's sequences, which the
 *   Go cocoon documents but never built); `~~` sends one `~`.
 * Anything else is passed through unchanged, including a lone escape char or `~` followed
 * by another key (both are sent, so typing them in the guest still works).
 */
import { UsageError } from '@cocoon/common/errors';

export const DEFAULT_ESCAPE = '^]';

/**
 * Parses `--escape-char`: one ASCII character, or caret notation `^X` (`^]`, `^A`, `^a` …).
 * NUL, CR, LF, DEL and non-ASCII characters are refused: they either cannot be typed alone
 * or would swallow line ends.
 */
export function parseEscapeChar(value: string): number {
  let byte: number;
  if (value.length === 2 && value[0] === '^') {
    const c = value.charCodeAt(1);
    if (c >= 0x40 && c <= 0x5f) byte = c - 0x40;
    else if (c >= 0x61 && c <= 0x7a) byte = c - 0x60;
    else throw new UsageError(`--escape-char: "${value}" is not caret notation (use ^A through ^_ or ^a through ^z, e.g. ^])`);
  } else if ([...value].length === 1) {
    byte = value.codePointAt(0) as number;
  } else {
    throw new UsageError(`--escape-char: "${value}" must be a single character or ^X caret notation (e.g. ^])`);
  }
  if (byte === 0) throw new UsageError('--escape-char: NUL cannot be the escape character');
  if (byte === 0x0d || byte === 0x0a) throw new UsageError('--escape-char: CR or LF cannot be the escape character');
  if (byte === 0x7f) throw new UsageError('--escape-char: DEL cannot be the escape character');
  if (byte > 0x7f) throw new UsageError(`--escape-char: "${value}" is not ASCII`);
  return byte;
}

/** How an escape byte is shown: `^]` for control characters, else the character. */
export function formatEscapeChar(byte: number): string {
  return byte < 0x20 ? `^${String.fromCharCode(byte + 0x40)}` : String.fromCharCode(byte);
}

/** The text `~?` prints. */
export function escapeHelp(escape: number): string {
  const e = formatEscapeChar(escape);
  return [
    'Supported escape sequences:',
    ` ${e} .  - disconnect`,
    ' ~.    - disconnect (at the start of a line)',
    ' ~?    - this message',
    ' ~~    - send a single ~',
    '(~ sequences are recognised only right after Enter or at the start of the session.)',
    '',
  ].join('\n');
}

export type EscapeAction = 'detach' | 'help';

const TILDE = 0x7e;
const DOT = 0x2e;
const QUESTION = 0x3f;

/**
 * A stateful filter over input chunks: `push(chunk)` returns the bytes to send to the VM
 * and the actions the user asked for, in order. After `detach` the rest of the chunk is
 * dropped (it was typed after the disconnect).
 */
export class EscapeFilter {
  private pending: 'none' | 'escape' | 'tilde' = 'none';
  private lineStart = true;

  constructor(private readonly escape: number) {}

  push(chunk: Uint8Array): { data: Buffer; actions: EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of chunk) {
      if (this.step(byte, out, actions) === 'detach') return { data: Buffer.from(out), actions };
    }
    return { data: Buffer.from(out), actions };
  }

  private step(byte: number, out: number[], actions: EscapeAction[]): 'detach' | void {
    if (this.pending === 'escape') {
      this.pending = 'none';
      if (byte === DOT) return detach(actions);
      out.push(this.escape);
      if (byte === this.escape) return; // typed twice: one escape char reaches the guest
    } else if (this.pending === 'tilde') {
      this.pending = 'none';
      if (byte === DOT) return detach(actions);
      if (byte === QUESTION) {
        actions.push('help');
        return; // still at the start of a line, as in SSH
      }
      out.push(TILDE);
      this.lineStart = false;
      if (byte === TILDE) return;
    }
    if (byte === this.escape) {
      this.pending = 'escape';
      return;
    }
    if (byte === TILDE && this.lineStart) {
      this.pending = 'tilde';
      return;
    }
    out.push(byte);
    this.lineStart = byte === 0x0d || byte === 0x0a;
  }
}

function detach(actions: EscapeAction[]): 'detach' {
  actions.push('detach');
  return 'detach';
}
