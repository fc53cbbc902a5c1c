import { UserError } from '../../domain/errors.js';
import type { PlanInputs } from '../../domain/plan/plan-inputs.js';
import type { TextFiles } from '../../ports/text-files.js';
import { shellWord } from '../../domain/shell-word.js';

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

export function writeSavedPlan(files: TextFiles, path: string, saved: SavedPlan): void {
  files.write(path, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
}

export function readSavedPlan(files: TextFiles, path: string): SavedPlan {
  let text: string | null;
  try {
    text = files.read(path);
  } catch {
    text = null;
  }
  if (text === null) {
    throw new UserError('plan.not-found', `Saved plan ${path} does not exist or cannot be read.`, {
      hint: `Create it with \`orch plan --out ${shellWord(path)}\`.`,
    });
  }
  let data: SavedPlan;
  try {
    data = JSON.parse(text) as SavedPlan;
  } catch {
    throw new UserError('plan.invalid', `${path} is not a saved orch plan (not JSON).`, {
      hint: 'Create one with `orch plan --out FILE`.',
    });
  }
  if (data?.kind !== 'orch-saved-plan' || typeof data.fingerprint !== 'string' || !data.inputs) {
    throw new UserError('plan.invalid', `${path} is not a saved orch plan.`, { hint: 'Create one with `orch plan --out FILE`.' });
  }
  return data;
}
