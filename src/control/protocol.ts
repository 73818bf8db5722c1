/**
 * CLI ↔ daemon protocol over the control socket (a Unix stream socket, mode 0600): one JSON object
 * per line. Request: {id, cmd, args}. Response: {id, ok: true, result} or {id, ok: false, error}.
 */
export interface ControlRequest {
  id: number;
  cmd: string;
  args?: Record<string, unknown>;
}

export type ControlResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: string; message: string; details?: unknown } };

/** Longest request line accepted (bytes); longer input closes the connection. */
export const MAX_LINE = 1 << 20;
