// Latch shim for the package's jest.config.js: as upstream, except that chalk and inquirer
// map to the published @logto/shared (the workspace's packages/shared is not built here).
/** @type {import('jest').Config} */
const config = {
  transform: {},
  testPathIgnorePatterns: ['/node_modules/'],
  coverageProvider: 'v8',
  setupFilesAfterEnv: ['jest-matcher-specific-error', './jest.setup.js', './jest.setup.api.js'],
  roots: ['./lib'],
  moduleNameMapper: {
    '^#src/(.*)\\.js(x)?$': '<rootDir>/lib/$1',
    '^(chalk|inquirer)$': '<rootDir>/../../node_modules/@logto/shared/lib/esm/module-proxy.js',
  },
};

export default config;
