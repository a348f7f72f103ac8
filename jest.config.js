/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/server/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  setupFiles: ['<rootDir>/server/test/support/setupEnv.ts'],
  // One Google Firestore emulator per run, started by the first test file that needs it.
  globalSetup: '<rootDir>/server/test/support/googleFirestoreEmulatorSetup.js',
  globalTeardown: '<rootDir>/server/test/support/googleFirestoreEmulatorTeardown.js',
  // Two cores: run two test files at a time; each file starts its own servers on port 0.
  maxWorkers: 2,
  testTimeout: 60000,
  reporters: ['default', ['<rootDir>/server/test/support/summaryReporter.js', {}]],
};
