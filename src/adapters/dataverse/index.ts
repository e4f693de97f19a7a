export { DataverseCrmConnector, ChangeTrackingDisabledError, type DataverseConnectorOptions } from './connector';
export { msalTokenProvider, type MsalTokenOptions } from './auth';
export { DATAVERSE_COLUMNS, DATAVERSE_ENTITIES } from './schema';
export type { TokenProvider } from './http';
