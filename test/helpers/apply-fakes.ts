import { createHash } from 'node:crypto';
import type { JournalOp } from '../../src/domain/apply/journal.js';
import type { ObservedTree } from '../../src/domain/plan/make-plan.js';
import { STATUS_FILE_PATH } from '../../src/domain/render/render-status.js';
import type { ApplyJournal, Journal } from '../../src/ports/apply-journal.js';
import type { ContentStore } from '../../src/ports/content-store.js';
import type { BuiltGeneration, ManagedTree, TreeLayout } from '../../src/ports/managed-tree.js';
import type { GenerationTestResult, Nginx, ReloadResult } from '../../src/ports/nginx.js';
import type { RemovedPoolsFile } from '../../src/ports/removed-pools-file.js';
import type {
  AuditEntry,
  BackupInfo,
  DatabaseCondition,
  GenerationCommit,
  GenerationRow,
  InventoryRow,
  StateDatabase,
  StateStore,
} from '../../src/ports/state-store.js';
import { resolveSettings, type Settings } from '../../src/config/settings.js';
import type { ApplyPorts } from '../../src/use-cases/apply/apply-ports.js';
import { VirtualClock } from './virtual-clock.js';
import { memoryFiles } from './memory-migration-files.js';

/**
 * In-memory fakes of the apply engine's ports, for unit tests of the sequence on a virtual clock:
 * a managed tree (a map of files), a journal, a content store, a state database, and an nginx that
 * loads the live status file's token some time after a reload (or never, when told to refuse).
 */

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export class FakeContents implements ContentStore {
  readonly dir = '/fake/objects';
  readonly items = new Map<string, string>();
  has(h: string): boolean {
    return this.items.has(h);
  }
  put(h: string, content: string): void {
    this.items.set(h, content);
  }
  remove(h: string): void {
    this.items.delete(h);
  }
  putMany(contents: ReadonlyMap<string, string>): number {
    let n = 0;
    for (const [h, c] of contents) {
      if (this.items.has(h)) continue;
      this.items.set(h, c);
      n++;
    }
    return n;
  }
  get(h: string): string | null {
    return this.items.get(h) ?? null;
  }
  collectGarbage(keep: ReadonlySet<string>): number {
    let n = 0;
    for (const h of [...this.items.keys()]) {
      if (keep.has(h)) continue;
      this.items.delete(h);
      n++;
    }
    return n;
  }
}

/**
 * The managed directory as generations: `gens` holds each generation's files, `current` names the
 * live one (null: the older layout, whose files are `legacy`). A switch is one assignment, as the
 * rename(2) it stands for.
 */
export class FakeTree implements ManagedTree {
  readonly dir = '/fake/nginx';
  readonly gens = new Map<number, Map<string, string>>();
  current: number | null = null;
  /** The files of the older layout (real pools/ and vhosts/), before a conversion. */
  legacy = new Map<string, string>();
  /** Every build, switch and conversion, in order. */
  readonly touched: string[] = [];

  /** The live files. */
  get files(): Map<string, string> {
    return this.current === null ? this.legacy : this.gens.get(this.current)!;
  }

