import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EscapeFilter, formatEscapeChar, parseEscapeChar } from './escape.ts';

const ESC = 0x1d; // ^]

/** Feeds `chunks` through a fresh filter; returns what reached the VM and the actions. */
function feed(chunks: string[], escape = ESC): { sent: string; actions: string[] } {
  const f = new EscapeFilter(escape);
  let sent = '';
  const actions: string[] = [];
  for (const c of chunks) {
    const r = f.push(Buffer.from(c, 'latin1'));
    sent += r.data.toString('latin1');
    actions.push(...r.actions);
    if (r.actions.includes('detach')) break;
  }
  return { sent, actions };
}

describe('--escape-char', () => {
  it('takes caret notation and single characters', () => {
    assert.equal(parseEscapeChar('^]'), 0x1d);
    assert.equal(parseEscapeChar('^A'), 1);
    assert.equal(parseEscapeChar('^a'), 1);
    assert.equal(parseEscapeChar('^_'), 0x1f);
    assert.equal(parseEscapeChar('~'), 0x7e);
    assert.equal(parseEscapeChar('\x01'), 1);
    assert.equal(formatEscapeChar(0x1d), '^]');
    assert.equal(formatEscapeChar(0x7e), '~');
  });

  it('refuses NUL, CR, LF, DEL, non-ASCII, bad caret notation and longer strings', () => {
    for (const [value, message] of [
      ['^@', /NUL/], ['\0', /NUL/], ['^M', /CR or LF/], ['^J', /CR or LF/], ['\r', /CR or LF/], ['\n', /CR or LF/],
      ['\x7f', /DEL/], ['é', /not ASCII/], ['^1', /caret notation/], ['^?', /caret notation/], ['ab', /single character/], ['', /single character/],
    ] as const) {
      assert.throws(() => parseEscapeChar(value), (err: Error & { exitCode?: number }) => err.exitCode === 2 && message.test(err.message), JSON.stringify(value));
    }
  });
});

describe('escape sequences', () => {
  it('passes ordinary input through unchanged', () => {
    assert.deepEqual(feed(['echo hi\r', 'ls -l\r']), { sent: 'echo hi\rls -l\r', actions: [] });
  });

  it('detaches on ^] . anywhere, also split across chunks, and drops what follows', () => {
    assert.deepEqual(feed(['abc\x1d.xyz']), { sent: 'abc', actions: ['detach'] });
    assert.deepEqual(feed(['abc\x1d', '.', 'more']), { sent: 'abc', actions: ['detach'] });
  });

  it('sends the escape char when another key follows it, and once when typed twice', () => {
    assert.deepEqual(feed(['\x1dx']), { sent: '\x1dx', actions: [] });
    assert.deepEqual(feed(['\x1d\x1d.']), { sent: '\x1d.', actions: [] });
  });

  it('detaches on ~. at the start of the session and after Enter, not mid-line', () => {
    assert.deepEqual(feed(['~.']), { sent: '', actions: ['detach'] });
    assert.deepEqual(feed(['ls\r~', '.']), { sent: 'ls\r', actions: ['detach'] });
    assert.deepEqual(feed(['a~.b']), { sent: 'a~.b', actions: [] });
  });

  it('~? asks for help and stays at the start of a line; ~~ sends one ~; ~x sends both', () => {
    assert.deepEqual(feed(['~?~.']), { sent: '', actions: ['help', 'detach'] });
    assert.deepEqual(feed(['~~.']), { sent: '~.', actions: [] });
    assert.deepEqual(feed(['~x\r']), { sent: '~x\r', actions: [] });
  });

  it('honours another escape character', () => {
    assert.deepEqual(feed(['\x1d.'], 0x01), { sent: '\x1d.', actions: [] });
    assert.deepEqual(feed(['q\x01.'], 0x01), { sent: 'q', actions: ['detach'] });
  });
});
