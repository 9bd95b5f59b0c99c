import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_FRAME_TYPES, AgentFrameSchema, HOST_FRAME_TYPES, HostFrameSchema } from '../schemas/agent.ts';
import { decodeFrame, encodeData, encodeFrame, FrameReader, FrameTooLargeError, MAX_DATA_BYTES, type Piece } from './codec.ts';

const lines = (pieces: Piece[]) => pieces.map((p) => (p.kind === 'line' ? String(p.line) : p.kind === 'error' ? p.error : `${p.type}@${p.session}:${p.data.toString('hex')}`));

/** Everything a reader makes of `bytes` fed one byte at a time and whole: must be the same. */
function both(bytes: Buffer): { whole: unknown[]; trickled: unknown[] } {
  const whole = new FrameReader(1000).push(bytes);
  const trickle = new FrameReader(1000);
  const pieces: Piece[] = [];
  for (let i = 0; i < bytes.length; i++) pieces.push(...trickle.push(bytes.subarray(i, i + 1)));
  // Data pieces of one frame may come split: join neighbours of the same frame for comparison.
  const joined: Piece[] = [];
  for (const p of pieces) {
    const last = joined.at(-1);
    if (p.kind === 'data' && last?.kind === 'data' && last.type === p.type && last.session === p.session) last.data = Buffer.concat([last.data, p.data]);
    else joined.push(p.kind === 'data' ? { ...p, data: Buffer.from(p.data) } : p);
  }
  return { whole: lines(whole).map(String), trickled: lines(joined).map(String) };
}

describe('FrameReader', () => {
  it('splits JSON lines across and within chunks and skips blank space between frames', () => {
    const d = new FrameReader(100);
    assert.deepEqual(d.push(Buffer.from('  {"a"')), []);
    assert.equal(d.buffered, 4);
    assert.deepEqual(lines(d.push(Buffer.from(':1}\n\n {"b":2}\n{'))), ['{"a":1}', '{"b":2}']);
    assert.deepEqual(lines(d.push(Buffer.from('}\n'))), ['{}']);
  });

  it('reports an oversized line once and resynchronises at the next newline', () => {
    const d = new FrameReader(8);
    const out = [...d.push(Buffer.from('{23456789')), ...d.push(Buffer.from('more junk\n{"k":1}\n'))];
    assert.equal(out.length, 2);
    assert.ok(out[0]?.kind === 'error' && out[0].error instanceof FrameTooLargeError);
    assert.deepEqual(lines(out.slice(1)), ['{"k":1}']);
    assert.equal(d.buffered, 0);
  });

  it('calls anything else garbage up to the next newline', () => {
    const out = new FrameReader().push(Buffer.from('not json\n{"ok":1}\n'));
    assert.equal(out[0]?.kind, 'error');
    assert.match(String(out[0]?.kind === 'error' && out[0].error.message), /not valid JSON/);
    assert.deepEqual(lines(out.slice(1)), ['{"ok":1}']);
  });

  it('interleaves binary data frames with JSON lines, however the bytes are cut', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"type":"started"}\n'),
      ...encodeData('stdout', 7, Buffer.from([0, 10, 0x7b, 32, 255])),
      ...encodeData('stderr', 7, Buffer.from('err')),
      Buffer.from('{"type":"exit"}\n'),
    ]);
    const { whole, trickled } = both(bytes);
    assert.deepEqual(whole, ['{"type":"started"}', 'stdout@7:000a7b20ff', 'stderr@7:657272', '{"type":"exit"}']);
    assert.deepEqual(trickled, whole);
  });

  it('hands a data frame out whole, however many reads it took', () => {
    const [frame] = encodeData('stdin', 0, Buffer.alloc(40_000, 1));
    const d = new FrameReader();
    const pieces: Piece[] = [];
    for (let at = 0; at < (frame as Buffer).length; at += 4096) pieces.push(...d.push((frame as Buffer).subarray(at, at + 4096)));
    assert.equal(pieces.length, 1);
    assert.equal(pieces[0]?.kind === 'data' && pieces[0].data.length, 40_000);
  });

  it('recovers from a frame cut short when enough spaces and a newline follow (a new serial client)', () => {
    const [frame] = encodeData('stdin', 3, Buffer.alloc(MAX_DATA_BYTES, 0x41));
    for (const cut of [5, 9, 20_000]) {
      const d = new FrameReader();
      d.push((frame as Buffer).subarray(0, cut));
      const out = d.push(Buffer.concat([Buffer.alloc(MAX_DATA_BYTES + 16, 0x20), Buffer.from('\n{"type":"attach"}\n')]));
      assert.deepEqual(lines(out.filter((p) => p.kind === 'line')), ['{"type":"attach"}'], `cut at ${cut}`);
    }
  });

  it('refuses a data frame over the cap', () => {
    const header = Buffer.from([2, 0, 0, 0, 1, 0, 1, 0, 1]);
    const out = new FrameReader().push(Buffer.concat([header, Buffer.from('xx\n{"ok":1}\n')]));
    assert.ok(out[0]?.kind === 'error' && out[0].error instanceof FrameTooLargeError);
    assert.deepEqual(lines(out.slice(1)), ['{"ok":1}']);
  });
});

