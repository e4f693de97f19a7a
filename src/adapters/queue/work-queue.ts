// WorkQueue on Azure Storage Queues. Bodies are base64 JSON (message.ts), so the Functions queue trigger reads what
// the fan-out timer sends. A message whose body cannot be understood is moved to `<queue>-poison`, the queue the
// Functions host itself uses after maxDequeueCount failed attempts (service-limits.md §3), rather than lost or retried
// forever. The SDK pipeline is the only retry layer.
import type { TokenCredential } from '@azure/identity';
import { QueueClient, RestError, type StoragePipelineOptions } from '@azure/storage-queue';
import { AuthError, ConcurrencyError, ItemRejectedError, TransientError } from '../../ports/errors';
import type { MailboxSyncRequest, ReceivedMessage, WorkQueue } from '../../ports/work-queue';
import { checkReceiveArguments, decodeMessageBody, encodeMessageBody } from './message';

export type QueueConnection =
  | { connectionString: string }
  /** Managed identity (or any Entra credential) against the queue endpoint, e.g. https://acct.queue.core.windows.net. */
  | { serviceUrl: string; credential: TokenCredential };

export interface StorageWorkQueueOptions {
  connection: QueueConnection;
  queueName: string;
  pipelineOptions?: StoragePipelineOptions;
}

export class StorageWorkQueue implements WorkQueue {
  readonly client: QueueClient;
  readonly poison: QueueClient;
  private queuesReady: Promise<void> | null = null;

  constructor(options: StorageWorkQueueOptions) {
    this.client = queueClient(options.connection, options.queueName, options.pipelineOptions);
    this.poison = queueClient(options.connection, `${options.queueName}-poison`, options.pipelineOptions);
  }

  async send(request: MailboxSyncRequest): Promise<void> {
    const body = encodeMessageBody(request);
    await this.ready();
    await this.client.sendMessage(body).catch((error: unknown) => {
      throw translateQueueError(error, 'send');
    });
  }

  async receive(max: number, visibilityTimeoutSeconds: number): Promise<ReceivedMessage[]> {
    checkReceiveArguments(max, visibilityTimeoutSeconds);
    await this.ready();
    const response = await this.client.receiveMessages({ numberOfMessages: max, visibilityTimeout: visibilityTimeoutSeconds }).catch((error: unknown) => {
      throw translateQueueError(error, 'receive');
    });
    const received: ReceivedMessage[] = [];
    for (const item of response.receivedMessageItems) {
      try {
        received.push({ messageId: item.messageId, popReceipt: item.popReceipt, dequeueCount: item.dequeueCount, body: decodeMessageBody(item.messageText) });
      } catch (error) {
        if (!(error instanceof ItemRejectedError)) throw error;
        await this.moveToPoison(item.messageId, item.popReceipt, item.messageText);
      }
    }
    return received;
  }

  async complete(message: ReceivedMessage): Promise<void> {
    await this.client.deleteMessage(message.messageId, message.popReceipt).catch((error: unknown) => {
      throw translateQueueError(error, 'complete');
    });
  }

  private async moveToPoison(messageId: string, popReceipt: string, text: string): Promise<void> {
    await this.poison.sendMessage(text).catch((error: unknown) => {
      throw translateQueueError(error, 'move to poison queue');
    });
    await this.client.deleteMessage(messageId, popReceipt).catch((error: unknown) => {
      throw translateQueueError(error, 'delete poisoned message');
    });
  }

  /** Creates the queue and its poison queue once; createIfNotExists tolerates existing queues. */
  private ready(): Promise<void> {
    this.queuesReady ??= Promise.all([this.client.createIfNotExists(), this.poison.createIfNotExists()]).then(
      () => undefined,
      (error: unknown) => {
        this.queuesReady = null;
        throw translateQueueError(error, 'create queue');
      },
    );
    return this.queuesReady;
  }
}

function queueClient(connection: QueueConnection, queueName: string, options?: StoragePipelineOptions): QueueClient {
  if ('connectionString' in connection) return new QueueClient(connection.connectionString, queueName, options);
  return new QueueClient(`${connection.serviceUrl.replace(/\/+$/, '')}/${queueName}`, connection.credential, options);
}

function translateQueueError(error: unknown, what: string): Error {
  if (!(error instanceof RestError)) return error instanceof Error ? error : new Error(`${what}: ${String(error)}`);
  const status = error.statusCode;
  const detail = `queue ${what}: ${status ?? 'network'} ${error.code ?? ''}`.trim();
  if (status === undefined || status === 408 || status === 429 || status >= 500) return new TransientError(detail, null, { cause: error });
  // The pop receipt no longer matches: the message became visible again and another receiver holds it.
  if (status === 404 || (status === 400 && error.code === 'PopReceiptMismatch')) return new ConcurrencyError(detail, { cause: error });
  if (status === 401 || status === 403) return new AuthError(detail, { cause: error });
  return error;
}
