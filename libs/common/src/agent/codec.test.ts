import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_FRAME_TYPES, AgentFrameSchema, HOST_FRAME_TYPES, HostFrameSchema } from '../schemas/agent.ts';
import { decodeFrame, encodeFrame, FrameTooLargeError, LineDecoder } from './codec.ts';

describe('LineDecoder', () => {
  it('splits lines across and within chunks', () => {
    const d = new LineDecoder(100);
    assert.deepEqual(d.push(Buffer.from('ab')), []);
    assert.deepEqual(d.push(Buffer.from('c\nde\n\nf')).map(String), ['abc', 'de', '']);
    assert.equal(d.buffered, 1);
    assert.deepEqual(d.push(Buffer.from('g\n')).map(String), ['fg']);
  });

  it('reports an oversized line once and resynchronises at the next newline', () => {
    const d = new LineDecoder(8);
    const out = [...d.push(Buffer.from('123456789')), ...d.push(Buffer.from('more junk\nok\n'))];
    assert.equal(out.length, 2);
    assert.ok(out[0] instanceof FrameTooLargeError);
    assert.equal(String(out[1]), 'ok');
    assert.equal(d.buffered, 0);
    assert.ok(d.push(Buffer.from('123456789\n'))[0] instanceof FrameTooLargeError);
  });
});

describe('frames', () => {
  it('parses Go-compatible frames and cocoon extensions', () => {
    const exec = decodeFrame('{"type":"exec","argv":["ls"],"env":["A=1"]}', HostFrameSchema, HOST_FRAME_TYPES);
    assert.deepEqual(exec.frame, { type: 'exec', argv: ['ls'], env: ['A=1'] });
    const exit = decodeFrame('{"type":"exit","exit_code":137,"signal":"SIGKILL"}', AgentFrameSchema, AGENT_FRAME_TYPES);
    assert.deepEqual(exit.frame, { type: 'exit', exit_code: 137, signal: 'SIGKILL' });
  });

  it('ignores unknown types and rejects bad JSON or fields', () => {
    assert.deepEqual(decodeFrame('{"type":"ping"}', HostFrameSchema, HOST_FRAME_TYPES), { unknown: 'ping' });
    assert.throws(() => decodeFrame('{', HostFrameSchema, HOST_FRAME_TYPES), /not valid JSON/);
    assert.throws(() => decodeFrame('{"type":"stdin","data":"@@"}', HostFrameSchema, HOST_FRAME_TYPES), /base64/);
    assert.throws(() => decodeFrame('{"type":"exec","argv":["a"],"cwd":"rel"}', HostFrameSchema, HOST_FRAME_TYPES), /cwd/);
  });

  it('puts the session id first when multiplexing', () => {
    assert.equal(encodeFrame({ type: 'stdin_close', session: 9 }, 3), '{"session":3,"type":"stdin_close"}\n');
    assert.equal(encodeFrame({ type: 'stdin_close' }), '{"type":"stdin_close"}\n');
  });
});
