// Where the apply engine reports its progress: a terminal reporter (listr2), the daemon's JSON log,
// or a test's recording. The events themselves are domain values (src/domain/apply/apply-events.ts).
export type { ApplyEvent, ApplyStep, EmitApplyEvent } from '../domain/apply/apply-events.js';
