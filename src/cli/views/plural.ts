/** `1 route`, `2 routes`, `1 virtual host`; `plural(2, 'entry', 'entries')` for the irregular ones. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
