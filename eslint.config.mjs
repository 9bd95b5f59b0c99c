// Lint rules for every package: typescript-eslint's recommended set, plus the
// project rules CONVENTIONS.md asks for (no console.log in tools, no process.exit).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    files: ['scripts/**', 'bench/**', '**/*.test.ts', 'test/**', '**/fixtures/**'],
    rules: { 'no-console': 'off', 'no-restricted-properties': 'off' },
  },
  {
    // The hypervisor stand-ins are standalone Node programs (they exit like the binaries they stand in for).
    files: ['**/test/stand-ins/**'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', setInterval: 'readonly' } },
    rules: { 'no-restricted-properties': 'off' },
  },
);
