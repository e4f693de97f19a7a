// The CRM user's time zone on Dataverse (src/adapters/dataverse/timezone.ts): `usersettingscollection(<id>)` →
// `timezonecode` → `timezonedefinitions` `standardname` (Microsoft Learn "Specify time zone settings for a user";
// dataverse-behaviour.md §4.4, §4.5: appointment and task dates are UserLocal).
import { AuthError, TransientError } from '../../../src/ports/errors';
import { TIME_ZONE_CODES } from '../../../src/simulators/dataverse';
import { startHarness, type Harness } from './harness';

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

  it.each([
    [500, '0x80040216', 'An unexpected error occurred.', TransientError],
    [403, '0x80040220', 'Principal user is missing prvReadUserSettings privilege.', AuthError],
  ] as const)('a %i on the settings fails resolveUser: the cycle does not run with a guessed zone', async (status, code, message, type) => {
    h = await startHarness({ knobs: { faults: [{ status, code, message, times: 1, match: { entitySet: 'usersettingscollection' } }] } });
    await expect(h.connector.resolveUser(h.me.address)).rejects.toBeInstanceOf(type);
  });
});
