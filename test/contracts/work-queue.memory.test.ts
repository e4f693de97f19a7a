import { MemoryWorkQueue } from '../../src/adapters/memory/work-queue';
import { describeWorkQueueContract } from './work-queue.contract';

describeWorkQueueContract('in-memory', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const queue = new MemoryWorkQueue(() => now);
  return {
    queue,
    elapse: async (seconds) => {
      now += seconds * 1000;
    },
  };
});

describe('MemoryWorkQueue wire format', () => {
  it('stores bodies as base64 JSON, as the Azure adapter sends them (service-limits.md §3)', async () => {
    const queue = new MemoryWorkQueue();
    const body = { mailbox: 'a@x.example', reason: 'manual' as const, requestedAt: '2026-01-01T00:00:00.000Z' };
    await queue.send(body);
    expect(queue.rawBodies()).toEqual([Buffer.from(JSON.stringify(body)).toString('base64')]);
  });
});
