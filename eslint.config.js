// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * One linter for the whole repository: ESLint's and typescript-eslint's recommended rules, plus the
 * type-aware rules that catch what a chat server cannot afford: a promise nobody awaits (its
 * rejection crashes the process or vanishes), a promise handed to a callback that ignores it, and a
 * switch over a union that forgot a member.
 */
export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'coverage/**', 'web/dist/**', 'src/db/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        // The TypeScript project service: each file is linted with the types tsconfig.json gives it.
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
    },
  },
  {
    files: ['bench/**'],
    rules: { 'no-console': 'off' },
  },
)
