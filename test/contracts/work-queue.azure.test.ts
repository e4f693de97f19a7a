import { QueueClient } from '@azure/storage-queue';
import { StorageWorkQueue } from '../../src/adapters/queue/work-queue';
import { startAzurite, type AzuriteInstance } from '../support/azurite';
import { describeWorkQueueContract } from './work-queue.contract';

let azurite: AzuriteInstance;
let counter = 0;

beforeAll(async () => {
  azurite = await startAzurite({ queue: true });
});

afterAll(async () => {
  await azurite?.stop();
});

const freshQueue = () => {
  counter += 1;
  return new StorageWorkQueue({ connection: { connectionString: azurite.connectionString }, queueName: `mailbox-sync-${counter}` });
};

describeWorkQueueContract('Azure Storage Queues (Azurite)', async () => ({
  queue: freshQueue(),
  elapse: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
}));

describe('StorageWorkQueue wire format', () => {
  const body = { mailbox: 'alice@contoso.example', reason: 'schedule' as const, requestedAt: '2026-01-01T00:00:00.000Z' };

  it('the raw message text is base64 of the JSON, what the Functions queue trigger expects (service-limits.md §3)', async () => {
    const queue = freshQueue();
    await queue.send(body);
    const peeked = await queue.client.peekMessages({ numberOfMessages: 1 });
    const text = peeked.peekedMessageItems[0]?.messageText ?? '';
    expect(text).toBe(Buffer.from(JSON.stringify(body), 'utf8').toString('base64'));
    expect(JSON.parse(Buffer.from(text, 'base64').toString('utf8'))).toEqual(body);
  });

  it('a base64 JSON message written by another producer (e.g. a Functions output binding) is received', async () => {
    const queue = freshQueue();
    await queue.send(body);
    await queue.client.sendMessage(Buffer.from(JSON.stringify({ ...body, reason: 'manual' })).toString('base64'));
    expect((await queue.receive(10, 30)).map((m) => m.body.reason)).toEqual(['schedule', 'manual']);
  });

  it('a message that is not a valid request goes to <queue>-poison instead of blocking the queue', async () => {
    const queue = freshQueue();
    await queue.send(body);
    await queue.client.sendMessage(JSON.stringify(body)); // plain JSON, not base64
    await queue.client.sendMessage(Buffer.from('{"mailbox": 1}').toString('base64'));
    const received = await queue.receive(10, 30);
    expect(received.map((m) => m.body)).toEqual([body]);
    const poisoned = await queue.poison.peekMessages({ numberOfMessages: 10 });
    expect(poisoned.peekedMessageItems.map((m) => m.messageText)).toEqual([JSON.stringify(body), Buffer.from('{"mailbox": 1}').toString('base64')]);
    // Only the valid (now invisible) message is left: the approximate count includes invisible messages.
    const properties = await new QueueClient(azurite.connectionString, queue.client.name).getProperties();
    expect(properties.approximateMessagesCount).toBe(1);
  });
});
