export { DataverseCrmConnector, ChangeTrackingDisabledError, type DataverseConnectorOptions } from './connector';
export { dataverseTokenProvider, dataverseTokenScope, type DataverseClientCredential, type DataverseTokenOptions } from './auth';
export { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES } from './schema';
export type { TokenProvider } from './http';
