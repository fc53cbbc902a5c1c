import type { Logger } from '../use-cases/watch/log.js';
import { WatchDaemon, type WatchDaemonOptions } from '../use-cases/watch/daemon.js';

/**
 * Runs the daemon until SIGTERM or SIGINT: the first one stops it gracefully (the job in flight
 * finishes, see WatchDaemon.stop); a second one exits at once with code 1 (an apply cut short is
 * finished or undone from its journal by the next orch writer). SIGHUP re-reads the settings.
 * Resolves after a graceful stop.
 */
export async function runWatch(opts: WatchDaemonOptions & { log: Logger }): Promise<void> {
  const daemon = new WatchDaemon(opts);
  let stopRequested: string | null = null;
  let started = false;
  let signals = 0;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const onStop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      opts.log.warn('shutdown.forced', {
        signal,
        detail: 'second signal: exiting now; the next orch writer finishes or undoes an apply cut short',
      });
      process.exit(1);
    }
    stopRequested = signal;
    if (started) void daemon.stop(signal).then(resolveStopped);
  };
  const onHup = () => {
    opts.log.info('signal', { signal: 'SIGHUP', action: 're-read settings, then reconcile' });
    if (started) daemon.reloadSettings();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  try {
    try {
      await daemon.start();
    } catch (e) {
      await daemon.stop('start failed');
      throw e;
    }
    started = true;
    if (stopRequested) void daemon.stop(stopRequested).then(resolveStopped);
    await stopped;
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  }
}
