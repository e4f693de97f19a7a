import { MemoryMailboxSource } from '../../src/adapters/memory/mailbox-source';
import { describeMailboxSourceContract } from './mailbox-source.contract';

const PRODUCT_GUID = '6d3c1f9e-2b7a-4c55-9a0e-5f1d2c3b4a99';

describeMailboxSourceContract('in-memory fake', async () => {
  const mailbox = 'ada@contoso.test';
  const source = new MemoryMailboxSource({ productGuid: PRODUCT_GUID, productName: 'outlook-crm-sync', categoryName: 'Tracked to CRM', pageSize: 5 });
  const todoListId = source.defaultTodoListId(mailbox);
  return {
    source,
    mailbox,
    productGuid: PRODUCT_GUID,
    productName: 'outlook-crm-sync',
    categoryName: 'Tracked to CRM',
    window: { start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z' },
    close: async () => undefined,
    world: {
      create: async (kind, container, data) => source.userCreate(mailbox, kind, container, data),
      edit: async (ref, patch) => source.userEdit(mailbox, ref.id, patch),
      remove: async (ref) => source.userDelete(mailbox, ref.id),
      evictCursors: async () => source.evict(mailbox),
      injectMalformedEntry: async (stream) => source.injectMalformedEntry(mailbox, stream.id, { id: 'AAMkbroken', subject: 'Bad', categories: 'Customer' }),
      masterCategoryNames: async () => source.masterCategories(mailbox),
      deleteMasterCategory: async (name) => source.deleteMasterCategory(mailbox, name),
      countItems: async (kind, container) => source.snapshot(mailbox, kind, container).length,
      requestCount: () => source.requestCount(mailbox),
      todoListId,
      createTodoList: async (displayName) => source.addTodoList(mailbox, displayName),
    },
  };
});
