/**
 * Whether a JSON copy of `value` gives back exactly the same value, for the manifest caches,
 * which store JSON when it does (it reads ~40% faster than a V8 deserialization). JSON is exact
 * for plain objects and arrays without shared or undefined members, strings, booleans, null and
 * finite numbers other than -0 (own `__proto__` keys and key order come back as they were).
 */
export function jsonExact(value: unknown, seen: Set<object>): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (typeof value !== 'object') return false;
  if (seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || !jsonExact(value[i], seen)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype || Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key of Object.getOwnPropertyNames(value)) {
    const d = Object.getOwnPropertyDescriptor(value, key)!;
    if (!d.enumerable || !('value' in d) || key === 'toJSON' || !jsonExact(d.value, seen)) return false;
  }
  return true;
}
