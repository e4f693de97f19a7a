// Field mappings are data (DESIGN.md §7): one descriptor per canonical field says how to read it from and write it to
// each side's wire vocabulary (Graph JSON, Dataverse Web API attributes). Nothing else in the code base knows how a
// Graph property becomes a Dataverse column.
import type { CrmParty, CrmRecord, FieldValues, ItemKind, JsonObject, JsonValue, KindSettings, OutlookItem } from '../model';
import type { ValueSpec } from '../normalize';

/**
 * `both`: two-way, merged. `crm-to-outlook`: the CRM value always wins and the CRM is never written (companyName).
 * `outlook-to-crm`: the Outlook value always wins and Outlook is never written (read-only Graph properties).
 */
export type Direction = 'both' | 'crm-to-outlook' | 'outlook-to-crm';

export interface MappingContext {
  /** The product GUID of the named extended properties (`String {guid} Name …`). */
  productGuid: string;
  /** The item being read, when there is one (fields that depend on the folder or on adapter-extracted markers). */
  item?: OutlookItem;
}

/** A piece of a CRM write; fragments of all written fields are combined into one CrmWrite. */
export interface CrmFragment {
  attributes?: JsonObject;
  parties?: CrmParty[];
  regarding?: { entity: string; id: string } | null;
}

export interface FieldDescriptor {
  /** Canonical field name: the key in FieldValues and in the baseline. */
  field: string;
  /** How values of this field are normalized and compared. */
  spec: ValueSpec;
  direction?: Direction;
  /**
   * Fields written as one unit (one Graph complex property such as `businessAddress`, one activity-party list, one
   * statecode+statuscode pair): when one of them is written, all of the group are, from the merged values.
   */
  group?: string;
  /** How the field merges when not by the three-way rule (see MergeField.rule). */
  mergeRule?: 'any-true';
  /** Written to the CRM only when the record is created (e-mail: only regarding syncs afterwards, DESIGN.md §2). */
  createOnly?: boolean;
  /** Active only under these settings (companyName needs `updateCompanyField`). */
  when?: (settings: KindSettings) => boolean;
  /** Graph properties (or extended-property ids) the Outlook write touches; admin-override validation uses them. */
  outlookTargets: readonly string[];
  /** Dataverse attributes (or party masks as `party:<mask>`) the CRM write touches. */
  crmTargets: readonly string[];
  outlook: {
    read(data: JsonObject, ctx: MappingContext): unknown;
    write(value: JsonValue, values: FieldValues, ctx: MappingContext): JsonObject;
  };
  crm: {
    read(record: CrmRecord): unknown;
    write(value: JsonValue, values: FieldValues): CrmFragment;
  };
  /**
   * A field the planner of a linked pair reads against its baseline. `upgrade` turns a stored value of an earlier form
   * (task dates were instants) into this field's form for the merge (undefined: it is in it). `crm` is the CRM value
   * read in the light of the stored baseline (undefined: the reader's stands), e.g. a CRM value unchanged since the
   * last sync keeps the value it was synced as. While that reading is the merged value, the stored value stays in the
   * baseline, so the reading holds in later cycles too.
   */
  sinceBaseline?: {
    upgrade(stored: JsonValue): JsonValue | undefined;
    crm(record: CrmRecord, baseline: FieldValues): JsonValue | undefined;
  };
}

export interface KindMapping {
  kind: ItemKind;
  fields: readonly FieldDescriptor[];
  /**
   * Completes values that depend on each other (appointment duration from start/end, all-day boundaries as dates).
   * Applied to what is read from each side and to the merged result, so derived values never disagree.
   */
  derive?: (values: Record<string, JsonValue>) => void;
  /**
   * Adjusts the fields for one existing Outlook item (an attendee's copy of a meeting cannot change its attendee
   * list: there, the list only travels to the CRM).
   */
  forItem?: (fields: readonly FieldDescriptor[], data: JsonObject) => FieldDescriptor[];
}

export function defineKind(mapping: KindMapping): KindMapping {
  return mapping;
}
