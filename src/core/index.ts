// The pure sync core's public surface (DESIGN.md §8): model and plan contracts, mappings, normalization, merge, rules,
// and the planner. Import from here or from the individual modules.
export * from './model';
export * from './plan';
export * from './plan-options';
export * from './mappings';
export * from './normalize';
export * from './merge';
export * from './rules';
export * from './planner';
export * from './outcomes';
export * from './after-create';
export * from './compare';
export * from './unreadable';
export { buildCrmWrite, buildOutlookWrite, normalizeValues, readCrmValues, readOutlookValues } from './fields';
export { canonicalJson, fnv1a64, hashJson } from './hash';
export { epochMsToZoned, resolveZone, windowsZoneTable, WINDOWS_ZONE_COUNT, zonedToEpochMs } from './timezone';
