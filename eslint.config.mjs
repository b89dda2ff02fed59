// `npm run lint`, and `npm test` before the suite. deploy.ts parses as it is: its `#!/bin/sh` line is a shebang to
// ESLint and its `':' //; ...` line is a directive plus a comment, so neither needs an exception here.
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/**', 'node_modules/**', 'templates/example-app/**', 'bench/results/**']),
  tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: {
      'max-len': ['error', {
        code: 140,
        ignoreStrings: true,
        ignoreTemplateLiterals: true,
        ignoreComments: true,
        ignoreUrls: true,
        ignoreRegExpLiterals: true,
      }],
    },
  },
  {
    // Tests, the harness and the benchmarks read JSON of their own making.
    files: ['test/**', 'harness/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // CommonJS files (the graceful package, a fixture app) load modules with require.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
