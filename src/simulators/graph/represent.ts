// How stored items look on the wire, and how request bodies become stored properties.
// Outlook items carry `@odata.etag` = W/"<changeKey>" and `changeKey` (§8); To Do items carry an etag but no
// changeKey. Events render start/end in UTC or in `Prefer: outlook.timezone` (§7); bodies render as text under
// `Prefer: outlook.body-content-type="text"`. Ids come from the id space the request asked for (§8).
import { randomUUID } from 'node:crypto';
import { parseDateTimeTimeZone, renderDateTime, checkRecurrence, resolveZone } from './calendar';
import { canonicalExtendedPropertyId, ODataError, type Preferences } from './odata';
import type { EventException, Json, JsonObject, Mailbox, ResourceKind, StoredItem } from './store';

export const ODATA_TYPE: Record<ResourceKind, string> = {
  contact: '#microsoft.graph.contact',
  contactFolder: '#microsoft.graph.contactFolder',
  event: '#microsoft.graph.event',
  message: '#microsoft.graph.message',
  mailFolder: '#microsoft.graph.mailFolder',
  todoTask: '#microsoft.graph.todoTask',
  todoTaskList: '#microsoft.graph.todoTaskList',
  outlookCategory: '#microsoft.graph.outlookCategory',
};

export const TYPE_NAME: Record<ResourceKind, string> = {
  contact: 'microsoft.graph.contact',
  contactFolder: 'microsoft.graph.contactFolder',
  event: 'microsoft.graph.event',
  message: 'microsoft.graph.message',
  mailFolder: 'microsoft.graph.mailFolder',
  todoTask: 'microsoft.graph.todoTask',
  todoTaskList: 'microsoft.graph.todoTaskList',
  outlookCategory: 'microsoft.graph.outlookCategory',
};

/** Resources that support single-value extended properties (§3.1). todoTask does not. */
export const SUPPORTS_EXTENDED_PROPERTIES = new Set<ResourceKind>(['contact', 'contactFolder', 'event', 'message', 'mailFolder']);

export interface RenderOptions {
  prefs: Preferences;
  select: string[] | null;
  expandExt: Set<string> | null;
  expandLinkedResources?: boolean;
  /** Delta: add `@odata.type`. */
  withType?: boolean;
  /** Delta partial update: only these properties (plus id/etag). */
  only?: string[] | null;
}

export function idOf(item: { restId: string; immutableId: string }, prefs: Preferences): string {
  return prefs.immutableIds ? item.immutableId : item.restId;
}

const READ_ONLY = new Set(['id', 'changeKey', 'createdDateTime', 'lastModifiedDateTime', 'parentFolderId', '@odata.etag', '@odata.type', '@odata.context', 'type', 'seriesMasterId', 'originalStart', 'bodyPreview', 'originalStartTimeZone', 'originalEndTimeZone', 'iCalUId', 'webLink', 'singleValueExtendedProperties', 'multiValueExtendedProperties', 'wellknownListName', 'isOwner', 'isShared']);

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/p>|<\/div>|<\/li>/gi, '\r\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\r\n(\r\n)+/g, '\r\n')
    .trim();
}

function renderBody(body: Json | undefined, prefs: Preferences): Json {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body ?? null;
  const contentType = String(body['contentType'] ?? 'text').toLowerCase();
  const content = typeof body['content'] === 'string' ? body['content'] : '';
  if (prefs.bodyText && contentType === 'html') return { contentType: 'text', content: htmlToText(content) };
  return { contentType, content };
}

function preview(body: Json | undefined): string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return '';
  const content = typeof body['content'] === 'string' ? body['content'] : '';
  const text = String(body['contentType'] ?? '').toLowerCase() === 'html' ? htmlToText(content) : content;
  return text.replace(/\s+/g, ' ').trim().slice(0, 255);
}

