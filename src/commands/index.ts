import Apply from './apply.js';
import Drift from './drift.js';
import History from './history.js';
import Plan from './plan.js';
import Rollback from './rollback.js';
import SandboxDown from './sandbox/down.js';
import SandboxUp from './sandbox/up.js';
import Status from './status.js';
import Validate from './validate.js';

/** oclif explicit command registry (package.json "oclif.commands"): no directory scan at start-up. */
export const COMMANDS = {
  apply: Apply,
  drift: Drift,
  history: History,
  plan: Plan,
  rollback: Rollback,
  'sandbox:down': SandboxDown,
  'sandbox:up': SandboxUp,
  status: Status,
  validate: Validate,
};
