import type { AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { formatFieldPath } from '../diagnostics.js';
import type { Kind } from '../model/manifest-types.js';
import * as VALIDATORS from '../model/schema-validators.generated.js';
import type { FieldPath } from './parse-manifests.js';
import { getAt, type DiagnosticSink, type Finding, type ManifestDoc } from './report.js';
import { didYouMean, listWords, show } from './text.js';

/**
 * Checks a document against its kind's JSON Schema (ajv, draft 2020-12) and turns every ajv error
 * into a positioned diagnostic in the operator's words. Errors about the form of a text
 * (`pattern`, `minLength`, `maxLength`) are not reported here: the typed value checks
 * (value-types.ts) say the same thing better. They are returned as deferred findings that the
 * caller reports only where no value check spoke, so a schema stricter than the code still
 * rejects the value.
 */
const FORM_KEYWORDS = new Set(['pattern', 'minLength', 'maxLength']);

/** ajv validators precompiled from the schemas at build time (scripts/gen-schema-types.mjs). */
function validatorFor(kind: Kind): ValidateFunction {
  const v = (VALIDATORS as unknown as Record<string, ValidateFunction | undefined>)[kind];
  if (!v) throw new Error(`no schema for kind ${kind}`);
  return v;
}

/** Reports schema errors; returns the deferred findings about the form of text values. */
export function checkSchema(md: ManifestDoc, sink: DiagnosticSink): Finding[] {
  const validate = validatorFor(md.kind);
  if (validate(md.value)) return [];
  const deferred: Finding[] = [];
  for (const err of validate.errors ?? []) {
    if (isEnvelopeError(md, err)) continue;
    const finding = describeError(md, err);
    if (FORM_KEYWORDS.has(err.keyword)) deferred.push(finding);
    else sink.error(md, finding);
  }
  return deferred;
}

/** The envelope check (check-envelope.ts) already reported these, in better words. */
function isEnvelopeError(md: ManifestDoc, err: ErrorObject): boolean {
  const p = err.instancePath;
  if (p === '/apiVersion' || p === '/kind') return true;
  if (err.keyword === 'required') {
    const missing = String(err.params.missingProperty);
    if (p === '' && (missing === 'apiVersion' || missing === 'kind' || missing === 'metadata')) return true;
    if (p === '/metadata' && missing === 'name') return true;
  }
  if (err.keyword === 'type' && (p === '/metadata' || p === '/metadata/name')) {
    return md.name === '' && (err.data === null || p === '/metadata');
  }
  return false;
}

/** Turns an ajv JSON pointer into a field path, using numbers where the value is a list. */
function toFieldPath(root: unknown, pointer: string): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(cur) ? Number(part) : part;
    path.push(key);
    cur = getAt(cur, [key]);
  }
  return path;
}

function where(path: FieldPath): string {
  return path.length === 0 ? 'at the top level of the document' : `in ${formatFieldPath(path)}`;
}

function fieldName(path: FieldPath): string {
  return path.length === 0 ? 'the document' : formatFieldPath(path);
}

function propertiesOf(schema: AnySchemaObject | undefined): Record<string, AnySchemaObject> {
  return (schema?.properties ?? {}) as Record<string, AnySchemaObject>;
}

function describeError(md: ManifestDoc, err: ErrorObject): Finding {
  const path = toFieldPath(md.value, err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return unknownField(path, String(params.additionalProperty), err.parentSchema);
    case 'required':
      return missingField(path, String(params.missingProperty), err.parentSchema);
    case 'type':
      return wrongType(path, String(params.type), err.data, err.parentSchema);
    case 'enum':
      return notAllowed(path, err.data, (params.allowedValues as unknown[]) ?? []);
    case 'minimum':
    case 'maximum':
      return outOfRange(path, err.data, err.parentSchema);
    case 'minItems':
      return {
        code: 'schema.too-few-items',
        path,
        message: `${fieldName(path)} must list at least ${String(params.limit)} ${Number(params.limit) === 1 ? 'entry' : 'entries'}`,
        hint: `Add an entry, or remove ${fieldName(path)}. ${err.parentSchema?.description ?? ''}`.trim(),
      };
    case 'uniqueItems':
      return duplicateItem(path, Number(params.i), Number(params.j), err.data);
    case 'minLength':
      if (Number(params.limit) > 1) {
        return {
          code: 'schema.too-short',
          path,
          message: `${fieldName(path)} is shorter than ${String(params.limit)} characters`,
          hint: String(err.parentSchema?.description ?? 'Give a longer value.'),
        };
      }
      return {
        code: 'schema.empty-value',
        path,
        message: `${fieldName(path)} is empty`,
        hint: `Give a value, or remove the field. ${err.parentSchema?.description ?? ''}`.trim(),
      };
    case 'maxLength':
      return {
        code: 'schema.too-long',
        path,
        message: `${fieldName(path)} is longer than ${String(params.limit)} characters`,
        hint: 'Shorten the value.',
      };
    case 'minProperties':
    case 'maxProperties':
      return {
        code: 'schema.secret-ref',
        path,
        message: `${fieldName(path)} must name exactly one source of the secret: env or file`,
        hint: 'Write either "env: VARIABLE_NAME" or "file: /absolute/path", not both and not neither.',
      };
    case 'pattern':
      return {
        code: 'schema.pattern',
        path,
        message: `${fieldName(path)} ${show(err.data)} does not have the required form`,
        hint: `${err.parentSchema?.description ?? 'See the schema for the allowed form.'}`,
      };
    default:
      return {
        code: 'schema.invalid',
        path,
        message: `${fieldName(path)} ${err.message ?? 'is invalid'}`,
        hint: 'See the JSON Schema in schemas/ for this field.',
      };
  }
}