  exists(): boolean {
    return true;
  }
  read(): ObservedTree {
    return {
      files: [...this.files]
        .filter(([p]) => p !== STATUS_FILE_PATH)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([path, content]) => ({ path, content, managed: true })),
    };
  }
  liveSha(path: string): string | null {
    const c = this.files.get(path);
    return c === undefined ? null : sha(c);
  }
  readLive(path: string): string | null {
    return this.files.get(path) ?? null;
  }
  layout(): TreeLayout {
    if (this.current !== null) return { kind: 'generations', current: this.current };
    return this.legacy.size > 0 ? { kind: 'legacy' } : { kind: 'empty' };
  }
  generations(): number[] {
    return [...this.gens.keys()].sort((a, b) => a - b);
  }
  build(n: number, writes: ReadonlyMap<string, string>, deletes: ReadonlySet<string>): BuiltGeneration {
    const files = new Map([...this.files].filter(([p]) => !deletes.has(p) && !writes.has(p)));
    for (const [p, c] of writes) files.set(p, c);
    this.gens.set(n, files);
    this.touched.push(`build ${n}`);
    return { n, dir: `/fake/nginx/generations/${n}`, written: writes.size, linked: files.size - writes.size };
  }
  discard(n: number): void {
    if (this.current === n) return;
    this.gens.delete(n);
    this.touched.push(`discard ${n}`);
  }
  convert(g0: number): { atomic: boolean } {
    if (this.current === null) {
      this.gens.set(g0, new Map(this.legacy));
      this.current = g0;
      this.legacy = new Map();
      this.touched.push(`convert ${g0}`);
    }
    return { atomic: true };
  }
  prepareSwitch(): void {}
  switchTo(n: number): void {
    if (!this.gens.has(n)) throw new Error(`no generation ${n}`);
    this.current = n;
    this.touched.push(`switch ${n}`);
  }
  removeSwitchLinks(): void {}
  prune(keep: ReadonlySet<number>): number[] {
    const removed = [...this.gens.keys()].filter((n) => n !== this.current && !keep.has(n));
    for (const n of removed) this.gens.delete(n);
    return removed;
  }
  removeLeftovers(): string[] {
    const removed = [...this.gens.keys()].filter((n) => this.current !== null && n > this.current);
    for (const n of removed) this.gens.delete(n);
    return removed.map((n) => `generations/${n}`);
  }
  restorePrevious(ops: readonly JournalOp[], contents: ContentStore): void {
    for (const op of [...ops].reverse()) this.put(op.path, op.beforeSha256, contents);
  }
  completeOps(ops: readonly JournalOp[], contents: ContentStore): void {
    for (const op of ops) this.put(op.path, op.afterSha256, contents);
  }
  removeLeftoverTemps(): void {}
  private put(path: string, want: string | null, contents: ContentStore): void {
    if (this.liveSha(path) === want) return;
    if (want === null) this.files.delete(path);
    else this.files.set(path, contents.get(want)!);
  }
  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.files].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  /** A generation's files (for nginx -t of a new generation). */
  filesOf(dir: string): ReadonlyMap<string, string> {
    const n = Number(/generations\/(\d+)$/.exec(dir)?.[1]);
    return this.gens.get(n) ?? new Map();
  }
}

export class FakeJournal implements ApplyJournal {
  text: string | null = null;
  /** Every phase written, in order. */
  readonly phases: string[] = [];
  read(): Journal | null {
    return this.text === null ? null : (JSON.parse(this.text) as Journal);
  }
  write(journal: Omit<Journal, 'pid'>): void {
    this.text = JSON.stringify({ ...journal, pid: 4242 });
    this.phases.push(journal.phase);
  }
  remove(): void {
    this.text = null;
  }
}

/** nginx: `nginx -t` as told, a reload that makes the live status file's token served after `loadMs`. */
export class FakeNginx implements Nginx {
  /** Whether `nginx -t` accepts a generation (its files). */
  testOk: (files: ReadonlyMap<string, string>) => boolean = () => true;
  /** Exit status of the reload command. */
  reloadExitsOk = true;
  /** Whether nginx actually loads what is on disk on reload (false: a port in use, it keeps the old). */
  loadsOnReload = true;
  loadMs = 40;
  served: string | null = null;
  private pending: { token: string | null; at: number } | null = null;
  reloads = 0;
  tests = 0;

  constructor(
    private readonly tree: FakeTree,
    private readonly clock: VirtualClock,
  ) {}

