// The CRM user's time zone on Dataverse (src/adapters/dataverse/timezone.ts): `usersettingscollection(<id>)` →
// `timezonecode` → `timezonedefinitions` `standardname` (Microsoft Learn "Specify time zone settings for a user";
// dataverse-behaviour.md §4.4, §4.5: appointment and task dates are UserLocal).
import { DataverseTimeZones } from '../../../src/adapters/dataverse/timezone';
import { AuthError, TransientError } from '../../../src/ports/errors';
import type { LogFields, Logger } from '../../../src/ports/logger';
import { TIME_ZONE_CODES } from '../../../src/simulators/dataverse';
import { startHarness, type Harness } from './harness';

// A 403 (missing read privilege on User Settings or Time Zone Definition) and a 404 are an unknown zone, never a thrown
// cycle: the unknown mode leaves out what only the zone could place (src/core/mappings/user-local.ts).
describe('Dataverse connector: the user time zone', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  const paths = () => h.requests.map((r) => new URL(r.url).pathname.replace(/^.*\/api\/data\/v9\.2\//, '').replace(/\(.*$/, ''));

  it('resolveUser reads the settings row once per call and each time-zone definition once per connector', async () => {
    h = await startHarness();
    h.simulator.control.setUserTimeZoneCode(h.me.id, TIME_ZONE_CODES.eastern);
    h.requests.length = 0;

    expect((await h.connector.resolveUser(h.me.address))?.timeZone).toBe('Eastern Standard Time');
    expect((await h.connector.resolveUser(h.me.address))?.timeZone).toBe('Eastern Standard Time');
    expect(paths()).toEqual(['systemusers', 'usersettingscollection', 'timezonedefinitions', 'systemusers', 'usersettingscollection']);
    // A change in the CRM is seen at the next call; a code not seen before costs one definition query.
    h.simulator.control.setUserTimeZoneCode(h.me.id, TIME_ZONE_CODES.india);
    expect((await h.connector.resolveUser(h.me.address))?.timeZone).toBe('India Standard Time');
    expect(paths().slice(5)).toEqual(['systemusers', 'usersettingscollection', 'timezonedefinitions']);
  });

  it('a code without a definition gives null (the worker converts at UTC midnight and warns)', async () => {
    h = await startHarness();
    h.simulator.control.setUserTimeZoneCode(h.me.id, 9999);
    expect((await h.connector.resolveUser(h.me.address))?.timeZone).toBeNull();
  });

  it('a 500 on the settings fails resolveUser: the cycle is retried, not run with an unknown zone a moment later known', async () => {
    h = await startHarness({ knobs: { faults: [{ status: 500, code: '0x80040216', message: 'An unexpected error occurred.', times: 1, match: { entitySet: 'usersettingscollection' } }] } });
    await expect(h.connector.resolveUser(h.me.address)).rejects.toBeInstanceOf(TransientError);
  });

  it.each([
    [403, 'usersettingscollection', '0x80040220', 'Principal user is missing prvReadUserSettings privilege.', /refused.*grant the application user read/],
    [404, 'usersettingscollection', '0x80040217', 'usersettings With Id = … Does Not Exist', /not found/],
    [403, 'timezonedefinitions', '0x80040220', 'Principal user is missing prvReadTimeZoneDefinition privilege.', /refused.*grant the application user read/],
  ] as const)('a %i on %s is an unknown zone, logged, and the cycle runs', async (status, entitySet, code, message, warning) => {
    h = await startHarness({ knobs: { faults: [{ status, code, message, times: 1, match: { entitySet } }] } });
    h.simulator.control.setUserTimeZoneCode(h.me.id, TIME_ZONE_CODES.eastern);
    const warnings: { message: string; fields: LogFields | undefined }[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (m, fields) => warnings.push({ message: m, fields }) };
    const timeZones = new DataverseTimeZones(h.connector.http, logger);
    h.requests.length = 0;

    // The unknown zone never guesses a day: src/core/mappings/user-local.ts leaves what only the zone could place out.
    expect(await timeZones.ofUser(h.me.id)).toBeNull();
    expect(warnings).toEqual([{ message: expect.stringMatching(warning), fields: expect.objectContaining({ status, systemUserId: h.me.id, detail: expect.stringContaining(code) }) }]);
    // A refused definition is not cached: once granted, the next cycle reads it (one settings read, one definition).
    expect(await timeZones.ofUser(h.me.id)).toBe('Eastern Standard Time');
    expect(paths().filter((p) => p !== 'usersettingscollection')).toEqual(entitySet === 'timezonedefinitions' ? ['timezonedefinitions', 'timezonedefinitions'] : ['timezonedefinitions']);
    expect(paths().filter((p) => p === 'usersettingscollection')).toHaveLength(2);
  });

  it('a 401 that a fresh token does not cure still fails resolveUser (no valid token: every request would fail)', async () => {
    h = await startHarness({ knobs: { faults: [{ status: 401, code: '', message: 'Unauthorized', times: 2, match: { entitySet: 'usersettingscollection' } }] } });
    await expect(h.connector.resolveUser(h.me.address)).rejects.toBeInstanceOf(AuthError);
  });

  it('resolveUser answers with an unknown zone (null) when the settings read is refused', async () => {
    h = await startHarness({ knobs: { faults: [{ status: 403, code: '0x80040220', message: 'Principal user is missing prvReadUserSettings privilege.', times: 1, match: { entitySet: 'usersettingscollection' } }] } });
    const user = await h.connector.resolveUser(h.me.address);
    expect(user).toMatchObject({ id: h.me.id, timeZone: null });
  });
});
