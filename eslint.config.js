// ESLint (flat config): typescript-eslint's recommended rules, and the layer rule that keeps the
// dependencies pointing inward (docs/architecture.md):
//
//   commands, cli  ->  use-cases  ->  domain  <-  ports  <-  adapters
//                      (config below use-cases and adapters; composition-root.ts builds the adapters)
//
// Each layer is one block below, and every src file falls in exactly one block: a later block that
// sets the same rule replaces its options, it does not add to them. test/unit/lint-boundaries.test.ts
// lints deliberate violations at each layer's paths with this file.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** A relative import that reaches into one of orch's top-level folders (or src/<name>.ts), by its name. */
const into = (...names) => `^\\.{1,2}/(.*/)?(${names.join('|')})(/|\\.js$|$)`;

/** Node built-ins that reach the outside world (files, processes, network, the machine, module loading). */
const IO_BUILTINS = [
  'fs',
  'fs/promises',
  'child_process',
  'cluster',
  'dgram',
  'dns',
  'dns/promises',
  'http',
  'http2',
  'https',
  'inspector',
  'module',
  'os',
  'process',
  'readline',
  'readline/promises',
  'tls',
  'v8',
  'vm',
  'worker_threads',
];
const ioBuiltins = (message) => ({ regex: `^(node:)?(${IO_BUILTINS.join('|')})$`, message });
// node:net holds I/O (sockets) and pure address checks; only the checks are allowed in the core.
const netSockets = (message) => ['node:net', 'net'].map((name) => ({ name, allowImportNames: ['isIP', 'isIPv4', 'isIPv6'], message }));

const CLOCK_MESSAGE = 'No clock here: time comes in (a parameter, or the Clock port).';
const CLOCK = [
  { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: CLOCK_MESSAGE },
  { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: CLOCK_MESSAGE },
  { selector: "MemberExpression[object.name='performance'][property.name='now']", message: CLOCK_MESSAGE },
];
const PROCESS_MESSAGE = 'No process here: settings and the environment come in from the composition root.';
const PROCESS = {
  'no-restricted-globals': ['error', { name: 'process', message: PROCESS_MESSAGE }],
  'no-restricted-properties': ['error', { object: 'globalThis', property: 'process', message: PROCESS_MESSAGE }],
};

/**
 * The layer rule for one layer: the folders of orch it may not import (static imports, re-exports
 * and `import()` of a literal path) and other restricted modules; `pure` adds no clock, no process.
 */
function layer(files, { forbidden, why, paths = [], patterns = [], pure = false }) {
  const regex = into(...forbidden);
  const dynamicImport = { selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`, message: why };
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { paths, patterns: [{ regex, message: why }, ...patterns] }],
      'no-restricted-syntax': ['error', dynamicImport, ...(pure ? CLOCK : [])],
      ...(pure ? PROCESS : {}),
    },
  };
}

const domain = layer(['src/domain/**/*.ts'], {
  forbidden: ['adapters', 'ports', 'use-cases', 'commands', 'cli', 'config', 'composition-root'],
  why: 'The domain is pure: it imports only src/domain (and pure libraries).',
  paths: [...netSockets('The domain does no I/O: only isIP/isIPv4/isIPv6 of node:net.')],
  patterns: [ioBuiltins('The domain does no I/O: files, processes, network and the machine are reached through ports.')],
  pure: true,
});
const ports = layer(['src/ports/**/*.ts'], {
  forbidden: ['adapters', 'use-cases', 'commands', 'cli', 'config', 'composition-root'],
  why: 'Ports are interfaces and types: they import only src/domain and src/ports.',
  paths: [...netSockets('Ports are interfaces and types: no I/O modules.')],
  patterns: [ioBuiltins('Ports are interfaces and types: no I/O modules.')],
});
const useCases = layer(['src/use-cases/**/*.ts'], {
  forbidden: ['adapters', 'commands', 'cli', 'composition-root'],
  why: 'Use cases import domain, ports, config and other use cases; adapters come in as ports (composition-root.ts).',
  paths: [...netSockets('Use cases reach the outside world through ports, not node I/O modules.')],
  patterns: [ioBuiltins('Use cases reach the outside world through ports (files, processes, network), not node I/O modules.')],
  pure: true,
});
const adapters = layer(['src/adapters/**/*.ts'], {
  forbidden: ['use-cases', 'commands', 'cli', 'composition-root'],
  why: 'Adapters implement ports: they import domain, ports and config, never use cases, commands or the CLI.',
});
const config = layer(['src/config/**/*.ts'], {
  forbidden: ['adapters', 'use-cases', 'commands', 'cli', 'composition-root'],
  why: 'Config (settings, version, package root) sits below use cases and adapters: it imports only domain and config.',
});
const shell = layer(['src/commands/**/*.ts', 'src/cli/**/*.ts', 'src/cli.ts'], {
  forbidden: ['adapters'],
  why: 'Commands and the CLI call composeOrch (composition-root.ts) and a use case; they never import an adapter.',
});

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'coverage/**',
      'node_modules/**',
      'src/adapters/s3/native/build/**',
      'src/domain/model/*.generated.ts',
      'test/fixtures/**',
      'test/golden/**',
      'test/.tmp/**',
      'oclif.manifest.json',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // As tsc's noUnusedLocals/noUnusedParameters: a leading `_` marks a name left unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // The regexes that check names, paths and nginx tokens match control characters on purpose.
      'no-control-regex': 'off',
      // Flags `let x = null` before a try or an if/else that assigns it: a dead initial value, not a bug.
      'no-useless-assignment': 'off',
      // A `let` read by a closure before its one assignment (a socket callback) stays a `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // CommonJS: the s3rver child and the CLI's bundle entry (which only runs bundled, with `require`).
    files: ['**/*.cjs', 'src/cli.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  domain,
  ports,
  useCases,
  adapters,
  config,
  shell,
);
