import type { Config } from 'jest'

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/packages'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', isolatedModules: true }]
  },
  // In-process tests run the TypeScript sources; examples and child processes use dist/.
  moduleNameMapper: {
    '^@xraykit/core/cls-hooked$': '<rootDir>/packages/core/src/cls-hooked.ts',
    '^@xraykit/core/logging$': '<rootDir>/packages/core/src/logging.ts',
    '^@xraykit/(core|express|koa|fastify|aws|sql|viewer)$': '<rootDir>/packages/$1/src/index.ts'
  },
  testTimeout: 30000
}

export default config
