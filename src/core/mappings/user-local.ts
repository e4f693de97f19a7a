// The CRM user's time zone in the mappings. Dataverse `scheduledstart`/`scheduledend` of appointments and tasks are
// DateTime UserLocal (dataverse-behaviour.md §4.4, §4.5): a date D entered in the CRM is stored as "D 00:00 in the
// user's zone". Outlook all-day boundaries and To Do dates are floating dates (graph-behaviour.md §7). The built-in
// mappings convert at UTC midnight; withCrmTimeZone returns the mapping bound to the user's zone, so every reader and
// writer of the cycle (planner, baseline after a create, reconciliation) converts the same way.
import type { KindMapping } from './types';
import { APPOINTMENT_TIME_FIELDS, appointmentTimeCrm } from './appointment';
import { TASK_DATES, taskDateSides } from './task';
import { resolveZone } from '../timezone';

interface Bound {
  base: KindMapping;
  /** null: the user's zone is unknown. */
  zone: string | null;
}

/** Bound mapping → what it was bound from, so binding again (to the same or another zone) never converts twice. */
const boundFrom = new WeakMap<KindMapping, Bound>();
const cache = new WeakMap<KindMapping, Map<string | null, KindMapping>>();

/** The zone a mapping is bound to: undefined when unbound (UTC midnight), null when bound to an unknown zone. */
export function crmTimeZoneOf(mapping: KindMapping): string | null | undefined {
  return boundFrom.get(mapping)?.zone;
}

/**
 * `mapping` (built-in or after admin overrides) with its UserLocal dates converted in `zone`, an IANA or Windows id.
 * - undefined (the CRM connector knows no time zones) or UTC: the mapping unbound, dates at UTC midnight.
 * - null, or a zone this runtime cannot resolve: the zone is unknown. A CRM date that only the zone could place is
 *   unreadable (`unknown-time-zone`: left out of the merge, neither side written for it): every task date, and every
 *   all-day boundary but exactly UTC midnight (its UTC date, readAllDayDate); dates are written at UTC midnight. So a
 *   zone that stops resolving never moves a day that was written in it; the caller logs it.
 * Direction overrides and renamed task date columns are kept; only the conversion changes.
 */
export function withCrmTimeZone(mapping: KindMapping, zone: string | null | undefined): KindMapping {
  const base = boundFrom.get(mapping)?.base ?? mapping;
  if (zone === undefined || (base.kind !== 'appointment' && base.kind !== 'task')) return base;
  const iana = zone === null || zone.trim() === '' ? null : resolveZone(zone);
  if (iana === 'UTC') return base;
  const bindTo = iana === null ? null : zone;
  let perZone = cache.get(base);
  if (!perZone) cache.set(base, (perZone = new Map()));
  const cached = perZone.get(bindTo);
  if (cached) return cached;
  const bound: KindMapping = {
    ...base,
    fields: base.fields.map((field) => {
      if (base.kind === 'appointment') {
        return APPOINTMENT_TIME_FIELDS.includes(field.field) ? { ...field, crm: appointmentTimeCrm(field.field, bindTo) } : field;
      }
      const date = TASK_DATES.find((d) => d.field === field.field);
      return date ? { ...field, ...taskDateSides(date, bindTo, field.crmTargets[0]) } : field;
    }),
  };
  boundFrom.set(bound, { base, zone: bindTo });
  perZone.set(bindTo, bound);
  return bound;
}
