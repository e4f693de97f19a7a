import { InMemoryCrmConnector } from '../../src/adapters/memory/crm-connector';
import type { ItemKind } from '../../src/core/model';
import {
  describeCrmConnectorContract,
  describeCrmDeletedRecordsContract,
  describeCrmTimeZoneContract,
  type CrmTimeZoneSetup,
} from './crm-connector.contract';

async function inMemoryCrm(options: { keepDeleted?: readonly ItemKind[] } = {}): Promise<CrmTimeZoneSetup> {
  const connector = new InMemoryCrmConnector({ pageSize: 2, keepDeletedRecords: options.keepDeleted ?? false });
  connector.addUser({ address: 'megan@contoso.example' });
  const other = connector.addUser({ address: 'otto@contoso.example' });
  return {
    connector,
    world: {
      meAddress: 'megan@contoso.example',
      otherUserId: other.id,
      pageSize: 2,
      createRecord: async (kind, record) => connector.userCreate(kind, record),
      editRecord: async (kind, id, attributes) => connector.userEdit(kind, id, attributes),
      deleteRecord: async (kind, id) => connector.userDelete(kind, id),
      reassign: async (kind, id, ownerId) => connector.reassign(kind, id, ownerId),
      expireCursors: async () => connector.expireCursors(),
      loseNextCreateResponse: async () => connector.loseNextCreateResponse(),
    },
    setMyTimeZone: async (zone) => connector.setUserTimeZone('megan@contoso.example', zone),
    close: async () => undefined,
  };
}

describeCrmConnectorContract('in-memory CRM', () => inMemoryCrm());
// The option `keepDeletedRecords` plays the Dataverse recycle bin per kind.
describeCrmDeletedRecordsContract('in-memory CRM', ({ keepDeleted }) => inMemoryCrm({ keepDeleted }));
describeCrmTimeZoneContract('in-memory CRM', () => inMemoryCrm());
