// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** One linter for the whole repository: ESLint's and typescript-eslint's recommended rules. */
export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'coverage/**', 'web/dist/**', 'src/db/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['bench/**'],
    rules: { 'no-console': 'off' },
  },
)
