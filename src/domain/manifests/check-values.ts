import type { FieldPath } from './parse-manifests.js';
import { getAt, type DiagnosticSink, type ManifestDoc } from './report.js';
import {
  checkBandwidth,
  checkBucketName,
  checkDuration,
  checkEnvName,
  checkFilePath,
  checkIpRule,
  checkKeyPrefix,
  checkMemberAddress,
  checkResourceName,
  checkRoutePath,
  checkServerName,
  checkSingleLine,
  checkBindAddress,
  cidrHostBitsWarning,
  parseDurationMs,
  type ValueCheck,
} from './value-types.js';

/** Longest write freeze a migration may ask for at its cutover. */
export const MAX_FREEZE_BUDGET_SECONDS = 600;

/**
 * Applies the typed value checks to every field of a document that reaches nginx text, a file
 * name or a secret lookup. Fields of the wrong type are skipped: the schema check reports those.
 */
export function checkValues(md: ManifestDoc, sink: DiagnosticSink): void {
  const check = (path: FieldPath, fn: ValueCheck, code: string): boolean => checkField(md, sink, path, fn, code);
  check(['metadata', 'name'], checkResourceName, 'value.name');
  switch (md.kind) {
    case 'Pool':
      return checkPoolValues(md, check);
    case 'VirtualHost':
      return checkVirtualHostValues(md, sink, check);
    case 'Route':
      return checkRouteValues(md, sink, check);
    case 'Migration':
      return checkMigrationValues(md, sink, check);
  }
}

type Check = (path: FieldPath, fn: ValueCheck, code: string) => boolean;

/** Runs one check on a string field; true when the field is absent, not a string, or fine. */
function checkField(md: ManifestDoc, sink: DiagnosticSink, path: FieldPath, fn: ValueCheck, code: string): boolean {
  const value = getAt(md.value, path);
  if (typeof value !== 'string') return true;
  const problem = fn(value);
  if (!problem) return true;
  sink.error(md, { code, path, ...problem });
  return false;
}

function indexes(md: ManifestDoc, path: FieldPath): number[] {
  const list = getAt(md.value, path);
  return Array.isArray(list) ? list.map((_, i) => i) : [];
}

function checkPoolValues(md: ManifestDoc, check: Check): void {
  check(['spec', 'description'], checkSingleLine, 'value.description');
  for (const i of indexes(md, ['spec', 'members'])) {
    check(['spec', 'members', i, 'address'], checkMemberAddress, 'value.member-address');
    check(['spec', 'members', i, 'failTimeout'], checkDuration, 'value.duration');
  }
  for (const secret of ['accessKeyId', 'secretAccessKey']) {
    check(['spec', 'credentials', secret, 'env'], checkEnvName, 'value.env-name');
    check(['spec', 'credentials', secret, 'file'], checkFilePath, 'value.file-path');
  }
  for (const i of indexes(md, ['spec', 'allowOrphan'])) check(['spec', 'allowOrphan', i], checkBucketName, 'value.bucket-name');
}

function checkVirtualHostValues(md: ManifestDoc, sink: DiagnosticSink, check: Check): void {
  for (const i of indexes(md, ['spec', 'serverNames'])) check(['spec', 'serverNames', i], checkServerName, 'value.server-name');
  check(['spec', 'address'], checkBindAddress, 'value.bind-address');
  check(['spec', 'tls', 'certificate'], checkFilePath, 'value.file-path');
  check(['spec', 'tls', 'key'], checkFilePath, 'value.file-path');
  check(['spec', 'defaultPool'], checkResourceName, 'value.name');
  for (const i of indexes(md, ['spec', 'ipRules', 'addresses'])) {
    const path = ['spec', 'ipRules', 'addresses', i];
    if (!check(path, checkIpRule, 'value.ip-rule')) continue;
    const value = getAt(md.value, path);
    const warning = typeof value === 'string' ? cidrHostBitsWarning(value) : null;
    if (warning) sink.warning(md, { code: 'value.ip-rule-host-bits', path, ...warning });
  }
  for (const i of indexes(md, ['spec', 'ignoreBuckets'])) check(['spec', 'ignoreBuckets', i], checkBucketName, 'value.bucket-name');
  for (const i of indexes(md, ['spec', 'allowOrphan'])) check(['spec', 'allowOrphan', i], checkBucketName, 'value.bucket-name');
  for (const i of indexes(md, ['spec', 'clientIdentities'])) {
    for (const secret of ['accessKeyId', 'secretAccessKey']) {
      check(['spec', 'clientIdentities', i, secret, 'env'], checkEnvName, 'value.env-name');
      check(['spec', 'clientIdentities', i, secret, 'file'], checkFilePath, 'value.file-path');
    }
  }
  for (const i of indexes(md, ['spec', 'allowRefusingPools'])) check(['spec', 'allowRefusingPools', i], checkResourceName, 'value.name');
  check(['spec', 'proxyReadTimeout'], checkDuration, 'value.duration');
  check(['spec', 'proxySendTimeout'], checkDuration, 'value.duration');
}

function checkRouteValues(md: ManifestDoc, sink: DiagnosticSink, check: Check): void {
  check(['spec', 'virtualHost'], checkResourceName, 'value.name');
  check(['spec', 'pool'], checkResourceName, 'value.name');
  check(['spec', 'keyPrefix'], checkKeyPrefix, 'value.key-prefix');
  if (check(['spec', 'path'], checkRoutePath, 'value.route-path') && md.spec.path === '/') {
    sink.error(md, {
      code: 'rule.route-root-path',
      path: ['spec', 'path'],
      message: 'route path "/" is the whole virtual host, not a route',
      hint: 'Set defaultPool on the VirtualHost to choose the pool for every path no route claims.',
    });
  }
}

function checkMigrationValues(md: ManifestDoc, sink: DiagnosticSink, check: Check): void {
  check(['spec', 'virtualHost'], checkResourceName, 'value.name');
  check(['spec', 'from'], checkResourceName, 'value.name');
  check(['spec', 'to'], checkResourceName, 'value.name');
  check(['spec', 'bucket'], checkBucketName, 'value.bucket-name');
  check(['spec', 'bandwidthLimit'], checkBandwidth, 'value.bandwidth');
  const budget = md.spec.freezeBudget;
  if (!check(['spec', 'freezeBudget'], checkDuration, 'value.duration') || typeof budget !== 'string') return;
  const ms = parseDurationMs(budget) ?? 0;
  if (ms > MAX_FREEZE_BUDGET_SECONDS * 1000) {
    sink.error(md, {
      code: 'rule.freeze-budget-too-long',
      path: ['spec', 'freezeBudget'],
      message: `freezeBudget ${budget} is longer than 10 minutes; writes to the bucket would be refused that long`,
      hint: 'Use at most 10m. If the final sync cannot finish in that time, lower the write rate or raise concurrency.',
    });
  }
}