/** The full wire form of a stored item (before $select). */
export function fullRepresentation(item: StoredItem, mb: Mailbox, opts: RenderOptions): JsonObject {
  const out: JsonObject = {};
  if (opts.withType && item.kind !== 'todoTask' && item.kind !== 'todoTaskList') out['@odata.type'] = ODATA_TYPE[item.kind];
  if (item.kind !== 'contactFolder' && item.kind !== 'mailFolder' && item.kind !== 'outlookCategory') out['@odata.etag'] = `W/"${item.changeKey}"`;
  out['id'] = idOf(item, opts.prefs);
  const props = withDefaults(item.kind, item.props);
  switch (item.kind) {
    case 'contact':
    case 'message':
    case 'event': {
      out['createdDateTime'] = item.createdDateTime;
      out['lastModifiedDateTime'] = item.lastModifiedDateTime;
      out['changeKey'] = item.changeKey;
      out['categories'] = props['categories'] ?? [];
      Object.assign(out, props);
      if (item.kind !== 'event') out['parentFolderId'] = item.collection?.owner ? idOf(item.collection.owner, opts.prefs) : null;
      if (item.kind === 'message') {
        out['body'] = renderBody(props['body'], opts.prefs);
        out['bodyPreview'] = preview(props['body']);
      }
      if (item.kind === 'event') renderEventInto(out, props, opts.prefs, props['recurrence'] ? 'seriesMaster' : 'singleInstance', null);
      break;
    }
    case 'todoTask':
      out['createdDateTime'] = item.createdDateTime;
      out['lastModifiedDateTime'] = item.lastModifiedDateTime;
      Object.assign(out, props);
      out['categories'] = props['categories'] ?? [];
      out['body'] = renderBody(props['body'], opts.prefs);
      delete out['linkedResources'];
      if (opts.expandLinkedResources) out['linkedResources'] = props['linkedResources'] ?? [];
      break;
    default:
      Object.assign(out, props);
  }
  if (opts.expandExt && SUPPORTS_EXTENDED_PROPERTIES.has(item.kind)) {
    const props: Json[] = [];
    for (const key of opts.expandExt) {
      const p = item.ext.get(key);
      if (p) props.push({ id: p.id, value: p.value });
    }
    // Graph omits the navigation property when nothing matched the $filter
    if (props.length) out['singleValueExtendedProperties'] = props;
  }
  return out;
}

function renderEventInto(out: JsonObject, props: JsonObject, prefs: Preferences, type: string, seriesMasterId: string | null): void {
  const allDay = props['isAllDay'] === true;
  const start = parseDateTimeTimeZone(props['start']);
  const end = parseDateTimeTimeZone(props['end']);
  // [R] §7: all-day events ignore Prefer: outlook.timezone and stay in their own zone
  if (!allDay) {
    if (start) out['start'] = renderDateTime(start.ms, prefs.timeZone);
    if (end) out['end'] = renderDateTime(end.ms, prefs.timeZone);
  }
  out['body'] = renderBody(props['body'], prefs);
  out['bodyPreview'] = preview(props['body']);
  out['type'] = type;
  out['seriesMasterId'] = seriesMasterId;
}

/** Selects properties ($select): id and @odata.etag / @odata.type always stay (§2.1 "The id property is always returned"). */
export function applySelect(full: JsonObject, select: string[] | null | undefined): JsonObject {
  if (!select) return full;
  const wanted = new Set(select.map((s) => s.toLowerCase()));
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(full)) {
    if (k.startsWith('@odata.') || k === 'id' || k === 'singleValueExtendedProperties' || k === 'linkedResources' || wanted.has(k.toLowerCase())) out[k] = v;
  }
  return out;
}

export function render(item: StoredItem, mb: Mailbox, opts: RenderOptions): JsonObject {
  const full = fullRepresentation(item, mb, opts);
  if (opts.only) return applySelect(full, opts.select ? opts.only.filter((p) => opts.select?.some((s) => s.toLowerCase() === p.toLowerCase())) : opts.only);
  return applySelect(full, opts.select);
}

/** An occurrence or exception of a series, for calendarView (full) or calendarView delta (skeletal occurrences). */
export function renderInstance(master: StoredItem, occurrence: { originalStart: number; start: number; end: number }, exception: EventException | undefined, opts: RenderOptions, skeletal: boolean): JsonObject {
  const masterId = idOf(master, opts.prefs);
  const id = occurrenceId(masterId, occurrence.originalStart);
  const etag = `W/"${exception?.changeKey ?? master.changeKey}"`;
  if (!exception && skeletal) {
    // [R] §2.2: occurrences in calendarView delta carry only these properties
    return {
      '@odata.type': ODATA_TYPE.event,
      '@odata.etag': etag,
      id,
      type: 'occurrence',
      seriesMasterId: masterId,
      start: renderDateTime(occurrence.start, opts.prefs.timeZone),
      end: renderDateTime(occurrence.end, opts.prefs.timeZone),
    };
  }
  const out: JsonObject = {};
  if (opts.withType) out['@odata.type'] = ODATA_TYPE.event;
  out['@odata.etag'] = etag;
  out['id'] = id;
  out['createdDateTime'] = exception?.createdDateTime ?? master.createdDateTime;
  out['lastModifiedDateTime'] = exception?.lastModifiedDateTime ?? master.lastModifiedDateTime;
  out['changeKey'] = exception?.changeKey ?? master.changeKey;
  out['categories'] = master.props['categories'] ?? [];
  const props = { ...withDefaults('event', master.props), ...(exception?.props ?? {}) };
  Object.assign(out, props);
  out['recurrence'] = null;
  renderEventInto(out, { ...props, start: { dateTime: new Date(occurrence.start).toISOString().slice(0, 19), timeZone: 'UTC' }, end: { dateTime: new Date(occurrence.end).toISOString().slice(0, 19), timeZone: 'UTC' } }, opts.prefs, exception ? 'exception' : 'occurrence', masterId);
  out['originalStart'] = new Date(occurrence.originalStart).toISOString().replace('.000Z', 'Z');
  if (opts.expandExt) {
    const props2: Json[] = [];
    for (const key of opts.expandExt) {
      const p = master.ext.get(key);
      if (p) props2.push({ id: p.id, value: p.value });
    }
    if (props2.length) out['singleValueExtendedProperties'] = props2;
  }
  return applySelect(out, opts.select);
}

