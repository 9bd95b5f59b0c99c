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
);
