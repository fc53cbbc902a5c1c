/** Progress of an apply, as events: a terminal reporter (listr2), a log, or a test records them. */
export const APPLY_STEPS = [
  'recover',
  'plan',
  'stage',
  'validate-staged',
  'buckets',
  'promote',
  'validate-live',
  'reload',
  'commit',
  'backup',
] as const;
export type ApplyStep = (typeof APPLY_STEPS)[number];

export interface ApplyEvent {
  step: ApplyStep;
  status: 'start' | 'done' | 'skip' | 'fail';
  message?: string;
  durationMs?: number;
}

export type EmitApplyEvent = (event: ApplyEvent) => void;

export const STEP_TITLES: Record<ApplyStep, string> = {
  'recover': 'Recover an interrupted apply',
  'plan': 'Compute the plan',
  'stage': 'Stage the complete new tree',
  'validate-staged': 'Validate the staged tree (nginx -t)',
  'buckets': 'Create the buckets new routes need',
  'promote': 'Promote files (journaled renames)',
  'validate-live': 'Validate the live configuration (nginx -t)',
  'reload': 'Reload nginx and confirm the new generation is served',
  'commit': 'Commit the state',
  'backup': 'Back up the state database',
};