/** Occurrence ids derive from the series id and the original start, so they are stable for that occurrence. */
export function occurrenceId(masterId: string, originalStart: number): string {
  return `${masterId}OCC${new Date(originalStart).toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

export function parseOccurrenceId(id: string): { masterId: string; originalStart: number } | null {
  const m = /^(.+=)OCC(\d{14})$/.exec(id);
  if (!m?.[1] || !m[2]) return null;
  const d = m[2];
  return { masterId: m[1], originalStart: Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)), Number(d.slice(8, 10)), Number(d.slice(10, 12)), Number(d.slice(12, 14))) };
}

// --- writes ---

/** Graph's answer to an unknown zone in start/end or in Prefer: outlook.timezone ([R] §7). */
export function timeZoneNotSupported(zone: string): ODataError {
  return new ODataError(400, 'TimeZoneNotSupportedException', `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${zone}'.`);
}

export function badRequest(message: string, code = 'ErrorInvalidRequest'): ODataError {
  return new ODataError(400, code, message);
}

function asObject(body: Json | undefined): JsonObject {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Empty Payload. JSON content expected.', 'BadRequest');
  return body;
}

/** Splits a request body into writable properties and extended properties, validating both (§3.1, §3.5). */
export function parseWriteBody(kind: ResourceKind, body: Json | undefined): { props: JsonObject; ext: { key: string; id: string; value: string }[] } {
  const obj = asObject(body);
  const props: JsonObject = {};
  const ext: { key: string; id: string; value: string }[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'singleValueExtendedProperties') {
      if (!SUPPORTS_EXTENDED_PROPERTIES.has(kind)) {
        // §3.5: todoTask has no extended properties; Graph rejects the unknown property like any other
        throw badRequest(`The property 'singleValueExtendedProperties' does not exist on type '${TYPE_NAME[kind]}'. Make sure to only use property names that are defined by the type or mark the type as open type.`, 'invalidRequest');
      }
      if (!Array.isArray(v)) throw badRequest('singleValueExtendedProperties must be an array.', 'BadRequest');
      for (const p of v) {
        if (!p || typeof p !== 'object' || Array.isArray(p) || typeof p['id'] !== 'string') throw badRequest('Each extended property needs an id.', 'ErrorInvalidProperty');
        const key = canonicalExtendedPropertyId(p['id']);
        if (!key) throw badRequest(`The extended property id '${p['id']}' is not valid.`, 'ErrorInvalidProperty');
        // §3.2: value is always a string in JSON
        if (typeof p['value'] !== 'string') throw badRequest(`The value of extended property '${p['id']}' must be a string.`, 'ErrorInvalidExtendedPropertyValue');
        ext.push({ key, id: p['id'], value: p['value'] });
      }
      continue;
    }
    if (k === 'multiValueExtendedProperties') throw badRequest('multiValueExtendedProperties are not supported by the simulator.', 'ErrorInvalidRequest');
    if (k.startsWith('@odata.') || READ_ONLY.has(k)) continue;
    props[k] = v;
  }
  if ('categories' in props) {
    const cats = props['categories'];
    if (!Array.isArray(cats) || cats.some((c) => typeof c !== 'string')) throw badRequest("Property 'categories' must be a collection of strings.", 'BadRequest');
  }
  if (kind === 'event') {
    for (const f of ['start', 'end'] as const) {
      if (!(f in props)) continue;
      const v = props[f];
      const zone = v && typeof v === 'object' && !Array.isArray(v) ? v['timeZone'] : undefined;
      if (typeof zone === 'string' && !resolveZone(zone)) throw timeZoneNotSupported(zone);
      if (!parseDateTimeTimeZone(v)) throw badRequest(`The ${f} time zone or date time is invalid.`, 'ErrorInvalidRequest');
    }
    const rec = checkRecurrence(props['recurrence']);
    if (rec) throw badRequest(rec, 'ErrorInvalidRequest');
  }
  return { props, ext };
}

