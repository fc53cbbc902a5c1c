import { describe, expect, it } from 'vitest';
import { tokenizeNginx, type NginxEvent } from '../../src/domain/manifests/nginx-tokens.js';

const shape = (events: NginxEvent[]): string[] =>
  events.map((e) =>
    e.type === 'block-end'
      ? `} @${e.line}:${e.column}`
      : `${e.words.map((w) => w.text).join(' ')}${e.opensBlock ? ' {' : ' ;'} @${e.line}:${e.column}`,
  );

describe('nginx tokenizer', () => {
  it('reads statements and blocks with their positions', () => {
    const r = tokenizeNginx('gzip on;\nlocation /a/ {\n    return 204;\n}\n');
    expect(r.problem).toBeNull();
    expect(shape(r.events)).toEqual(['gzip on ; @0:0', 'location /a/ { @1:0', 'return 204 ; @2:4', '} @3:0']);
  });

  it('unquotes words and applies only nginx escapes', () => {
    const r = tokenizeNginx(`add_header "X-A" 'b c' "d\\"e" f\\;g h\\x;`);
    expect(r.problem).toBeNull();
    const first = r.events[0];
    expect(first?.type === 'statement' ? first.words.map((w) => w.text) : []).toEqual(['add_header', 'X-A', 'b c', 'd"e', 'f\\;g', 'h\\x']);
  });

  it('does not treat braces, quotes or # inside a bare word as syntax', () => {
    const r = tokenizeNginx('return 200 a}b"c#d;');
    expect(r.problem).toBeNull();
    expect(shape(r.events)).toEqual(['return 200 a}b"c#d ; @0:0']);
  });

  it('keeps ${var} inside a word', () => {
    const r = tokenizeNginx('set $x ${host}abc;');
    expect(r.problem).toBeNull();
    expect(shape(r.events)).toEqual(['set $x ${host}abc ; @0:0']);
  });

  it('skips comments that start a token, to the end of the line', () => {
    const r = tokenizeNginx('# } { "\ngzip on; # }\n');
    expect(r.problem).toBeNull();
    expect(shape(r.events)).toEqual(['gzip on ; @1:0']);
  });

  it('ignores braces and semicolons inside quotes', () => {
    const r = tokenizeNginx(`return 200 "} ; {";\nreturn 200 '}';`);
    expect(r.problem).toBeNull();
    expect(r.events).toHaveLength(2);
  });

  it.each([
    ['return 200 "abc;', 'unbalanced-quote', 0, 11],
    ["a 'b\\';", 'unbalanced-quote', 0, 2],
    ['gzip on', 'unterminated-directive', 0, 0],
    ['return 204 }', 'unterminated-directive', 0, 11],
    ['a b\\', 'unterminated-directive', 0, 0],
    [';', 'syntax', 0, 0],
    ['\n  {', 'syntax', 1, 2],
    ['add_header X "a"b;', 'syntax', 0, 16],
    ['add_header X "a"}', 'syntax', 0, 16],
  ])('reports %j as %s at %i:%i', (text, kind, line, column) => {
    const r = tokenizeNginx(text);
    expect(r.problem).toMatchObject({ kind, line, column });
  });
});
