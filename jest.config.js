// Three projects: `unit` (pure code, and the property tests of test/fuzz in
// their short, fixed-seed form) and `integration` (the built `algd` with the
// in-memory driver, and the fault injection of test/reliability) run
// anywhere without privileges; `e2e` builds network namespaces, needs root
// (see test/lab) and runs in band.
// ts-jest only transpiles (isolatedModules in test/tsconfig.json);
// `npm run build` type-checks the tests.
/** @type {import('jest').Config} */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }] },
  moduleNameMapper: { '^@algd/sdk$': '<rootDir>/sdk/src/index.ts', '^@algd/sdk/(runtime|testing)$': '<rootDir>/sdk/src/$1/index.ts', '^@algd/plugin-([a-z]+)$': '<rootDir>/plugins/$1/src/index.ts' },
};
module.exports = {
  reporters: ['default', '<rootDir>/test/support/require-all-reporter.js'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/fuzz/**/*.test.ts'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/reliability/**/*.test.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