describe('encodeData', () => {
  it('splits at the cap and writes nothing for no bytes', () => {
    const frames = encodeData('stdout', 1, Buffer.alloc(MAX_DATA_BYTES * 2 + 1));
    assert.deepEqual(frames.map((f) => f.readUInt32BE(5)), [MAX_DATA_BYTES, MAX_DATA_BYTES, 1]);
    assert.deepEqual(frames.map((f) => [f[0], f.readUInt32BE(1)]), [[2, 1], [2, 1], [2, 1]]);
    assert.deepEqual(encodeData('stdout', 1, Buffer.alloc(0)), []);
  });
});

describe('frames', () => {
  it('parses Go-compatible frames and cocoon extensions', () => {
    const exec = decodeFrame('{"type":"exec","argv":["ls"],"env":["A=1"],"binary":true}', HostFrameSchema, HOST_FRAME_TYPES);
    assert.deepEqual(exec.frame, { type: 'exec', argv: ['ls'], env: ['A=1'], binary: true });
    const exit = decodeFrame('{"type":"exit","exit_code":137,"signal":"SIGKILL"}', AgentFrameSchema, AGENT_FRAME_TYPES);
    assert.deepEqual(exit.frame, { type: 'exit', exit_code: 137, signal: 'SIGKILL' });
    const started = decodeFrame('{"type":"started","pid":9,"binary":true,"ports":8}', AgentFrameSchema, AGENT_FRAME_TYPES);
    assert.deepEqual(started.frame, { type: 'started', pid: 9, binary: true, ports: 8 });
  });

  it('ignores unknown types and keys, and rejects bad JSON or fields', () => {
    assert.deepEqual(decodeFrame('{"type":"ping"}', HostFrameSchema, HOST_FRAME_TYPES), { unknown: 'ping' });
    assert.deepEqual(decodeFrame('{"type":"stdin_close","later":1}', HostFrameSchema, HOST_FRAME_TYPES).frame, { type: 'stdin_close' });
    assert.throws(() => decodeFrame('{', HostFrameSchema, HOST_FRAME_TYPES), /not valid JSON/);
    assert.throws(() => decodeFrame('{"type":"stdin","data":"@@"}', HostFrameSchema, HOST_FRAME_TYPES), /base64/);
    assert.throws(() => decodeFrame('{"type":"exec","argv":["a"],"cwd":"rel"}', HostFrameSchema, HOST_FRAME_TYPES), /cwd/);
    assert.throws(() => decodeFrame('{"type":"exec","argv":[]}', HostFrameSchema, HOST_FRAME_TYPES), /argv must not be empty/);
  });

  it('puts the session id first when multiplexing', () => {
    assert.equal(encodeFrame({ type: 'stdin_close', session: 9 }, 3), '{"session":3,"type":"stdin_close"}\n');
    assert.equal(encodeFrame({ type: 'stdin_close' }), '{"type":"stdin_close"}\n');
  });
});
