import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'dist/', '.tools/', '.shipgate/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must stay deterministic: no clocks, randomness or I/O outside Temporal's APIs.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'fetch'],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'Math.random is not deterministic',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'http', 'child_process'],
              message: 'workflow code does no I/O',
            },
            // Types are erased; only runtime imports of I/O modules would break determinism.
            {
              // Any depth: the state holders and steps live in src/workflows/<name>/.
              group: [
                '**/activities/*',
                '**/targets/*',
                '**/audit/*',
                '**/identity/sshsig*',
                '**/identity/verify*',
                '**/identity/oidc*',
                '**/identity/slack*',
              ],
              allowTypeImports: true,
              message: 'do I/O through activities',
            },
          ],
        },
      ],
    },
  },
);
