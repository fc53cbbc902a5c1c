import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../adapters/fs/atomic-write.js';
import { UserError } from '../../domain/errors.js';
import type { PlanInputs } from '../../domain/plan/plan-inputs.js';

/** On-disk form of `orch plan --out FILE`. The plan itself is recomputed at apply and must match. */
export interface SavedPlan {
  kind: 'orch-saved-plan';
  format_version: '1';
  orch_version: string;
  created_at: string;
  fingerprint: string;
  inputs: PlanInputs;
  /** The plan as shown, for review (the JSON plan contract). */
  plan: unknown;
}

export function writeSavedPlan(path: string, saved: SavedPlan): void {
  writeFileAtomic(path, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
}

export function readSavedPlan(path: string): SavedPlan {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError('plan.not-found', `Saved plan ${path} does not exist or cannot be read.`, {
      hint: 'Create one with `orch plan --out FILE`.',
    });
  }
  let data: SavedPlan;
  try {
    data = JSON.parse(text) as SavedPlan;
  } catch {
    throw new UserError('plan.invalid', `${path} is not a saved orch plan (not JSON).`, { hint: 'Create one with `orch plan --out FILE`.' });
  }
  if (data?.kind !== 'orch-saved-plan' || typeof data.fingerprint !== 'string' || !data.inputs) {
    throw new UserError('plan.invalid', `${path} is not a saved orch plan.`, { hint: 'Create one with `orch plan --out FILE`.' });
  }
  return data;
}
