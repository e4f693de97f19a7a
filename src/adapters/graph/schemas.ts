// zod schemas for what Graph sends back (graph-behaviour.md §1–§5). Everything crossing the edge is parsed here, so
// one malformed entry becomes an ItemFailure with a reason code and nothing typed `any` leaks into the app.
import { z } from 'zod';
import type { JsonObject, JsonValue } from '../../core/model';

export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValueSchema), z.record(jsonValueSchema)]),
);
export const jsonObjectSchema: z.ZodType<JsonObject> = z.record(jsonValueSchema);

export const extendedPropertySchema = z.object({ id: z.string(), value: z.string().nullable() });

export const linkedResourceSchema = z
  .object({
    id: z.string().optional(),
    applicationName: z.string().nullish(),
    externalId: z.string().nullish(),
    displayName: z.string().nullish(),
    webUrl: z.string().nullish(),
  })
  .passthrough();
export type LinkedResource = z.infer<typeof linkedResourceSchema>;

/** A hydrated Outlook resource (contact, event, message, todoTask): only the fields the sync reads are checked. */
export const graphResourceSchema = z
  .object({
    id: z.string().min(1),
    '@odata.etag': z.string().optional(),
    changeKey: z.string().nullish(),
    lastModifiedDateTime: z.string().min(1),
    categories: z.array(z.string()).nullish(),
    isDraft: z.boolean().nullish(),
    singleValueExtendedProperties: z.array(extendedPropertySchema).optional(),
    linkedResources: z.array(linkedResourceSchema).optional(),
  })
  .passthrough();
export type GraphResource = z.infer<typeof graphResourceSchema>;

/** A removed delta entry: id + `@removed` (reason `deleted` or `changed`, §1.4). */
export const removedEntrySchema = z.object({ id: z.string().min(1), '@removed': z.object({ reason: z.string().optional() }).passthrough() }).passthrough();

/** A delta entry: "at least the changed properties" (§1.4), so everything but the id is optional. */
export const deltaEntrySchema = z
  .object({
    id: z.string().min(1),
    '@odata.etag': z.string().optional(),
    changeKey: z.string().nullish(),
    lastModifiedDateTime: z.string().nullish(),
    categories: z.array(z.string()).nullish(),
    isDraft: z.boolean().nullish(),
  })
  .passthrough();

/** A delta page: exactly one of nextLink/deltaLink (§1.1), entries left unparsed so each one fails alone. */
export const deltaPageSchema = z.object({
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().url().optional(),
  '@odata.deltaLink': z.string().url().optional(),
});

export const collectionPageSchema = z.object({ value: z.array(z.unknown()), '@odata.nextLink': z.string().url().optional() });

export const batchResponseSchema = z.object({
  responses: z.array(
    z.object({
      id: z.string(),
      status: z.number().int(),
      headers: z.record(z.string()).optional(),
      body: z.unknown().optional(),
    }),
  ),
});

export const graphErrorBodySchema = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }).passthrough() });

/** `$select=parentFolderId` on a contact or contact folder (graph-behaviour.md §2.1). */
export const parentFolderSchema = z.object({ parentFolderId: z.string().min(1) }).passthrough();

/** `$select=id` on a collection (the marker sweep, §3.3). */
export const idOnlySchema = z.object({ id: z.string().min(1) }).passthrough();

export const masterCategorySchema = z.object({ id: z.string(), displayName: z.string(), color: z.string().optional() }).passthrough();

export const todoListSchema = z
  .object({ id: z.string().min(1), displayName: z.string().optional(), wellknownListName: z.string().nullish() })
  .passthrough();

/** The etag's payload: `W/"<changeKey>"` → `<changeKey>` (graph-behaviour.md §8). */
export function changeKeyFromEtag(etag: string | undefined | null): string | null {
  if (!etag) return null;
  const match = /^(?:W\/)?"(.*)"$/.exec(etag);
  return match?.[1] ?? etag;
}

/** Short, id-only description of a zod failure (never values: they may hold personal data). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`)
    .join('; ');
}
