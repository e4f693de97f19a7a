// The dependency rule of DESIGN.md §8, enforced: core imports nothing outside core; ports import only core;
// app imports ports and core; only adapters (and the composition root, the simulators, the Functions entry points and
// the CLI) touch SDKs.
const tseslint = require('typescript-eslint');

const SDKS = ['@azure/*', '@microsoft/*'];
const OUTER = ['**/adapters', '**/adapters/**', '**/simulators', '**/simulators/**', '**/composition', '**/cli/**'];

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^(?!\\.\\.?/)', message: 'src/core is pure: it imports nothing but other core modules (DESIGN.md §8).' },
          { group: ['../ports/**', '../adapters/**', '../app/**', '../config/**', '../simulators/**', '../composition', '../cli/**', '../../*'], message: 'src/core imports nothing outside core (DESIGN.md §8).' },
        ],
      }],
    },
  },
  {
    files: ['src/ports/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^(?!\\.\\.?/)', message: 'ports are interfaces over core types: no packages.' },
          { group: [...OUTER, '**/app/**', '**/config/**'], message: 'ports import only core (DESIGN.md §8).' },
        ],
      }],
    },
  },
  {
    files: ['src/app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: SDKS, message: 'src/app talks to the outside only through ports; SDKs belong in adapters (DESIGN.md §8).' },
          { group: OUTER, message: 'src/app imports ports and core only; composition.ts wires adapters (DESIGN.md §8).' },
        ],
      }],
    },
  },
  {
    files: ['src/config/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: [...SDKS, ...OUTER], message: 'config is plain schema and parsing; no SDKs or adapters.' }],
      }],
    },
  },
);
