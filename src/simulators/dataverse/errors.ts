// OData error bodies `{"error":{"code","message"}}` (dataverse-behaviour.md §2.5) and the codes the simulator uses.
// Codes not stated by the reference are marked UNCONFIRMED where they are raised.

export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export const CODES = {
  /** §2.4 ConcurrencyVersionMismatch. */
  concurrencyVersionMismatch: '0x80060882',
  /** §1.5 ExpiredVersionStamp. */
  expiredVersionStamp: '0x80044352',
  /** §2.7 duplicate detection. */
  duplicateDetected: '0x80040333',
  /** §3 service protection. */
  requestsExceeded: '0x80072322',
  executionTimeExceeded: '0x80072321',
  concurrencyExceeded: '0x80072326',
  /** UNCONFIRMED: DuplicateRecord, listed with 412 in §2.4. */
  duplicateRecord: '0x80040237',
  /** UNCONFIRMED (widely observed): record does not exist. */
  objectDoesNotExist: '0x80040217',
  /** UNCONFIRMED (widely observed): invalid argument. */
  invalidArgument: '0x80040203',
  /** UNCONFIRMED (widely observed): payload names a property the type does not have. */
  payloadError: '0x80048d19',
  /** UNCONFIRMED (widely observed): query names a property the type does not have. */
  queryPropertyNotFound: '0x80060888',
  /** UNCONFIRMED: string longer than the column allows. */
  stringTooLong: '0x80044331',
  /** UNCONFIRMED: authentication failed. */
  authFailed: '0x80072560',
  /** UNCONFIRMED: impersonated user not found or disabled. */
  callerNotFound: '0x80040220',
} as const;

export const MESSAGES = {
  requestsExceeded: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
  executionTimeExceeded:
    'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.',
  concurrencyExceeded: 'Number of concurrent requests exceeded the limit of 52.',
  expiredVersionStamp: 'Version stamp associated with the client has expired. Please perform a full sync.',
  concurrencyVersionMismatch: "The version of the existing record doesn't match the RowVersion property provided.",
  matchingKeyExists: 'A record with matching key values already exists.',
  duplicateDetected: 'A record was not created or updated because a duplicate of the current record already exists.',
} as const;

export function notFound(logicalName: string, id: string): DataverseError {
  return new DataverseError(404, CODES.objectDoesNotExist, `${logicalName} With Id = ${id} Does Not Exist`);
}

export function badRequest(message: string, code: string = CODES.invalidArgument): DataverseError {
  return new DataverseError(400, code, message);
}

export function unknownPayloadProperty(entitySet: string, logicalName: string, property: string): DataverseError {
  return new DataverseError(
    400,
    CODES.payloadError,
    `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: The property '${property}' does not exist on type 'Microsoft.Dynamics.CRM.${logicalName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
  );
}

export function unknownQueryProperty(logicalName: string, property: string): DataverseError {
  return new DataverseError(
    400,
    CODES.queryPropertyNotFound,
    `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${logicalName}'.`,
  );
}