function unknownField(path: FieldPath, key: string, parent: AnySchemaObject | undefined): Finding {
  const allowed = Object.keys(propertiesOf(parent));
  return {
    code: 'schema.unknown-field',
    path: [...path, key],
    target: 'key',
    message: `unknown field ${show(key)} ${where(path)}`,
    hint: `${didYouMean(key, allowed)}Fields allowed here: ${listWords(allowed, 20)}.`,
  };
}

function missingField(path: FieldPath, key: string, parent: AnySchemaObject | undefined): Finding {
  const description = propertiesOf(parent)[key]?.description;
  return {
    code: 'schema.missing-field',
    path,
    message: `missing required field ${show(key)} ${where(path)}`,
    hint: `Add "${key}:"${description ? `: ${String(description)}` : '.'}`,
  };
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value lines)',
  array: 'a list ("- " items)',
  null: 'empty',
};

function describeValue(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return `the text ${show(v)}`;
}

function wrongType(path: FieldPath, expected: string, data: unknown, parent: AnySchemaObject | undefined): Finding {
  let hint = parent?.description ? String(parent.description) : 'See the JSON Schema in schemas/ for this field.';
  if (data === null) hint = `The value is empty: give one, or remove the field. ${hint}`;
  else if (expected === 'string' && (typeof data === 'number' || typeof data === 'boolean'))
    hint = `Put the value in quotes: "${String(data)}". ${hint}`;
  else if ((expected === 'integer' || expected === 'number' || expected === 'boolean') && typeof data === 'string')
    hint = `Remove the quotes. ${hint}`;
  return {
    code: 'schema.wrong-type',
    path,
    message: `${fieldName(path)} must be ${TYPE_WORDS[expected] ?? expected}, not ${describeValue(data)}`,
    hint,
  };
}

function notAllowed(path: FieldPath, data: unknown, allowed: unknown[]): Finding {
  const words = allowed.map(String);
  return {
    code: 'schema.not-allowed-value',
    path,
    message: `${fieldName(path)} is ${show(data)}; it must be one of ${listWords(words.map((w) => show(w)))}`,
    hint: `${didYouMean(String(data), words)}Use one of ${listWords(words)}.`,
  };
}

function outOfRange(path: FieldPath, data: unknown, parent: AnySchemaObject | undefined): Finding {
  const min = parent?.minimum as number | undefined;
  const max = parent?.maximum as number | undefined;
  const range =
    min !== undefined && max !== undefined ? `between ${min} and ${max}` : min !== undefined ? `at least ${min}` : `at most ${String(max)}`;
  const last = path[path.length - 1];
  // keepalive 0 is a common way to say "none"; nginx rejects `keepalive 0`.
  const hint =
    last === 'keepalive' && typeof data === 'number' && data < 1
      ? 'nginx refuses "keepalive 0": remove keepalive to keep no idle connections.'
      : `Use a value ${range}.`;
  return { code: 'schema.out-of-range', path, message: `${fieldName(path)} is ${show(data)}; it must be ${range}`, hint };
}

function duplicateItem(path: FieldPath, i: number, j: number, data: unknown): Finding {
  const list = Array.isArray(data) ? data : [];
  const later = Math.max(i, j);
  const earlier = Math.min(i, j);
  return {
    code: 'schema.duplicate-item',
    path: [...path, later],
    message: `${fieldName(path)} lists ${show(list[later])} twice (entries ${earlier} and ${later})`,
    hint: 'Remove the repeated entry.',
  };
}