  version(): Promise<string | null> {
    return Promise.resolve('1.24.0');
  }
  mainConfigExists(): boolean {
    return true;
  }
  testTree(): Promise<GenerationTestResult & { treeRoot: string }> {
    return Promise.reject(new Error('FakeNginx: testTree (orch validate --nginx) is not part of the apply engine'));
  }
  testGeneration(dir: string): Promise<GenerationTestResult> {
    this.tests++;
    const ok = this.testOk(this.tree.filesOf(dir));
    return Promise.resolve({
      ok,
      output: ok ? 'syntax is ok' : `nginx: [emerg] unknown directive "bogus" in ${dir}/vhosts/a.conf:3`,
      durationMs: 7,
      scope: 'main',
    });
  }
  reload(): Promise<ReloadResult> {
    this.reloads++;
    if (this.reloadExitsOk && this.loadsOnReload)
      this.pending = { token: tokenIn(this.tree.files.get(STATUS_FILE_PATH)), at: this.clock.now() + this.loadMs };
    return Promise.resolve({
      ok: this.reloadExitsOk,
      output: this.reloadExitsOk ? '' : 'nginx: [error] invalid PID number',
      durationMs: 3,
    });
  }
  servedGeneration(): Promise<string | null> {
    if (this.pending && this.clock.now() >= this.pending.at) {
      this.served = this.pending.token;
      this.pending = null;
    }
    return Promise.resolve(this.served);
  }
  errorLogTail(): string | null {
    return 'bind() to 127.0.0.1:8080 failed (98: Address already in use)';
  }
}

function tokenIn(status: string | undefined): string | null {
  return status ? (/return 200 "([^"]+)"/.exec(status)?.[1] ?? null) : null;
}

/** The state database in memory: generations, inventory, kept file lists, audit. */
export class FakeState implements StateDatabase {
  readonly path = '/fake/state/orch.db';
  readonly rows: GenerationRow[] = [];
  readonly inventoryRows = new Map<string, InventoryRow>();
  readonly files = new Map<number, Record<string, string>>();
  readonly audits: AuditEntry[] = [];
  readonly meta = new Map<string, string>();
  failCommit = false;
  failBackup = false;
  backupsWritten = 0;

  open(): StateStore {
    return this.store();
  }
  openIfExists(): StateStore | null {
    return this.store();
  }
  condition(): DatabaseCondition {
    return { kind: 'usable', generation: this.rows[this.rows.length - 1]?.number ?? null };
  }
  backups(): BackupInfo[] {
    return [];
  }
  backupWrittenAt(): number | null {
    return null;
  }
  moveAside(): string | null {
    return null;
  }

  private store(): StateStore {
    const impl: Partial<StateStore> = {
      path: this.path,
      close() {},
      getMeta: (k) => this.meta.get(k) ?? null,
      setMeta: (k, v) => void this.meta.set(k, v),
      currentGeneration: () => this.rows[this.rows.length - 1]?.number ?? null,
      generation: (n) => this.rows.find((r) => r.number === n) ?? null,
      generations: (limit = 100) => [...this.rows].reverse().slice(0, limit),
      generationFiles: (n) => this.files.get(n) ?? {},
      inventory: () => [...this.inventoryRows.values()],
      migrations: () => [],
      commitGeneration: (c: GenerationCommit) => {
        if (this.failCommit) throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'ENOSPC', path: this.path });
        this.rows.push({
          createdAt: '2026-01-01T00:00:00.000Z',
          ...c.generation,
          actor: c.generation.actor ?? null,
          gitCommit: c.generation.gitCommit ?? null,
          gitDirty: c.generation.gitDirty ?? null,
        });
        for (const r of c.upsert) this.inventoryRows.set(r.path, r);
        for (const p of c.remove) this.inventoryRows.delete(p);
        this.files.set(c.generation.number, c.files);
        this.audits.push(...c.audit);
      },
      audit: (entries) => void this.audits.push(...entries),
      backup: async () => {
        if (this.failBackup)
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', path: `${this.path}.bak.tmp` });
        this.backupsWritten++;
        return `${this.path}.bak`;
      },
      isEmpty: () => this.rows.length === 0,
      pruneGenerationFiles: () => [],
      referencedContents: () => new Set([...this.files.values()].flatMap((f) => Object.values(f))),
    };
    return new Proxy(impl as StateStore, {
      get(target, prop) {
        if (prop in target) return target[prop as keyof StateStore];
        throw new Error(`FakeState: ${String(prop)} is not faked`);
      },
    });
  }
}

