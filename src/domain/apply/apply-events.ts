/** Progress of an apply, as events: a terminal reporter (listr2), a log, or a test records them. */
export const APPLY_STEPS = ['recover', 'plan', 'stage', 'validate', 'buckets', 'switch', 'reload', 'commit', 'backup'] as const;
export type ApplyStep = (typeof APPLY_STEPS)[number];

export interface ApplyEvent {
  step: ApplyStep;
  status: 'start' | 'done' | 'skip' | 'fail';
  message?: string;
  durationMs?: number;
}

export type EmitApplyEvent = (event: ApplyEvent) => void;

export const STEP_TITLES: Record<ApplyStep, string> = {
  recover: 'Recover an interrupted apply',
  plan: 'Compute the plan',
  stage: 'Build the new generation (unchanged files linked)',
  validate: "Validate it with nginx's main configuration (nginx -t)",
  buckets: 'Create the buckets new routes need',
  switch: 'Switch to the new generation (one rename)',
  reload: 'Reload nginx and confirm the new generation is served',
  commit: 'Commit the state',
  backup: 'Back up the state database',
};
