export interface LiveResult { sent: number; ms: number; summary: string; findings: { kind: string; message: string; hex: string }[] }
export const liveTargets: Record<string, (o: { n: number; seconds: number; seed: number }) => Promise<LiveResult>> = {};
