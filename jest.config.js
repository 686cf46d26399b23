// Two projects: `unit` runs anywhere without privileges; `e2e` builds network
// namespaces and needs root (see test/lab). Both compile TypeScript with
// ts-jest in transpile-only mode; `npm run build` type-checks the tests.
/** @type {import('jest').Config} */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: 'test/tsconfig.json' }] },
  moduleNameMapper: { '^@algd/sdk$': '<rootDir>/sdk/src/index.ts' },
};
module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], maxWorkers: 1 },
  ],
};