export class Crash extends Error {
  constructor(readonly point: string) {
    super(`crash at ${point}`);
  }
}

/** The removed-pool records' copy beside the database, in memory (`text`: as last written). */
export function memoryRemovedPoolsFile(): RemovedPoolsFile & { text: string | null } {
  const file = {
    path: '/fake/state/removed-pools.json',
    text: null as string | null,
    read: () => file.text,
    write: (text: string | null) => void (file.text = text),
  };
  return file;
}

export interface FakePorts extends ApplyPorts {
  removedPoolsFile: RemovedPoolsFile & { text: string | null };
  tree: FakeTree;
  journal: FakeJournal;
  contents: FakeContents;
  nginx: FakeNginx;
  state: FakeState;
  clock: VirtualClock;
  /** Fault points reached, in order. */
  faults: string[];
  /** The fault point that crashes (throws Crash), if any. */
  crashAt: string | null;
}

export function fakePorts(overrides: Partial<Settings> = {}): FakePorts {
  const settings: Settings = {
    ...resolveSettings({
      flags: { nginxDir: '/fake/nginx', stateDir: '/fake/state', manifests: '/fake/manifests' },
      env: {},
      configPath: null,
      candidates: [],
      readFile: () => null,
    }),
    statusListen: '127.0.0.1:9999',
    reloadTimeoutSeconds: 2,
    ...overrides,
  };
  const clock = new VirtualClock();
  const tree = new FakeTree();
  tree.gens.set(0, new Map());
  tree.current = 0;
  const ports: FakePorts = {
    settings,
    provenance: { actor: () => 'tester@test', current: async () => ({ actor: 'tester@test', gitCommit: null, gitDirty: null }) },
    state: new FakeState(),
    locks: {
      acquire: async (command) => ({ holder: { pid: 1, command, since: '', host: 'test', startTime: null }, release() {} }),
      holder: () => null,
    },
    tree,
    journal: new FakeJournal(),
    contents: new FakeContents(),
    nginx: new FakeNginx(tree, clock),
    clock,
    migrationFiles: memoryFiles(),
    removedPoolsFile: memoryRemovedPoolsFile(),
    // No saved plan in these tests: reading one finds nothing, writing one is a bug of the test.
    files: {
      read: () => null,
      write: () => {
        throw new Error('no file writes in this test');
      },
      entries: () => null,
    },
    manifests: {
      load: () => {
        throw new Error('no manifests in this test');
      },
      originNames: () => (file) => file,
    },
    // No credential resolves and no pool answers: the engine's tests plan offline.
    secrets: {
      keyring: () => null,
      resolvePoolCredentials: () => ({
        accessKeyId: { ok: false, problem: 'no secrets in this test' },
        secretAccessKey: { ok: false, problem: 'no secrets in this test' },
      }),
      keyMaterial: () => [],
    },
    poolStorage: { open: () => Promise.reject(new Error('no pool in this test')) },
    faults: [],
    crashAt: null,
    fault: (point) => {
      ports.faults.push(point);
      if (point === ports.crashAt) throw new Crash(point);
    },
  };
  return ports;
}

/** Runs `work` to its end, moving the virtual clock on while it waits (reload confirmation). */
export async function onVirtualTime<T>(clock: VirtualClock, work: Promise<T>): Promise<T> {
  let settled = false;
  const done = work.finally(() => (settled = true));
  done.catch(() => {}); // handled by the caller, once the loop returns it
  for (let i = 0; i < 100_000 && !settled; i++) {
    await new Promise((r) => setImmediate(r));
    if (!settled) await clock.advance(5);
  }
  return done;
}
