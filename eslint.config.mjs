// Lint rules for every package: typescript-eslint's recommended set, its type-checked
// promise rules (a floating or misused promise hides a failure), plus the project rules
// docs/CONVENTIONS.md asks for: no console.log in tools, no process.exit.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** node:test's describe/it/before… return promises the runner itself awaits. */
const NODE_TEST = { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] };

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', 'test/.work/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'return an exit code through the shared runner' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Files in a TypeScript project (scripts/ and bench/ type-check their JavaScript too).
    files: ['**/*.ts', 'scripts/*.mjs', 'scripts/*.cjs', 'bench/*.mjs', 'bench/pull/*.mjs'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // TypeScript (checkJs for the JavaScript here) reports undefined names, knowing Node's globals.
      'no-undef': 'off',
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [NODE_TEST] }],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['scripts/**', 'bench/**', '**/*.test.ts', 'test/**', '**/fixtures/**'],
    rules: { 'no-console': 'off', 'no-restricted-properties': 'off' },
  },
  {
    // The CommonJS scripts (the SEA loader and the code-cache trainer run as plain CommonJS).
    files: ['scripts/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The hypervisor stand-ins are standalone Node programs (they exit like the binaries they stand in for).
    files: ['**/test/stand-ins/**'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', setInterval: 'readonly' } },
    rules: { 'no-restricted-properties': 'off' },
  },
);
