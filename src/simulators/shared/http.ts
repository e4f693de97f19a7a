// Small HTTP helpers shared by the loopback simulators: body reading, JSON replies and the Graph/OData error shape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  const all: Record<string, string> = { ...headers };
  if (body !== undefined) all['Content-Type'] ??= 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
  res.writeHead(status, all);
  res.end(text);
}

/** Graph's innerError date has no zone designator and no fraction (graph-behaviour.md §1.6 sample). */
export function graphErrorDate(now: Date): string {
  return now.toISOString().slice(0, 19);
}

export interface GraphErrorBody {
  error: { code: string; message: string; innerError: { 'request-id': string; date: string; 'client-request-id'?: string; [k: string]: string | undefined } };
}

/** The OData error body the SDK's GraphErrorHandler reads: `innerError` camelCase with `request-id` and `date` (§9.4). */
export function graphErrorBody(code: string, message: string, now: Date, requestId: string = randomUUID(), extraInner: Record<string, string> = {}): GraphErrorBody {
  return { error: { code, message, innerError: { date: graphErrorDate(now), 'request-id': requestId, 'client-request-id': requestId, ...extraInner } } };
}
