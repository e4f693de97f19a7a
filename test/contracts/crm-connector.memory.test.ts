import { InMemoryCrmConnector } from '../../src/adapters/memory/crm-connector';
import { describeCrmConnectorContract, describeCrmTimeZoneContract, type CrmTimeZoneSetup } from './crm-connector.contract';

async function inMemoryCrm(): Promise<CrmTimeZoneSetup> {
  const connector = new InMemoryCrmConnector({ pageSize: 2 });
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

describeCrmConnectorContract('in-memory CRM', inMemoryCrm);
describeCrmTimeZoneContract('in-memory CRM', inMemoryCrm);
