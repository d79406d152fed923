import type { Config } from 'jest'

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/packages'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', isolatedModules: true }],
    // the Lambda invoke store, as it is, but loading node:async_hooks in a way jest can serve
    '/@aws/lambda-invoke-store/dist-cjs/.+\\.js$': '<rootDir>/test/helpers/dynamic-import-as-require.cjs'
  },
  transformIgnorePatterns: ['/node_modules/(?!.*@aws/lambda-invoke-store/)'],
  // In-process tests run the TypeScript sources; examples and child processes use dist/.
  moduleNameMapper: {
    '^@xraykit/core/cls-hooked$': '<rootDir>/packages/core/src/cls-hooked.ts',
    '^@xraykit/core/logging$': '<rootDir>/packages/core/src/logging.ts',
    '^@xraykit/(core|express|koa|fastify|aws|sql|viewer)$': '<rootDir>/packages/$1/src/index.ts'
  },
  testTimeout: 30000
}

export default config
