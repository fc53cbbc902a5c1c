/**
 * The lines a plan shows for Migration documents an earlier apply already started: one line each
 * for those still under way (apply leaves them to the driver), one line for all finished ones
 * (done, cancelled), so that manifests that keep old Migration documents do not drown the plan.
 * Shared by the text, saved-plan text and Markdown views; `esc` escapes a value for the view.
 */
export interface KnownMigrationLine {
  name: string;
  bucket: string;
  from: string;
  to: string;
  phase: string;
}

const FINISHED = new Set(['done', 'cancelled']);
const MAX_FINISHED_NAMES = 5;

export function knownMigrationLines(known: readonly KnownMigrationLine[], esc: (s: string) => string, arrow = '->'): string[] {
  const out: string[] = [];
  const finished = known.filter((m) => FINISHED.has(m.phase));
  for (const m of known) {
    if (FINISHED.has(m.phase)) continue;
    out.push(
      `${esc(m.name)}: already started, phase ${esc(m.phase)} (bucket ${esc(m.bucket)}, ${esc(m.from)} ${arrow} ${esc(m.to)}); apply leaves it to the migration driver`,
    );
  }
  if (finished.length > 0) {
    const names = finished
      .slice(0, MAX_FINISHED_NAMES)
      .map((m) => `${esc(m.name)} (${esc(m.phase)})`)
      .join(', ');
    const more = finished.length > MAX_FINISHED_NAMES ? ` and ${finished.length - MAX_FINISHED_NAMES} more` : '';
    out.push(`${finished.length} already finished, not started again: ${names}${more}`);
  }
  return out;
}
