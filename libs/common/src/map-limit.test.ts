import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { orderedLimiter } from './map-limit.ts';

it('grants slots in ticket order, skips released tickets, never exceeds the limit', async () => {
  const lim = orderedLimiter(1);
  const order: number[] = [];
  let active = 0;
  let peak = 0;
  const tickets = [0, 1, 2, 3].map(() => lim.ticket());
  const work = (i: number) => async () => {
    active++;
    peak = Math.max(peak, active);
    order.push(i);
    await sleep(5);
    active--;
  };
  // Callers arrive in reverse order; ticket 1 is released without running.
  const runs = [3, 2, 0].map(async (i) => {
    await sleep((3 - i) * 3);
    await tickets[i]!.run(work(i));
  });
  tickets[1]!.release();
  await Promise.all(runs);
  assert.deepEqual(order, [0, 2, 3]);
  assert.equal(peak, 1);
});