// Defaults every item of a kind shares live once (STATIC_DEFAULTS) and are merged at render time; a stored item
// keeps only what was written plus its own generated values, which matters at 40,000 items per mailbox.
const CONTACT_STATIC: JsonObject = {
  assistantName: null, birthday: null, businessHomePage: null, businessPhones: [], children: [], companyName: null, department: null,
  emailAddresses: [], fileAs: '', generation: null, givenName: null, homePhones: [], imAddresses: [], initials: null,
  jobTitle: null, manager: null, middleName: null, mobilePhone: null, nickName: null, officeLocation: null, personalNotes: '', profession: null,
  spouseName: null, surname: null, title: null, yomiCompanyName: null, yomiGivenName: null, yomiSurname: null,
  homeAddress: {}, businessAddress: {}, otherAddress: {},
};

const EVENT_STATIC: JsonObject = {
  allowNewTimeProposals: true, attendees: [], body: { contentType: 'html', content: '' }, hasAttachments: false, hideAttendees: false,
  importance: 'normal', isAllDay: false, isCancelled: false, isDraft: false, isOnlineMeeting: false, isOrganizer: true, isReminderOn: true,
  location: { displayName: '', locationType: 'default', uniqueIdType: 'unknown', address: {}, coordinates: {} },
  locations: [], onlineMeeting: null, onlineMeetingProvider: 'unknown', onlineMeetingUrl: null, recurrence: null, reminderMinutesBeforeStart: 15,
  responseRequested: true, responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' }, sensitivity: 'normal', showAs: 'busy',
  subject: '', transactionId: null,
};

const MESSAGE_STATIC: JsonObject = {
  body: { contentType: 'html', content: '' }, ccRecipients: [], bccRecipients: [], flag: { flagStatus: 'notFlagged' }, hasAttachments: false,
  importance: 'normal', inferenceClassification: 'focused', isDeliveryReceiptRequested: false, isReadReceiptRequested: false, replyTo: [],
  subject: '', toRecipients: [],
};

const TASK_STATIC: JsonObject = {
  importance: 'normal', isReminderOn: false, status: 'notStarted', title: '', body: { content: '', contentType: 'text' }, hasAttachments: false, categories: [],
};

const STATIC_DEFAULTS: Partial<Record<ResourceKind, JsonObject>> = { contact: CONTACT_STATIC, event: EVENT_STATIC, message: MESSAGE_STATIC, todoTask: TASK_STATIC };

/** The item's properties over its kind's shared defaults (a shallow, per-render merge). */
export function withDefaults(kind: ResourceKind, props: JsonObject): JsonObject {
  const defaults = STATIC_DEFAULTS[kind];
  return defaults ? { ...defaults, ...props } : props;
}

/** A property as rendered: written value, else the kind's default. */
export function propertyOf(kind: ResourceKind, props: JsonObject, name: string): Json | undefined {
  return name in props ? props[name] : STATIC_DEFAULTS[kind]?.[name];
}

export function contactDefaults(props: JsonObject): JsonObject {
  const display = typeof props['displayName'] === 'string' ? props['displayName'] : [props['givenName'], props['surname']].filter((x) => typeof x === 'string' && x).join(' ');
  return { displayName: display, ...props };
}

export function eventDefaults(props: JsonObject, organizer: { name: string; address: string }, base: string): JsonObject {
  const start = parseDateTimeTimeZone(props['start']);
  const end = parseDateTimeTimeZone(props['end']);
  return {
    iCalUId: `040000008200E00074C5B7101A82E008${randomUUID().replace(/-/g, '').toUpperCase()}`,
    organizer: { emailAddress: organizer },
    originalEndTimeZone: end?.name ?? 'UTC', originalStartTimeZone: start?.name ?? 'UTC',
    webLink: `${base}owa/?itemid=${randomUUID()}`,
    ...props,
  };
}

export function messageDefaults(props: JsonObject, isDraft: boolean, now: string, owner: { name: string; address: string }): JsonObject {
  return {
    conversationId: `AAQkAD${randomUUID().replace(/-/g, '')}`,
    from: isDraft ? null : { emailAddress: owner }, internetMessageId: `<${randomUUID()}@sim.local>`, isDraft,
    isRead: isDraft, receivedDateTime: now, sender: isDraft ? null : { emailAddress: owner }, sentDateTime: isDraft ? null : now,
    webLink: `https://outlook.office365.com/owa/?ItemID=${randomUUID()}`,
    ...props,
  };
}

export function todoTaskDefaults(props: JsonObject, now: string): JsonObject {
  return { bodyLastModifiedDateTime: now, ...props };
}

export const CATEGORY_COLORS = new Set(['none', ...Array.from({ length: 25 }, (_, i) => `preset${i}`)]);
