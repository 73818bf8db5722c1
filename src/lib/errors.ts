/** Stable error codes; every code is listed in docs/errors.md. */
export const ErrorCode = {
  CONFIG_ERR_INVALID: 'CONFIG_ERR_INVALID',
  CONFIG_ERR_READ: 'CONFIG_ERR_READ',
  CONFIG_ERR_YAML: 'CONFIG_ERR_YAML',
  STORE_ERR_OPEN: 'STORE_ERR_OPEN',
  STORE_ERR_WRITE: 'STORE_ERR_WRITE',
  STORE_ERR_CONFLICT: 'STORE_ERR_CONFLICT',
  DNS_ERR_DECODE: 'DNS_ERR_DECODE',
  DNS_ERR_ZONE_FILE: 'DNS_ERR_ZONE_FILE',
  DHCP_ERR_DECODE: 'DHCP_ERR_DECODE',
  TFTP_ERR_DECODE: 'TFTP_ERR_DECODE',
  PATH_ERR_ESCAPE: 'PATH_ERR_ESCAPE',
  AUTHORITY_ERR_CHECK: 'AUTHORITY_ERR_CHECK',
  AUTHORITY_ERR_EPOCH: 'AUTHORITY_ERR_EPOCH',
  CONTROL_ERR: 'CONTROL_ERR',
  LISTEN_ERR: 'LISTEN_ERR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a stable code, safe to show to an operator. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}
